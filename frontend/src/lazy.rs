//! Every page but the Greeter loads with the page: its code is a wasm chunk of its own,
//! fetched the first time the page is shown, so a visitor's first load is the shared code
//! and the Greeter (BENCHMARKS.md, "Pages as chunks").
//!
//! Each function below is a split point (`wasm_split_helpers`, the crate behind Leptos's
//! `#[lazy]`): in the wasm it is an import that `tools/split.mjs` links to the chunk holding
//! everything only that page reaches; calling it fetches and instantiates the chunk once,
//! then calls into it. Natively (the unit tests) it is a plain call. `#[lazy]` itself is not
//! used because its loader panics when a chunk cannot be fetched, and a panic aborts the
//! whole app; `fallible` makes that an error the page shows instead.

use futures_util::{FutureExt, future::LocalBoxFuture};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_split_helpers::{SplitLoaderError, wasm_split};

use crate::{
    pages::{ApiPage, BlogPage, ChatPage, FilesPage, InteropPage, PostPage, WeatherPage},
    route::Page,
};

type Loaded = Result<AnyView, SplitLoaderError>;

#[wasm_split(weather, fallible, preload(preload_weather))]
fn weather() -> Loaded {
    Ok(view! { <WeatherPage /> }.into_any())
}

#[wasm_split(chat, fallible, preload(preload_chat))]
fn chat() -> Loaded {
    Ok(view! { <ChatPage /> }.into_any())
}

#[wasm_split(files, fallible, preload(preload_files))]
fn files() -> Loaded {
    Ok(view! { <FilesPage /> }.into_any())
}

#[wasm_split(blog, fallible, preload(preload_blog))]
fn blog() -> Loaded {
    Ok(view! { <BlogPage /> }.into_any())
}

// The post shares its chunk with the blog's list: the two use the same client and views.
#[wasm_split(blog, fallible)]
fn post(id: String) -> Loaded {
    Ok(view! { <PostPage id /> }.into_any())
}

#[wasm_split(api, fallible, preload(preload_api))]
fn api() -> Loaded {
    Ok(view! { <ApiPage /> }.into_any())
}

#[wasm_split(interop, fallible, preload(preload_interop))]
fn interop() -> Loaded {
    Ok(view! { <InteropPage /> }.into_any())
}

// The Greeter's streaming modes, below its SayHello (which is in the main module, so a
// visitor's first call waits for nothing more).
#[wasm_split(greeter_streams, fallible)]
fn greeter_streams_chunk() -> Loaded {
    Ok(crate::pages::greeter_streams())
}

// Not a page: the call inspector's list, loaded when it is first opened.
#[wasm_split(inspector, fallible)]
fn inspector() -> Loaded {
    Ok(crate::inspector_panel::drawer())
}

#[wasm_split(status_details, fallible)]
fn decode_details(details: bytes::Bytes) -> Result<Vec<String>, SplitLoaderError> {
    let status = tonic::Status::with_details(tonic::Code::Unknown, "", details);
    Ok(proto::status::details(&status))
}

/// The lines for people of a failed call's `google.rpc` details (none when it has none):
/// `field count: must be between 1 and 100`.
pub async fn detail_lines(details: bytes::Bytes) -> Vec<String> {
    if details.is_empty() {
        return Vec::new();
    }
    decode_details(details)
        .await
        .unwrap_or_else(|error| vec![format!("(the details could not be shown: {error})")])
}

/// [`detail_lines`] as the items of a list, there as soon as they are decoded.
pub fn detail_items(details: bytes::Bytes) -> AnyView {
    Suspend::new(SendWrapper::new(async move {
        detail_lines(details)
            .await
            .into_iter()
            .map(|line| view! { <li>{line}</li> })
            .collect_view()
    }))
    .into_any()
}

/// A view that loads with its chunk: "Loading…" until the chunk is there (nothing shows
/// once it has loaded before), or what went wrong, with a way to try again. The load is
/// boxed: one copy of this for every split point, not one each.
fn show(load: LocalBoxFuture<'static, Loaded>) -> AnyView {
    let waiting = RwSignal::new(true);
    view! {
        <p class="muted" hidden=move || !waiting.get()>"Loading…"</p>
        // The loader's future is not `Send` (nor is anything in a browser's one thread).
        {Suspend::new(SendWrapper::new(async move {
            let page = load.await;
            waiting.set(false);
            page.unwrap_or_else(|error| {
                view! {
                    <div class="error" role="alert">
                        <p>{format!("This part of the app could not be loaded: {error}.")}</p>
                        <button on:click=|_| {
                            let _ = window().location().reload();
                        }>"Reload"</button>
                    </div>
                }
                .into_any()
            })
        }))}
    }
    .into_any()
}

pub fn weather_page() -> AnyView {
    show(weather().boxed_local())
}

pub fn chat_page() -> AnyView {
    show(chat().boxed_local())
}

pub fn files_page() -> AnyView {
    show(files().boxed_local())
}

pub fn blog_page() -> AnyView {
    show(blog().boxed_local())
}

pub fn post_page(id: String) -> AnyView {
    show(post(id).boxed_local())
}

pub fn api_page() -> AnyView {
    show(api().boxed_local())
}

pub fn interop_page() -> AnyView {
    show(interop().boxed_local())
}

pub fn inspector_drawer() -> AnyView {
    show(inspector().boxed_local())
}

pub fn greeter_streams() -> AnyView {
    show(greeter_streams_chunk().boxed_local())
}

/// Starts fetching a page's chunks when a visitor shows the intent to open it (a pointer on
/// its link, or the link focused), so the click finds them on their way or there. A failed
/// fetch is not shown here: the page's own load tries again and says so.
pub fn preload(page: &Page) {
    let load = match page {
        Page::Weather => preload_weather().boxed_local(),
        Page::Chat => preload_chat().boxed_local(),
        Page::Files => preload_files().boxed_local(),
        Page::Blog | Page::Post(_) => preload_blog().boxed_local(),
        Page::Api => preload_api().boxed_local(),
        Page::Interop => preload_interop().boxed_local(),
        Page::Greeter | Page::NotFound => return,
    };
    leptos::task::spawn_local(async move {
        let _ = load.await;
    });
}

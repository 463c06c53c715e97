//! The web app: a Leptos client-side app whose every call goes through the stubs generated
//! from `proto/`, over the page's grpc-ws socket (all four modes), or gRPC-Web
//! (tonic-web-wasm-client) when the socket cannot be had.

mod api;
mod components;
mod format;
mod gunzip;
mod inspector;
mod inspector_panel;

mod pages;
mod route;
mod storage;
mod task;
mod units;

use leptos::prelude::*;

use crate::{
    pages::{
        ApiPage, BlogPage, ChatPage, FilesPage, GreeterPage, InteropPage, NotFound, PostPage,
        WeatherPage,
    },
    route::{NavLink, Page},
};

#[component]
pub fn App() -> impl IntoView {
    units::provide_units();
    route::start();
    let page = route::page();
    view! {
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="logo" aria-hidden="true"></span>
                    "gRPC in the browser"
                </a>
                <nav>
                    <NavLink href="/" exact=true>"Greeter"</NavLink>
                    <NavLink href="/weather">"Weather"</NavLink>
                    <NavLink href="/chat">"Chat"</NavLink>
                    <NavLink href="/files">"Files"</NavLink>
                    <NavLink href="/blog">"Blog"</NavLink>
                    <NavLink href="/api">"API"</NavLink>
                    <NavLink href="/interop">"Interop"</NavLink>
                </nav>
            </header>
            <main class="container">
                // A page is made again only when another page is shown.
                {move || match page.get() {
                    Page::Greeter => view! { <GreeterPage /> }.into_any(),
                    Page::Weather => view! { <WeatherPage /> }.into_any(),
                    Page::Chat => view! { <ChatPage /> }.into_any(),
                    Page::Files => view! { <FilesPage /> }.into_any(),
                    Page::Blog => view! { <BlogPage /> }.into_any(),
                    Page::Post(id) => view! { <PostPage id /> }.into_any(),
                    Page::Api => view! { <ApiPage /> }.into_any(),
                    Page::Interop => view! { <InteropPage /> }.into_any(),
                    Page::NotFound => view! { <NotFound /> }.into_any(),
                }}
            </main>
            <inspector_panel::InspectorPanel />
            <footer class="footer">
                "Rust all the way: tonic + tonic-web on the server, Leptos and "
                "tonic-web-wasm-client in the browser, one .proto contract between them."
            </footer>
    }
}

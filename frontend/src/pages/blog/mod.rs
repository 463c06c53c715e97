//! The Blog pages: the post list (newest first, a page at a time) with a form to write a
//! draft, and a post's own page (`post.rs`): read it rendered, edit it, publish it, and
//! follow its comments live (`comments.rs`). Every call goes through the blog's generated
//! clients over gRPC-Web: `blog.v1.AuthorService`, `PostService`, `CommentService`.
//!
//! Writing needs the server's access token (saved on the page). The writer is an author of
//! the author service: the first post from this browser makes one with the name given, and
//! the browser remembers its id for the next.

mod comments;
mod post;

use leptos::{prelude::*, task::spawn_local};
use proto::blog::v1::{Author, CreateAuthorRequest, CreatePostRequest, ListPostsRequest, Post};

pub use post::PostPage;

use crate::{
    api::{self, CallError},
    components::{AccessToken, ErrorBanner, Spinner},
    storage,
};

/// Posts on one page of the list.
const PAGE_SIZE: i32 = 10;
const AUTHOR_ID_KEY: &str = "blog-author-id";
const AUTHOR_NAME_KEY: &str = "blog-author-name";

#[component]
pub fn BlogPage() -> impl IntoView {
    view! {
        <h1>"Blog"</h1>
        <p class="lead">
            "Three gRPC services that call each other: posts name their authors through the "
            "author service, comments check their post through the post service. The same "
            "methods are REST too, see the " <a href="/api">"API"</a> " page."
        </p>
        <AccessToken />
        <WriteForm />
        <PostList />
    }
}

#[component]
fn PostList() -> impl IntoView {
    let posts = RwSignal::new(Vec::<Post>::new());
    // The next page's token: None while a page loads, Some("") after the last.
    let next = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<CallError>);
    let load = move |page_token: String| {
        next.set(None);
        spawn_local(async move {
            let request = ListPostsRequest {
                page_size: PAGE_SIZE,
                page_token,
                ..Default::default()
            };
            match api::posts().list_posts(api::unary(request)).await {
                Ok(page) => {
                    let page = page.into_inner();
                    posts.update(|posts| posts.extend(page.posts));
                    next.set(Some(page.next_page_token));
                }
                Err(status) => {
                    error.set(Some(status.into()));
                    next.set(Some(String::new()));
                }
            }
        });
    };
    load(String::new());

    view! {
        <section class="card">
            <h2>"Posts"</h2>
            {move || error.get().map(|error| view! { <ErrorBanner error /> })}
            <ol id="post-list" class="post-list">
                <For each=move || posts.get() key=|post| post.id.clone() let(post)>
                    <PostLine post />
                </For>
            </ol>
            {move || match next.get() {
                None => view! { <Spinner label="loading posts…" /> }.into_any(),
                Some(token) if token.is_empty() => view! {
                    <p id="posts-end" class="muted small">
                        {move || if posts.read().is_empty() { "No posts yet." } else { "That is every post." }}
                    </p>
                }.into_any(),
                Some(token) => view! {
                    <button id="posts-more" type="button" class="secondary"
                        on:click=move |_| load(token.clone())>"Older posts"</button>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn PostLine(post: Post) -> impl IntoView {
    let draft = post.state() == proto::blog::v1::post::State::Draft;
    view! {
        <li class="post-line" data-id=post.id.clone()>
            <a href=format!("/blog/{}", post.id)>{post.title}</a>
            <Show when=move || draft><span class="badge">"draft"</span></Show>
            <span class="muted small">" by " {post.author_display_name}</span>
        </li>
    }
}

/// A new draft, by this browser's author (made on the first post).
#[component]
fn WriteForm() -> impl IntoView {
    let name = RwSignal::new(storage::get(AUTHOR_NAME_KEY).unwrap_or_default());
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let write = Action::new_local(|(name, title, body): &(String, String, String)| {
        let (name, title, body) = (name.trim().to_owned(), title.clone(), body.clone());
        async move {
            let author_id = author_for(&name).await?;
            let post = Post {
                author_id,
                title,
                body,
                ..Default::default()
            };
            api::posts()
                .create_post(api::unary(CreatePostRequest { post: Some(post) }))
                .await
                .map(tonic::Response::into_inner)
                .map_err(CallError::from)
        }
    });
    let (pending, outcome) = (write.pending(), write.value());
    Effect::new(move || {
        if let Some(Ok(post)) = outcome.get() {
            crate::route::navigate(&format!("/blog/{}", post.id));
        }
    });

    view! {
        <section class="card">
            <h2>"Write a post"</h2>
            <form class="stack" novalidate on:submit=move |event| {
                event.prevent_default();
                write.dispatch((name.get_untracked(), title.get_untracked(), body.get_untracked()));
            }>
                <label class="field">
                    <span>"Your name"</span>
                    <input id="write-author" type="text" maxlength="80" bind:value=name />
                </label>
                <label class="field">
                    <span>"Title"</span>
                    <input id="write-title" type="text" maxlength="200" bind:value=title />
                </label>
                <label class="field">
                    <span>"Text (Markdown)"</span>
                    <textarea id="write-body" rows="6" bind:value=body></textarea>
                </label>
                <button id="write-save" type="submit" disabled=move || pending.get()>"Save draft"</button>
            </form>
            <div id="write-result" aria-live="polite">
                {move || match outcome.get() {
                    Some(Err(error)) => Some(view! { <ErrorBanner error /> }),
                    _ => None,
                }}
            </div>
        </section>
    }
}

/// The id of this browser's author named `name`: the remembered one if the name is the
/// same, else a new author (remembered for next time).
async fn author_for(name: &str) -> Result<String, CallError> {
    if storage::get(AUTHOR_NAME_KEY).as_deref() == Some(name)
        && let Some(id) = storage::get(AUTHOR_ID_KEY)
    {
        return Ok(id);
    }
    let author = api::authors()
        .create_author(api::unary(CreateAuthorRequest {
            author: Some(Author {
                display_name: name.to_owned(),
                ..Default::default()
            }),
        }))
        .await?
        .into_inner();
    storage::set(AUTHOR_NAME_KEY, &author.display_name);
    storage::set(AUTHOR_ID_KEY, &author.id);
    Ok(author.id)
}

/// A proto time as the page shows it: `2026-12-01 16:45 UTC`.
pub fn shown_time(time: Option<&prost_types::Timestamp>) -> String {
    let Some(time) = time else {
        return String::new();
    };
    let millis = time.seconds as f64 * 1000.0;
    let iso: String = js_sys::Date::new(&millis.into()).to_iso_string().into();
    format!(
        "{} UTC",
        iso.get(..16).unwrap_or_default().replace('T', " ")
    )
}

//! One post's page (`/blog/:id`): the post as the server rendered its Markdown
//! (`body_html`, with nothing in it that could run: `server/src/blog/markdown.rs`),
//! publishing a draft, editing title and text, and its comments live.
//!
//! Edits are optimistic: the page sends back the post's `etag` as it was when loaded, and
//! the server refuses the edit with ABORTED if someone else changed the post since. The page
//! says so, keeps what was typed, and offers the other version.

use leptos::{prelude::*, task::spawn_local};
use proto::blog::v1::{GetPostRequest, Post, PublishPostRequest, UpdatePostRequest, post};

use super::{comments::Comments, shown_time};
use crate::{
    api::{self, CallError},
    components::{AccessToken, ErrorBanner, Spinner},
};

/// The post `id` (from the path): another id is a new page, and a new comment stream.
#[component]
pub fn PostPage(id: String) -> impl IntoView {
    view! {
        <p><a href="/blog">"← All posts"</a></p>
        <PostView id />
    }
}

#[component]
fn PostView(id: String) -> impl IntoView {
    let post = RwSignal::new(None::<Post>);
    let error = RwSignal::new(None::<CallError>);
    let load = {
        let id = id.clone();
        move || {
            let id = id.clone();
            spawn_local(async move {
                match api::posts()
                    .get_post(api::unary(GetPostRequest { id }))
                    .await
                {
                    Ok(found) => {
                        post.set(Some(found.into_inner()));
                        error.set(None);
                    }
                    Err(status) => error.set(Some(status.into())),
                }
            });
        }
    };
    load();

    view! {
        {move || error.get().map(|error| view! { <ErrorBanner error /> })}
        {move || match post.get() {
            None if error.read().is_none() => Some(view! { <Spinner label="loading the post…" /> }.into_any()),
            None => None,
            Some(shown) => Some(view! { <Article shown post /> }.into_any()),
        }}
        <Show when=move || post.read().is_some()>
            <AccessToken />
            <Editor post />
        </Show>
        <Comments post_id=id.clone() />
    }
}

#[component]
fn Article(shown: Post, post: RwSignal<Option<Post>>) -> impl IntoView {
    let draft = shown.state() == post::State::Draft;
    let html = shown.body_html.clone();
    let publish = Action::new_local(|(id, etag): &(String, String)| {
        let request = PublishPostRequest {
            id: id.clone(),
            etag: etag.clone(),
        };
        async move {
            api::posts()
                .publish_post(api::unary(request))
                .await
                .map(tonic::Response::into_inner)
                .map_err(CallError::from)
        }
    });
    let outcome = publish.value();
    Effect::new(move || {
        if let Some(Ok(published)) = outcome.get() {
            post.set(Some(published));
        }
    });
    let (id, etag) = (shown.id.clone(), shown.etag.clone());

    view! {
        <article class="card post">
            <h1 id="post-title">{shown.title}</h1>
            <p class="muted small">
                "by " <span id="post-author">{shown.author_display_name}</span> " · "
                <span id="post-state">{if draft { "draft" } else { "published" }}</span> " · "
                {shown_time(shown.publish_time.as_ref().or(shown.create_time.as_ref()))}
            </p>
            <div id="post-body" class="markdown" inner_html=html></div>
            <Show when=move || draft>
                <button id="post-publish" type="button"
                    on:click={
                        let (id, etag) = (id.clone(), etag.clone());
                        move |_| { publish.dispatch((id.clone(), etag.clone())); }
                    }>"Publish"</button>
            </Show>
            {move || match outcome.get() {
                Some(Err(error)) => Some(view! { <ErrorBanner error /> }),
                _ => None,
            }}
        </article>
    }
}

/// Title and text of the post as loaded, edited and saved with its etag.
#[component]
fn Editor(post: RwSignal<Option<Post>>) -> impl IntoView {
    let open = RwSignal::new(false);
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    // The version the edit is based on: its etag goes with the save.
    let base = RwSignal::new(None::<Post>);
    let conflict = RwSignal::new(false);
    let start = move || {
        let current = post.get_untracked();
        if let Some(current) = &current {
            title.set(current.title.clone());
            body.set(current.body.clone());
        }
        base.set(current);
        conflict.set(false);
        open.set(true);
    };
    let save = Action::new_local(|edited: &Post| {
        let request = UpdatePostRequest {
            post: Some(edited.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into(), "body".into()],
            }),
        };
        async move {
            api::posts()
                .update_post(api::unary(request))
                .await
                .map(tonic::Response::into_inner)
                .map_err(CallError::from)
        }
    });
    let (pending, outcome) = (save.pending(), save.value());
    Effect::new(move || match outcome.get() {
        Some(Ok(saved)) => {
            open.set(false);
            post.set(Some(saved));
        }
        Some(Err(error)) if error.code == tonic::Code::Aborted => conflict.set(true),
        _ => {}
    });
    // Shows the other version (the page's post reloads), keeping what was typed here.
    let take_theirs = move || {
        let Some(id) = base.get_untracked().map(|post| post.id) else {
            return;
        };
        spawn_local(async move {
            if let Ok(latest) = api::posts()
                .get_post(api::unary(GetPostRequest { id }))
                .await
            {
                let latest = latest.into_inner();
                base.set(Some(latest.clone()));
                conflict.set(false);
                post.set(Some(latest));
            }
        });
    };

    view! {
        <section class="card">
            <Show when=move || !open.get() fallback=move || view! {
                <form class="stack" novalidate on:submit=move |event| {
                    event.prevent_default();
                    let Some(base) = base.get_untracked() else { return };
                    save.dispatch(Post {
                        id: base.id,
                        etag: base.etag,
                        title: title.get_untracked(),
                        body: body.get_untracked(),
                        ..Default::default()
                    });
                }>
                    <h2>"Edit"</h2>
                    <label class="field">
                        <span>"Title"</span>
                        <input id="edit-title" type="text" maxlength="200" bind:value=title />
                    </label>
                    <label class="field">
                        <span>"Text (Markdown)"</span>
                        <textarea id="edit-body" rows="8" bind:value=body></textarea>
                    </label>
                    <div class="row">
                        <button id="edit-save" type="submit" disabled=move || pending.get()>"Save"</button>
                        <button id="edit-cancel" type="button" class="secondary"
                            on:click=move |_| open.set(false)>"Cancel"</button>
                    </div>
                    <Show when=move || conflict.get()>
                        <div id="edit-conflict" class="error" role="alert">
                            <span class="error-code">"ABORTED"</span>
                            <span class="error-message">
                                "Someone else changed this post after you opened it, so your edit "
                                "was not saved. Your text is still here: look at their version "
                                "above, then save again to replace it."
                            </span>
                            <button id="edit-theirs" type="button" class="secondary"
                                on:click=move |_| take_theirs()>"Show their version"</button>
                        </div>
                    </Show>
                    {move || match outcome.get() {
                        Some(Err(error)) if error.code != tonic::Code::Aborted =>
                            Some(view! { <ErrorBanner error /> }),
                        _ => None,
                    }}
                </form>
            }>
                <button id="post-edit" type="button" class="secondary" on:click=move |_| start()>"Edit"</button>
            </Show>
        </section>
    }
}

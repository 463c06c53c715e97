//! A post's comments: what is there and each new one as it is added, over one server stream
//! (`CommentService.WatchComments`), so comments from other readers appear without a
//! reload. A broken stream resumes after the last comment shown; adding one is a unary call,
//! and the new comment comes back through the stream like everyone else's.

use leptos::prelude::*;
use proto::blog::v1::{AddCommentRequest, Comment, WatchCommentsRequest};

use super::shown_time;
use crate::{
    api::{self, CallError},
    components::{ErrorBanner, Spinner},
    storage,
    task::Task,
};

const AUTHOR_KEY: &str = "blog-comment-author";

#[derive(Debug, Clone, PartialEq)]
enum Connection {
    Connecting,
    Live,
    Failed(CallError),
}

#[component]
pub fn Comments(post_id: String) -> impl IntoView {
    let post_id = StoredValue::new(post_id);
    let comments = RwSignal::new(Vec::<Comment>::new());
    let connection = RwSignal::new(Connection::Connecting);
    let task = Task::new();
    let connect = move || {
        connection.set(Connection::Connecting);
        let request = WatchCommentsRequest {
            post_id: post_id.get_value(),
            after_id: comments.with_untracked(|comments| comments.last().map_or(0, |c| c.id)),
        };
        task.start(async move {
            let watch = async move {
                let mut stream = api::comments().watch_comments(request).await?.into_inner();
                connection.set(Connection::Live);
                while let Some(comment) = stream.message().await? {
                    comments.update(|comments| comments.push(comment));
                }
                Err::<(), _>(tonic::Status::unavailable(
                    "the server ended the comments' stream",
                ))
            };
            if let Err(status) = watch.await {
                connection.set(Connection::Failed(status.into()));
            }
        });
    };
    connect();

    view! {
        <section class="card comments">
            <div class="chat-head">
                <h2>"Comments"</h2>
                <span id="comments-status" class="status">
                    {move || match connection.get() {
                        Connection::Connecting => view! { <Spinner label="connecting…" /> }.into_any(),
                        Connection::Live => view! {
                            <span class="dot on" aria-hidden="true"></span><span>"live"</span>
                        }.into_any(),
                        Connection::Failed(_) => view! {
                            <button id="comments-reconnect" type="button" class="secondary"
                                on:click=move |_| connect()>"Reconnect"</button>
                        }.into_any(),
                    }}
                </span>
            </div>
            {move || match connection.get() {
                Connection::Failed(error) => Some(view! { <ErrorBanner error /> }),
                _ => None,
            }}
            <ol id="comment-list" class="messages" aria-live="polite">
                <For each=move || comments.get() key=|comment| comment.id let(comment)>
                    <li class="comment" data-id=comment.id>
                        <time class="muted small">{shown_time(comment.create_time.as_ref())}</time>
                        <span class="author">{comment.author}</span>
                        <span class="text">{comment.text}</span>
                    </li>
                </For>
            </ol>
            <Show when=move || comments.read().is_empty() && connection.get() == Connection::Live>
                <p class="muted">"No comments yet."</p>
            </Show>
            <CommentForm post_id=post_id.get_value() />
        </section>
    }
}

#[component]
fn CommentForm(post_id: String) -> impl IntoView {
    let post_id = StoredValue::new(post_id);
    let author = RwSignal::new(storage::get(AUTHOR_KEY).unwrap_or_default());
    let text = RwSignal::new(String::new());
    let add = Action::new_local(|request: &AddCommentRequest| {
        let request = request.clone();
        async move {
            api::comments()
                .add_comment(api::unary(request))
                .await
                .map(tonic::Response::into_inner)
                .map_err(CallError::from)
        }
    });
    let (pending, outcome) = (add.pending(), add.value());
    Effect::new(move || {
        if matches!(outcome.get(), Some(Ok(_))) {
            text.set(String::new());
        }
    });

    view! {
        <form class="row post-form" novalidate on:submit=move |event| {
            event.prevent_default();
            let author = author.get_untracked();
            storage::set(AUTHOR_KEY, author.trim());
            add.dispatch(AddCommentRequest {
                post_id: post_id.get_value(),
                comment: Some(Comment {
                    author,
                    text: text.get_untracked(),
                    ..Default::default()
                }),
            });
        }>
            <label class="field narrow-wide">
                <span>"Your name"</span>
                <input id="comment-author" type="text" maxlength="40" bind:value=author />
            </label>
            <label class="field grow">
                <span>"Comment"</span>
                <input id="comment-text" type="text" autocomplete="off" bind:value=text />
            </label>
            <button id="comment-send" type="submit" disabled=move || pending.get()>"Comment"</button>
        </form>
        <div id="comment-result" aria-live="polite">
            {move || match outcome.get() {
                Some(Err(error)) => Some(view! { <ErrorBanner error /> }),
                _ => None,
            }}
        </div>
    }
}

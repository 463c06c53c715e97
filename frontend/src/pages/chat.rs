//! The Chat page: a room's messages arrive over a server stream (Subscribe), and posting is
//! a unary call (Post). Those two are all a browser chat needs over gRPC-Web; the bidi Join
//! is for native clients. The room lives in the URL (`?room=lobby`).
//!
//! Posting changes state, so a server started with a token refuses it without one: the
//! access token saved here is added to every call by the page's interceptor.
//!
//! Messages are kept by the server, so the room shows its history after a restart, and
//! "Reconnect" resumes with the id of the last message shown (`after_id`).

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use proto::chat::v1::{ChatMessage, PostRequest, SubscribeRequest, chat_event};

use crate::{
    api::{self, CallError},
    components::{AccessToken, ErrorBanner, Spinner},
    format, storage,
    task::Task,
};

const DEFAULT_ROOM: &str = "lobby";
/// Past messages shown on entering a room.
const HISTORY: u32 = 50;
const AUTHOR_KEY: &str = "chat-author";

#[component]
pub fn ChatPage() -> impl IntoView {
    let query = use_query_map();
    let room = Memo::new(move |_| {
        query
            .read()
            .get("room")
            .filter(|room| !room.is_empty())
            .unwrap_or_else(|| DEFAULT_ROOM.to_owned())
    });

    view! {
        <h1>"Chat"</h1>
        <p class="lead">
            "The seeds' chat room. Messages arrive over a server stream; posting is a unary "
            "call that needs the server's access token when it has one."
        </p>
        <AccessToken />
        <RoomPicker room />
        // Keyed by the room: a new room is a new subscription.
        {move || view! { <Room room=room.get() /> }}
        <JoinFromCli room />
    }
}

#[component]
fn RoomPicker(room: Memo<String>) -> impl IntoView {
    let text = RwSignal::new(room.get_untracked());
    // Follows the URL when it changes (back and forward buttons).
    Effect::new(move || text.set(room.get()));
    let navigate = use_navigate();

    view! {
        <form class="row room-picker" on:submit=move |event| {
            event.prevent_default();
            let room = text.get_untracked().trim().to_owned();
            navigate(&format!("/chat?room={}", js_sys::encode_uri_component(&room)), Default::default());
        }>
            <label class="field grow">
                <span>"Room"</span>
                <input id="room-input" type="text" autocomplete="off" bind:value=text />
            </label>
            <button id="room-go" type="submit" class="secondary">"Enter"</button>
        </form>
    }
}

/// How the room's stream is doing.
#[derive(Debug, Clone, PartialEq)]
enum Connection {
    Connecting,
    Connected,
    Failed(CallError),
}

/// One line of the room as shown: a message, or a note that some were skipped.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    Message(ChatMessage),
    Skipped(u64),
}

#[component]
fn Room(room: String) -> impl IntoView {
    let room = StoredValue::new(room);
    let lines = RwSignal::new(Vec::<Line>::new());
    let connection = RwSignal::new(Connection::Connecting);
    let task = Task::new();

    // A reconnect resumes after the last message shown (the server sends exactly what was
    // missed, from this replica or another); the first connect starts with the history.
    let connect = move || {
        connection.set(Connection::Connecting);
        let after_id = lines.with_untracked(|lines| {
            lines.iter().rev().find_map(|line| match line {
                Line::Message(message) => Some(message.id),
                Line::Skipped(_) => None,
            })
        });
        let request = SubscribeRequest {
            room: room.get_value(),
            history: HISTORY,
            after_id,
        };
        task.start(async move {
            let subscription = async move {
                let mut events = api::chat().subscribe(request).await?.into_inner();
                connection.set(Connection::Connected);
                while let Some(event) = events.message().await? {
                    let line = match event.event {
                        Some(chat_event::Event::Message(message)) => Line::Message(message),
                        Some(chat_event::Event::Skipped(count)) => Line::Skipped(count),
                        None => continue,
                    };
                    lines.update(|lines| lines.push(line));
                }
                Err::<(), _>(tonic::Status::unavailable(
                    "the server ended the room's stream",
                ))
            };
            if let Err(status) = subscription.await {
                connection.set(Connection::Failed(status.into()));
            }
        });
    };
    connect();

    view! {
        <section class="card chat">
            <div class="chat-head">
                <h2>"#" {room.get_value()}</h2>
                <span id="room-status" class="status">
                    {move || match connection.get() {
                        Connection::Connecting => view! { <Spinner label="connecting…" /> }.into_any(),
                        Connection::Connected => view! {
                            <span class="dot on" aria-hidden="true"></span>
                            <span>"connected"</span>
                        }.into_any(),
                        Connection::Failed(_) => view! {
                            <button id="room-reconnect" type="button" class="secondary"
                                on:click=move |_| connect()>"Reconnect"</button>
                        }.into_any(),
                    }}
                </span>
            </div>
            {move || match connection.get() {
                Connection::Failed(error) => Some(view! { <ErrorBanner error /> }),
                _ => None,
            }}
            <ol id="chat-messages" class="messages" aria-live="polite">
                <For each=move || lines.get().into_iter().enumerate() key=|(index, _)| *index let((_, line))>
                    {match line {
                        Line::Message(message) => view! { <MessageLine message /> }.into_any(),
                        Line::Skipped(count) => view! {
                            <li class="skipped muted">
                                {format!("{count} messages skipped: this page fell behind")}
                            </li>
                        }.into_any(),
                    }}
                </For>
            </ol>
            <Show when=move || lines.read().is_empty() && connection.get() == Connection::Connected>
                <p class="muted empty-room">"No messages yet. Say something!"</p>
            </Show>
            <PostForm room=room.get_value() />
        </section>
    }
}

#[component]
fn MessageLine(message: ChatMessage) -> impl IntoView {
    let posted = message.posted_at.map_or(0, |t| t.seconds);
    view! {
        <li class="message" data-id=message.id>
            <time class="muted small">{format::clock(posted, browser_utc_offset())}</time>
            <span class="author">{message.author}</span>
            <span class="text">{message.text}</span>
        </li>
    }
}

/// The browser's UTC offset now, in seconds east of UTC.
fn browser_utc_offset() -> i32 {
    // getTimezoneOffset is in minutes *west* of UTC.
    (-js_sys::Date::new_0().get_timezone_offset() * 60.0) as i32
}

#[component]
fn PostForm(room: String) -> impl IntoView {
    let room = StoredValue::new(room);
    let author = RwSignal::new(storage::get(AUTHOR_KEY).unwrap_or_default());
    let text = RwSignal::new(String::new());
    let post = Action::new_local(|request: &PostRequest| {
        let request = request.clone();
        async move {
            api::chat()
                .post(api::unary(request))
                .await
                .map(tonic::Response::into_inner)
                .map_err(CallError::from)
        }
    });
    let (pending, outcome) = (post.pending(), post.value());
    // Posted: the message comes back through the room's stream; clear the box for the next.
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
            post.dispatch(PostRequest {
                room: room.get_value(),
                author,
                text: text.get_untracked(),
            });
        }>
            <label class="field narrow-wide">
                <span>"Your name"</span>
                <input id="chat-author" type="text" autocomplete="nickname" maxlength="40"
                    placeholder="anonymous" bind:value=author />
            </label>
            <label class="field grow">
                <span>"Message"</span>
                <input id="chat-text" type="text" autocomplete="off" bind:value=text />
            </label>
            <button id="chat-send" type="submit" disabled=move || pending.get()>"Send"</button>
        </form>
        <div id="post-result" aria-live="polite">
            {move || match outcome.get() {
                Some(Err(error)) => {
                    let needs_token = matches!(
                        error.code,
                        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
                    );
                    Some(view! {
                        <ErrorBanner error />
                        <Show when=move || needs_token>
                            <p class="muted small">"Save the server's access token above, then send again."</p>
                        </Show>
                    })
                }
                _ => None,
            }}
        </div>
    }
}

/// The bidi form of the chat, which a browser cannot do over gRPC-Web.
#[component]
fn JoinFromCli(room: Memo<String>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Join " <span class="badge">"bidirectional"</span></h2>
            <p>
                "The same room as one bidirectional stream, each line you type posted and the "
                "room's messages printed as they come, is " <code>"chat.v1.ChatService/Join"</code>
                ". A browser cannot stream a request body over gRPC-Web, so this page uses "
                "Subscribe and Post instead; the native client joins for real:"
            </p>
            <pre class="command"><code>
                {move || format!("CLIENT_TOKEN=… cargo run -p cli -- chat join {} --author you", room.get())}
            </code></pre>
        </section>
    }
}

//! The Chat page: the room is one bidirectional Join call over the page's grpc-ws socket
//! (history, live messages and posting on one stream). Where Join cannot be had (the
//! socket is off or blocked, or the server wants a token for posting and none is saved)
//! the page reads over Subscribe and posts with Post, as a gRPC-Web page must. The room
//! lives in the URL (`?room=lobby`).
//!
//! Posting changes state, so a server started with a token refuses it without one: the
//! access token saved here is added to every call by the page's interceptor.
//!
//! Messages are kept by the server, so the room shows its history after a restart, and
//! "Reconnect" resumes with the id of the last message shown (`after_id`).

use leptos::prelude::*;
use proto::chat::v1::{
    ChatEvent, ChatMessage, JoinRequest, JoinRoom, PostRequest, SubscribeRequest, chat_event,
    join_request,
};

use crate::{
    api::{self, CallError},
    components::{AccessToken, ErrorBanner, RefusedBanner, Spinner},
    format, storage,
    task::Task,
};

const DEFAULT_ROOM: &str = "lobby";
/// Past messages shown on entering a room.
const HISTORY: u32 = 50;
const AUTHOR_KEY: &str = "chat-author";

#[component]
pub fn ChatPage() -> impl IntoView {
    let query = crate::route::query("room");
    let room = Memo::new(move |_| {
        query
            .get()
            .filter(|room| !room.is_empty())
            .unwrap_or_else(|| DEFAULT_ROOM.to_owned())
    });

    view! {
        <h1>"Chat"</h1>
        <p class="lead">
            "The seeds' chat room, joined with one bidirectional call: history, live "
            "messages and your posts on one stream. Posting needs the server's access token "
            "when it has one."
        </p>
        <AccessToken />
        <RoomPicker room />
        // Keyed by the room: a new room is a new subscription.
        {move || view! { <Room room=room.get() /> }}
    }
}

#[component]
fn RoomPicker(room: Memo<String>) -> impl IntoView {
    let text = RwSignal::new(room.get_untracked());
    // Follows the URL when it changes (back and forward buttons).
    Effect::new(move || text.set(room.get()));

    view! {
        <form class="row room-picker" on:submit=move |event| {
            event.prevent_default();
            let room = text.get_untracked().trim().to_owned();
            crate::route::navigate(&format!("/chat?room={}", js_sys::encode_uri_component(&room)));
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

/// How the page is in the room.
#[derive(Debug, Clone, PartialEq)]
enum Way {
    /// One Join call: history, live messages and posting on one stream (grpc-ws).
    Joined,
    /// Reading over Subscribe, posting with Post: when the socket is off or cannot be
    /// opened, or the server refused Join (it needs the token; reading does not). Why.
    Subscribed(String),
}

/// One line of the room as shown: a message, or a note that some were skipped.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    Message(ChatMessage),
    Skipped(u64),
}

/// What a Join refusal at the start means: read over Subscribe instead, and why.
fn join_refused(status: &tonic::Status) -> Option<String> {
    match status.code() {
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => Some(format!(
            "Reading only: joining posts, which needs the server's access token ({}).",
            status.message()
        )),
        tonic::Code::Unavailable if status.message().contains("cannot be made") => Some(
            "Over gRPC-Web: reading with Subscribe, posting with Post (the socket is not there)."
                .to_owned(),
        ),
        _ => None,
    }
}

#[component]
fn Room(room: String) -> impl IntoView {
    let room = StoredValue::new(room);
    let lines = RwSignal::new(Vec::<Line>::new());
    let connection = RwSignal::new(Connection::Connecting);
    let way = RwSignal::new(Way::Joined);
    let author = RwSignal::new(storage::get(AUTHOR_KEY).unwrap_or_default());
    let text = RwSignal::new(String::new());
    let post_error = RwSignal::new(None::<CallError>);
    // The open Join's request stream, and the author it joined as.
    let joined =
        StoredValue::new(None::<(futures_channel::mpsc::UnboundedSender<JoinRequest>, String)>);
    // Texts sent on the open Join and not yet back from the room: restored if refused.
    let in_flight = StoredValue::new(Vec::<String>::new());
    let task = Task::new();

    let last_id = move || {
        lines.with_untracked(|lines| {
            lines.iter().rev().find_map(|line| match line {
                Line::Message(message) => Some(message.id),
                Line::Skipped(_) => None,
            })
        })
    };
    let show = move |event: ChatEvent| {
        let line = match event.event {
            Some(chat_event::Event::Message(message)) => {
                in_flight.update_value(|texts| {
                    if let Some(at) = texts.iter().position(|text| *text == message.text) {
                        texts.remove(at);
                    }
                });
                Line::Message(message)
            }
            Some(chat_event::Event::Skipped(count)) => Line::Skipped(count),
            None => return,
        };
        lines.update(|lines| lines.push(line));
    };

    // Over Subscribe (read only; posts go as Post calls), resuming after the last message.
    let subscribe = move |why: String| {
        joined.set_value(None);
        way.set(Way::Subscribed(why));
        let request = SubscribeRequest {
            room: room.get_value(),
            history: HISTORY,
            after_id: last_id(),
        };
        async move {
            let mut events = api::chat().subscribe(request).await?.into_inner();
            connection.set(Connection::Connected);
            while let Some(event) = events.message().await? {
                show(event);
            }
            Err::<(), _>(tonic::Status::unavailable(
                "the server ended the room's stream",
            ))
        }
    };

    // One Join call, resuming after the last message shown; `first` are texts to post once
    // in. Refused at the start for want of the token or the socket: Subscribe instead.
    let join = move |first: Vec<String>| {
        connection.set(Connection::Connecting);
        let (requests, stream) = futures_channel::mpsc::unbounded();
        let as_author = author.get_untracked().trim().to_owned();
        let _ = requests.unbounded_send(JoinRequest {
            action: Some(join_request::Action::Join(JoinRoom {
                room: room.get_value(),
                author: as_author.clone(),
                history: HISTORY,
                after_id: last_id(),
            })),
        });
        for text in &first {
            let _ = requests.unbounded_send(JoinRequest {
                action: Some(join_request::Action::Text(text.clone())),
            });
        }
        in_flight.set_value(first);
        task.start(async move {
            let events = match api::chat().join(stream).await {
                Ok(events) => events,
                Err(status) => {
                    // The texts were not posted: back in the box, with the reason.
                    let unsent = in_flight.with_value(|texts| texts.join(" "));
                    in_flight.set_value(Vec::new());
                    if !unsent.is_empty() {
                        text.set(unsent);
                        post_error.set(Some(status.clone().into()));
                    }
                    let result = match join_refused(&status) {
                        Some(why) => subscribe(why).await,
                        None => Err(status),
                    };
                    if let Err(status) = result {
                        connection.set(Connection::Failed(status.into()));
                    }
                    return;
                }
            };
            joined.set_value(Some((requests, as_author)));
            way.set(Way::Joined);
            connection.set(Connection::Connected);
            let mut events = events.into_inner();
            let ended = loop {
                match events.message().await {
                    Ok(Some(event)) => show(event),
                    Ok(None) => {
                        break tonic::Status::unavailable("the server ended the room's stream");
                    }
                    Err(status) => break status,
                }
            };
            joined.set_value(None);
            // A text the room refused ends the call: say so by the box, give the text back,
            // and join again, so the room goes on.
            let refused_text = matches!(
                ended.code(),
                tonic::Code::InvalidArgument | tonic::Code::ResourceExhausted
            ) && in_flight.with_value(|texts| !texts.is_empty());
            if refused_text {
                let unsent = in_flight.with_value(|texts| texts.join(" "));
                in_flight.set_value(Vec::new());
                if text.with_untracked(String::is_empty) {
                    text.set(unsent);
                }
                post_error.set(Some(ended.into()));
                connection.set(Connection::Connecting);
                let rejoin = async move {
                    let mut again = api::chat()
                        .join(futures_util::stream::iter([JoinRequest {
                            action: Some(join_request::Action::Join(JoinRoom {
                                room: room.get_value(),
                                author: author.get_untracked().trim().to_owned(),
                                history: HISTORY,
                                after_id: last_id(),
                            })),
                        }]))
                        .await?
                        .into_inner();
                    // Read-only until the next text: that one joins anew.
                    connection.set(Connection::Connected);
                    way.set(Way::Subscribed(String::new()));
                    while let Some(event) = again.message().await? {
                        show(event);
                    }
                    Ok::<(), tonic::Status>(())
                };
                if let Err(status) = rejoin.await {
                    connection.set(Connection::Failed(status.into()));
                }
            } else {
                connection.set(Connection::Failed(ended.into()));
            }
        });
    };

    let connect = move || {
        if api::transport_setting::load() == api::transport_setting::FETCH {
            connection.set(Connection::Connecting);
            task.start(async move {
                let why = "Over gRPC-Web (the socket is switched off in Calls): reading with \
                           Subscribe, posting with Post."
                    .to_owned();
                if let Err(status) = subscribe(why).await {
                    connection.set(Connection::Failed(status.into()));
                }
            });
        } else {
            join(Vec::new());
        }
    };
    connect();
    // The open Join carries the token it was made with: a new token (or none) joins anew.
    let token_changes = RwSignal::from(api::access_token::changes());
    let seen = StoredValue::new(token_changes.get_untracked());
    Effect::new(move || {
        let now = token_changes.get();
        if now != seen.get_value() {
            seen.set_value(now);
            if joined.with_value(Option::is_some) {
                join(Vec::new());
            }
        }
    });

    // Posting: on the open Join; as Post when reading over Subscribe without a token or a
    // socket; otherwise a new Join (a new name, a token saved since) that posts it.
    let post = Action::new_local(|request: &PostRequest| {
        let request = request.clone();
        async move {
            api::chat()
                .post(api::unary(request))
                .await
                .map(|_| ())
                .map_err(CallError::from)
        }
    });
    Effect::new(move || {
        if let Some(outcome) = post.value().get() {
            match outcome {
                Ok(()) => text.set(String::new()),
                Err(error) => post_error.set(Some(error)),
            }
        }
    });
    let send = move || {
        let (name, message) = (
            author.get_untracked().trim().to_owned(),
            text.get_untracked(),
        );
        storage::set(AUTHOR_KEY, &name);
        post_error.set(None);
        let on_join = joined.with_value(|joined| {
            joined
                .as_ref()
                .filter(|(_, as_author)| *as_author == name)
                .map(|(requests, _)| requests.clone())
        });
        if let Some(requests) = on_join {
            in_flight.update_value(|texts| texts.push(message.clone()));
            let _ = requests.unbounded_send(JoinRequest {
                action: Some(join_request::Action::Text(message)),
            });
            text.set(String::new());
            return;
        }
        let socket_on = api::transport_setting::load() != api::transport_setting::FETCH;
        let can_join = socket_on
            && match way.get_untracked() {
                Way::Joined => true,
                Way::Subscribed(why) => why.is_empty() || api::access_token::load().is_some(),
            };
        if can_join {
            text.set(String::new());
            join(vec![message]);
        } else {
            post.dispatch(PostRequest {
                room: room.get_value(),
                author: name,
                text: message,
            });
        }
    };

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
            <p id="room-way" class="muted small">
                {move || match way.get() {
                    Way::Joined => "Joined: one bidirectional Join call carries the history, \
                        the live messages and your posts, over this page's WebSocket.".to_owned(),
                    Way::Subscribed(why) if why.is_empty() => "Reading: your next message joins again.".to_owned(),
                    Way::Subscribed(why) => why,
                }}
            </p>
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
            <PostForm author text post_error pending=post.pending() send />
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
fn PostForm(
    author: RwSignal<String>,
    text: RwSignal<String>,
    post_error: RwSignal<Option<CallError>>,
    pending: Memo<bool>,
    send: impl Fn() + Copy + 'static,
) -> impl IntoView {
    view! {
        <form class="row post-form" novalidate on:submit=move |event| {
            event.prevent_default();
            send();
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
            {move || post_error.get().map(|error| view! { <RefusedBanner error then="send again" /> })}
        </div>
    }
}

//! The Greeter page: the seeds' four methods, one per call mode, through the one generated
//! client over the page's grpc-ws socket: SayHello (unary), SayHelloStream (server
//! streaming, stoppable), SayHelloToAll (client streaming, a name at a time) and Converse
//! (bidi, each answer before the next name).

use leptos::prelude::*;
use proto::greeter::{HelloRequest, HelloStreamRequest};
use tonic::metadata::MetadataValue;

use crate::{
    api::{self, CallError},
    components::{ErrorBanner, Spinner},
    task::Task,
};

#[component]
pub fn GreeterPage() -> impl IntoView {
    view! {
        <h1>"Greeter"</h1>
        <p class="lead">
            "The seeds' first service, in all four call modes, called from this page through "
            "the client generated from " <code>"proto/greeter.proto"</code> ", over one "
            "WebSocket (gRPC-Web over fetch when the socket cannot be had: open Calls to see "
            "which carried each call)."
        </p>
        <SayHello />
        // The three streaming modes load after the page's first call can be made (lazy.rs).
        {crate::lazy::greeter_streams()}
    }
}

/// SayHelloStream, SayHelloToAll and Converse: a chunk of their own.
pub fn streams() -> AnyView {
    view! {
        <GreetingStream />
        <SayHelloToAll />
        <Converse />
    }
    .into_any()
}

/// A successful SayHello: the greeting, and the request id the server answered with.
#[derive(Debug, Clone, PartialEq)]
struct Greeting {
    message: String,
    request_id: String,
}

#[component]
fn SayHello() -> impl IntoView {
    let name = RwSignal::new(String::from("World"));
    let request_id = RwSignal::new(String::new());
    // The call as a Leptos action: its pending state and last value come with it.
    let say_hello = Action::new_local(|(name, request_id): &(String, String)| {
        let mut request = api::unary(HelloRequest { name: name.clone() });
        // Metadata in: an `x-request-id` of the user's, if given and valid.
        if let Ok(id) = MetadataValue::try_from(request_id.trim())
            && !id.is_empty()
        {
            request.metadata_mut().insert("x-request-id", id);
        }
        async move {
            api::greeter()
                .say_hello(request)
                .await
                .map(|response| Greeting {
                    // Metadata out: the server's answer headers.
                    request_id: response
                        .metadata()
                        .get("x-request-id")
                        .and_then(|id| id.to_str().ok())
                        .unwrap_or_default()
                        .to_owned(),
                    message: response.into_inner().message,
                })
                .map_err(CallError::from)
        }
    });
    let (pending, reply) = (say_hello.pending(), say_hello.value());
    let send = move || say_hello.dispatch((name.get_untracked(), request_id.get_untracked()));

    view! {
        <section class="card">
            <h2>"SayHello " <span class="badge">"unary"</span></h2>
            <form class="row" on:submit=move |event| {
                event.prevent_default();
                send();
            }>
                <label class="field grow">
                    <span>"Name"</span>
                    <input id="hello-name" type="text" autocomplete="off" bind:value=name />
                </label>
                <label class="field narrow-wide">
                    <span>"x-request-id (optional)"</span>
                    <input id="hello-request-id" type="text" autocomplete="off"
                        placeholder="server makes one" bind:value=request_id />
                </label>
                <button id="hello-send" type="submit" disabled=move || pending.get()>
                    "Say hello"
                </button>
            </form>
            <div class="result" aria-live="polite">
                {move || match reply.get() {
                    _ if pending.get() => view! { <Spinner label="Calling…" /> }.into_any(),
                    None => view! {
                        <p class="muted">
                            "The reply appears here. The call has a "
                            {api::UNARY_DEADLINE.as_secs()} " s deadline, sent as "
                            <code>"grpc-timeout"</code> "."
                        </p>
                    }.into_any(),
                    Some(Ok(greeting)) => view! {
                        <p id="hello-reply" class="reply">{greeting.message}</p>
                        <p class="muted small">
                            "x-request-id: " <code id="hello-reply-id">{greeting.request_id}</code>
                        </p>
                    }.into_any(),
                    Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
                }}
            </div>
        </section>
    }
}

/// SayHelloToAll as a real client stream: the call opens with the first name, each name
/// goes out as it is entered (or each line of a pasted list), and Finish half-closes the
/// stream, which is when the server answers with its one summary.
#[component]
fn SayHelloToAll() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let pasted = RwSignal::new(String::new());
    let sent = RwSignal::new(0usize);
    let state = RwSignal::new(StreamState::Idle);
    let summary = RwSignal::new(None::<proto::greeter::HelloSummary>);
    let names = StoredValue::new(None::<futures_channel::mpsc::UnboundedSender<HelloRequest>>);
    let task = Task::new();
    let open = move || {
        let (sender, receiver) = futures_channel::mpsc::unbounded();
        names.set_value(Some(sender));
        sent.set(0);
        summary.set(None);
        state.set(StreamState::Streaming);
        task.start(async move {
            let answer = api::greeter().say_hello_to_all(receiver).await;
            names.set_value(None);
            match answer {
                Ok(reply) => {
                    summary.set(Some(reply.into_inner()));
                    state.set(StreamState::Finished);
                }
                Err(status) => state.set(StreamState::Failed(status.into())),
            }
        });
    };
    let send = move |text: &str| {
        let lines: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        if lines.is_empty() {
            return;
        }
        if names.with_value(Option::is_none) {
            open();
        }
        names.with_value(|names| {
            if let Some(names) = names {
                for line in lines {
                    if names.unbounded_send(HelloRequest { name: line }).is_ok() {
                        sent.update(|sent| *sent += 1);
                    }
                }
            }
        });
    };
    // Half-close: no more names; the summary comes back.
    let finish = move || {
        if names.with_value(Option::is_some) {
            names.set_value(None);
            state.set(StreamState::Connecting);
        }
    };

    view! {
        <section class="card" id="to-all">
            <h2>"SayHelloToAll " <span class="badge">"client streaming"</span></h2>
            <p class="muted small">
                "One call, opened by the first name: each name goes to the server as you send "
                "it; Finish ends the stream and the server answers once, for all of them."
            </p>
            <form class="row" on:submit=move |event| {
                event.prevent_default();
                send(&name.get_untracked());
                name.set(String::new());
            }>
                <label class="field grow">
                    <span>"Name"</span>
                    <input id="all-name" type="text" autocomplete="off" bind:value=name />
                </label>
                <button id="all-add" type="submit">"Send"</button>
            </form>
            <form on:submit=move |event| {
                event.prevent_default();
                send(&pasted.get_untracked());
                pasted.set(String::new());
            }>
                <label class="field">
                    <span>"Or paste names, one per line"</span>
                    <textarea id="all-names" rows="3" bind:value=pasted></textarea>
                </label>
                <div class="row end">
                    <button id="all-send" type="submit">"Send these"</button>
                    <button id="all-finish" type="button" class="secondary"
                        disabled=move || state.get() != StreamState::Streaming
                        on:click=move |_| finish()>"Finish"</button>
                </div>
            </form>
            <p id="all-sent" class="muted small">
                {move || match state.get() {
                    StreamState::Idle => "Not started: the first name opens the call.".to_owned(),
                    StreamState::Streaming => format!("{} sent on the open stream.", plural(sent.get(), "name")),
                    StreamState::Connecting => format!("{} sent; waiting for the summary…", plural(sent.get(), "name")),
                    _ => format!("{} sent.", plural(sent.get(), "name")),
                }}
            </p>
            <div class="result" aria-live="polite">
                {move || match (state.get(), summary.get()) {
                    (StreamState::Failed(error), _) => view! { <ErrorBanner error /> }.into_any(),
                    (_, Some(summary)) => view! {
                        <p id="all-reply" class="reply">{summary.message}</p>
                        <p id="all-counts" class="muted small">
                            {format!("{} names, {} different", summary.count, summary.distinct_count)}
                        </p>
                    }.into_any(),
                    _ => ().into_any(),
                }}
            </div>
        </section>
    }
}

fn plural(count: usize, what: &str) -> String {
    if count == 1 {
        format!("1 {what}")
    } else {
        format!("{count} {what}s")
    }
}

/// Converse (bidi) over grpc-ws: each name is sent as it is entered, on one open call, and
/// its answer shows before the next is typed.
#[component]
fn Converse() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let replies = RwSignal::new(Vec::<String>::new());
    let state = RwSignal::new(StreamState::Idle);
    let names = StoredValue::new(None::<futures_channel::mpsc::UnboundedSender<HelloRequest>>);
    let task = Task::new();
    let start = move || {
        let (sender, receiver) = futures_channel::mpsc::unbounded();
        names.set_value(Some(sender));
        replies.set(Vec::new());
        state.set(StreamState::Connecting);
        task.start(async move {
            let conversation = async move {
                let mut answers = api::greeter().converse(receiver).await?.into_inner();
                state.set(StreamState::Streaming);
                while let Some(answer) = answers.message().await? {
                    replies.update(|replies| replies.push(answer.message));
                }
                Ok::<(), tonic::Status>(())
            };
            state.set(match conversation.await {
                Ok(()) => StreamState::Finished,
                Err(status) => StreamState::Failed(status.into()),
            });
            names.set_value(None);
        });
    };
    let say = move || {
        let text = name.get_untracked().trim().to_owned();
        if text.is_empty() {
            return;
        }
        if names.with_value(Option::is_none) {
            start();
        }
        names.with_value(|names| {
            if let Some(names) = names {
                let _ = names.unbounded_send(HelloRequest { name: text });
            }
        });
        name.set(String::new());
    };

    view! {
        <section class="card" id="converse">
            <h2>"Converse " <span class="badge">"bidirectional"</span> " " <span class="badge">"grpc-ws"</span></h2>
            <p class="muted small">
                "One call stays open over this page's WebSocket: each name goes out as you "
                "send it, and its answer comes back before you type the next."
            </p>
            <form class="row" on:submit=move |event| {
                event.prevent_default();
                say();
            }>
                <label class="field grow">
                    <span>"Name"</span>
                    <input id="converse-name" type="text" autocomplete="off" bind:value=name />
                </label>
                <button id="converse-send" type="submit">"Say"</button>
                <button id="converse-end" type="button" class="secondary"
                    disabled=move || names.with_value(Option::is_none) && state.get() != StreamState::Streaming
                    on:click=move |_| names.set_value(None)>"End"</button>
            </form>
            <p id="converse-status" class="muted small">
                {move || match state.get() {
                    StreamState::Idle => "Not started: the first name opens the call.".to_owned(),
                    StreamState::Connecting => "Opening…".to_owned(),
                    StreamState::Streaming => "Open: say another name, or End.".to_owned(),
                    StreamState::Finished => "Finished.".to_owned(),
                    StreamState::Stopped => "Stopped.".to_owned(),
                    StreamState::Failed(_) => "Failed.".to_owned(),
                }}
            </p>
            {move || match state.get() {
                StreamState::Failed(error) => Some(view! { <ErrorBanner error /> }),
                _ => None,
            }}
            <ol id="converse-replies">
                {move || replies.get().into_iter().map(|reply| view! { <li>{reply}</li> }).collect_view()}
            </ol>
        </section>
    }
}

/// Where a greeting stream is in its life.
#[derive(Debug, Clone, PartialEq)]
enum StreamState {
    Idle,
    Connecting,
    Streaming,
    Finished,
    Stopped,
    Failed(CallError),
}

#[component]
fn GreetingStream() -> impl IntoView {
    let name = RwSignal::new(String::from("World"));
    let count = RwSignal::new(String::from("5"));
    let interval_ms = RwSignal::new(String::from("500"));
    let replies = RwSignal::new(Vec::<String>::new());
    let state = RwSignal::new(StreamState::Idle);
    // Stopping drops the response stream, which aborts the fetch: the server sees the call
    // cancelled and stops sending.
    let task = Task::new();
    let stop = move || {
        if task.stop() {
            state.set(StreamState::Stopped);
        }
    };

    let start = move || {
        stop();
        replies.set(Vec::new());
        let request = match parse_request(
            name.get_untracked(),
            &count.get_untracked(),
            &interval_ms.get_untracked(),
        ) {
            Ok(request) => request,
            Err(error) => {
                state.set(StreamState::Failed(error));
                return;
            }
        };
        state.set(StreamState::Connecting);
        task.start(async move {
            let call = async move {
                let mut stream = api::greeter().say_hello_stream(request).await?.into_inner();
                state.set(StreamState::Streaming);
                while let Some(reply) = stream.message().await? {
                    replies.update(|replies| replies.push(reply.message));
                }
                Ok::<_, tonic::Status>(())
            };
            state.set(match call.await {
                Ok(()) => StreamState::Finished,
                Err(status) => StreamState::Failed(status.into()),
            });
        });
    };

    let busy = move || {
        matches!(
            state.get(),
            StreamState::Connecting | StreamState::Streaming
        )
    };

    view! {
        <section class="card">
            <h2>"SayHelloStream " <span class="badge">"server streaming"</span></h2>
            // `novalidate`: the bounds are the server's to enforce, and the page shows its
            // INVALID_ARGUMENT rather than the browser's own tooltip.
            <form class="row" novalidate on:submit=move |event| {
                event.prevent_default();
                start();
            }>
                <label class="field grow">
                    <span>"Name"</span>
                    <input id="stream-name" type="text" autocomplete="off" bind:value=name />
                </label>
                <label class="field narrow">
                    <span>"Count (1–100)"</span>
                    <input id="stream-count" type="number" min="1" max="100" bind:value=count />
                </label>
                <label class="field narrow">
                    <span>"Interval, ms"</span>
                    <input id="stream-interval" type="number" min="0" max="10000" step="100" bind:value=interval_ms />
                </label>
                <button id="stream-start" type="submit" disabled=busy>"Start"</button>
                <button id="stream-stop" type="button" class="secondary" disabled=move || !busy()
                    on:click=move |_| stop()>"Stop"</button>
            </form>
            <div id="stream-status" class="status">
                {move || match state.get() {
                    StreamState::Idle => view! { <span class="muted">"Not started."</span> }.into_any(),
                    StreamState::Connecting => view! { <Spinner label="Connecting…" /> }.into_any(),
                    StreamState::Streaming => view! {
                        <Spinner label=format!("Receiving… {} so far", replies.read().len()) />
                    }.into_any(),
                    StreamState::Finished => format!("Finished: {} greetings.", replies.read().len()).into_any(),
                    StreamState::Stopped => format!("Stopped after {} greetings.", replies.read().len()).into_any(),
                    StreamState::Failed(error) => view! { <ErrorBanner error /> }.into_any(),
                }}
            </div>
            <ol id="stream-replies" class="replies" aria-live="polite">
                <For each=move || replies.get().into_iter().enumerate() key=|(index, _)| *index let((_, reply))>
                    <li>{reply}</li>
                </For>
            </ol>
        </section>
    }
}

/// Turns the form's text into a request. Only the number format is checked here; the
/// bounds are the server's to enforce, and its INVALID_ARGUMENT shows as any error does.
fn parse_request(
    name: String,
    count: &str,
    interval_ms: &str,
) -> Result<HelloStreamRequest, CallError> {
    let number = |field: &str, text: &str| {
        text.trim().parse::<u32>().map_err(|_| {
            CallError::local(
                tonic::Code::InvalidArgument,
                format!("{field}: enter a whole number, not '{text}'"),
            )
        })
    };
    Ok(HelloStreamRequest {
        name,
        count: number("count", count)?,
        interval_ms: number("interval_ms", interval_ms)?,
    })
}

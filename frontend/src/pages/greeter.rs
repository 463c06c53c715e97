//! The Greeter page: SayHello (unary), SayHelloStream (server streaming, stoppable) and
//! SayHelloToAll (client streaming, as one batch) over gRPC-Web, and Converse (bidi) over
//! grpc-ws.

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
            "The seeds' first service, called from this page over gRPC-Web through the client "
            "generated from " <code>"proto/greeter.proto"</code> "."
        </p>
        <SayHello />
        <GreetingStream />
        <SayHelloToAll />
        <Converse />
        <BrowserLimits />
    }
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

#[component]
fn SayHelloToAll() -> impl IntoView {
    let names = RwSignal::new(String::from("Ada\nGrace\nAlan\nAda"));
    let say_hello_to_all = Action::new_local(|names: &String| {
        let requests: Vec<HelloRequest> = names
            .lines()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| HelloRequest {
                name: name.to_owned(),
            })
            .collect();
        async move {
            api::greeter()
                .say_hello_to_all(api::unary(futures_util::stream::iter(requests)))
                .await
                .map(tonic::Response::into_inner)
                .map_err(CallError::from)
        }
    });
    let (pending, reply) = (say_hello_to_all.pending(), say_hello_to_all.value());
    let send = move || say_hello_to_all.dispatch(names.get_untracked());

    view! {
        <section class="card">
            <h2>"SayHelloToAll " <span class="badge">"client streaming"</span></h2>
            <form on:submit=move |event| {
                event.prevent_default();
                send();
            }>
                <label class="field">
                    <span>"Names, one per line"</span>
                    <textarea id="all-names" rows="4" bind:value=names></textarea>
                </label>
                <div class="row end">
                    <button id="all-send" type="submit" disabled=move || pending.get()>
                        "Send all"
                    </button>
                </div>
            </form>
            <div class="result" aria-live="polite">
                {move || match reply.get() {
                    _ if pending.get() => view! { <Spinner label="Calling…" /> }.into_any(),
                    None => view! { <p class="muted">"One summary comes back for all the names."</p> }.into_any(),
                    Some(Ok(summary)) => view! {
                        <p id="all-reply" class="reply">{summary.message}</p>
                        <p id="all-counts" class="muted small">
                            {format!("{} names, {} different", summary.count, summary.distinct_count)}
                        </p>
                    }.into_any(),
                    Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
                }}
            </div>
        </section>
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
                let mut answers = api::greeter_socket().converse(receiver).await?.into_inner();
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

/// What a browser can and cannot do with the streaming kinds of call, and the CLI commands
/// that do the rest.
#[component]
fn BrowserLimits() -> impl IntoView {
    view! {
        <section class="card" id="browser-limits">
            <h2>"Client streaming and bidi from a browser"</h2>
            <p>
                "gRPC-Web rides on " <code>"fetch"</code> ", and browsers today cannot stream "
                "a request body over it: the request goes out whole, once the page has all of "
                "it. So the page above sends a client stream as one batch (a finite stream "
                "works; a stream you keep adding to does not). " <code>"Converse"</code>
                " above goes over grpc-ws instead, one WebSocket that carries every mode."
            </p>
            <p>"The native client does both for real, over HTTP/2:"</p>
            <pre class="command"><code>"printf 'Ada\\nGrace\\n' | cargo run -p cli -- greeter to-all\n"
                "cargo run -p cli -- greeter converse    # type names; replies come as you go"</code></pre>
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
        text.trim().parse::<u32>().map_err(|_| CallError {
            code: tonic::Code::InvalidArgument,
            message: format!("{field}: enter a whole number, not '{text}'"),
            details: Vec::new(),
        })
    };
    Ok(HelloStreamRequest {
        name,
        count: number("count", count)?,
        interval_ms: number("interval_ms", interval_ms)?,
    })
}

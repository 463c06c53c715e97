//! The Interop page: the official gRPC interop cases (`grpc.testing.TestService`) run from
//! this browser through the generated client, over the page's grpc-ws socket, including the
//! ones no gRPC-Web client can run (client streaming, ping-pong, cancels, deadlines and
//! metadata on a full-duplex call). Flow control made visible: a server stream read slowly,
//! with how far the server gets ahead of the page. And a measurement: round trips on one
//! bidi call over the socket against unary calls over gRPC-Web fetch, and two client
//! streams (many small messages, 100 MiB in large ones).

use std::time::Duration;

use futures_channel::mpsc;
use futures_util::{FutureExt, StreamExt};
use leptos::prelude::*;
use proto::grpc_testing::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, StreamingInputCallRequest,
    StreamingOutputCallRequest,
};
use tonic::{Code, Request, metadata::MetadataValue};

use crate::{api, task::sleep};

/// The cases, in the order the interop spec lists them.
const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
    "custom_metadata",
    "status_code_and_message",
];

/// How one case went.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Waiting,
    Running,
    Passed(String),
    Failed(String),
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or_else(js_sys::Date::now, |performance| performance.now())
}

fn payload(size: usize) -> Option<Payload> {
    Some(Payload {
        r#type: 0,
        body: vec![0; size],
    })
}

fn output(size: i32, payload_size: usize) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size,
            ..Default::default()
        }],
        payload: payload(payload_size),
        ..Default::default()
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

fn failed(status: tonic::Status) -> String {
    format!(
        "{}: {}",
        proto::status::code_name(status.code()),
        status.message()
    )
}

/// The status a stream ended with, refused at its start or instead of its first reply;
/// a reply instead is a failure of the case.
async fn ended_with<T: std::fmt::Debug>(
    answer: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
) -> Result<tonic::Status, String> {
    match answer {
        Err(status) => Ok(status),
        Ok(replies) => match replies.into_inner().message().await {
            Err(status) => Ok(status),
            Ok(reply) => Err(format!("no error, a reply: {reply:?}")),
        },
    }
}

/// Runs the case `name`; what it saw, or why it failed.
async fn run(name: &str) -> Result<String, String> {
    let mut client = api::test_service();
    match name {
        "empty_unary" => {
            client.empty_call(Empty {}).await.map_err(failed)?;
            Ok("an empty answer to an empty request".into())
        }
        "large_unary" => {
            let reply = client
                .unary_call(SimpleRequest {
                    response_size: 314_159,
                    payload: payload(271_828),
                    ..Default::default()
                })
                .await
                .map_err(failed)?
                .into_inner();
            let size = reply.payload.map_or(0, |payload| payload.body.len());
            check(size == 314_159, || format!("{size} bytes back, not 314159"))?;
            Ok("271,828 bytes out, 314,159 back".into())
        }
        "client_streaming" => {
            let sizes = [27_182, 8, 1_828, 45_904];
            let requests = sizes.map(|size| StreamingInputCallRequest {
                payload: payload(size),
                ..Default::default()
            });
            let reply = client
                .streaming_input_call(futures_util::stream::iter(requests))
                .await
                .map_err(failed)?
                .into_inner();
            check(reply.aggregated_payload_size == 74_922, || {
                format!("aggregated {}", reply.aggregated_payload_size)
            })?;
            Ok("4 messages streamed, 74,922 bytes counted".into())
        }
        "server_streaming" => {
            let sizes = [31_415, 9, 2_653, 58_979];
            let request = StreamingOutputCallRequest {
                response_parameters: sizes
                    .iter()
                    .map(|&size| ResponseParameters {
                        size,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let mut replies = client
                .streaming_output_call(request)
                .await
                .map_err(failed)?
                .into_inner();
            let mut got = Vec::new();
            while let Some(reply) = replies.message().await.map_err(failed)? {
                got.push(reply.payload.map_or(0, |payload| payload.body.len()) as i32);
            }
            check(got == sizes, || format!("sizes {got:?}"))?;
            Ok("4 replies of the sizes asked".into())
        }
        "ping_pong" => {
            let (requests, stream) = mpsc::unbounded();
            let mut replies = client
                .full_duplex_call(stream)
                .await
                .map_err(failed)?
                .into_inner();
            let mut times = Vec::new();
            for (size, payload_size) in [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)]
            {
                let sent = now_ms();
                requests
                    .unbounded_send(output(size, payload_size))
                    .map_err(|_| "the call ended early".to_owned())?;
                // The next request goes only once this reply is here: full duplex, live.
                let reply = replies
                    .message()
                    .await
                    .map_err(failed)?
                    .ok_or("the server ended the call early")?;
                let got = reply.payload.map_or(0, |payload| payload.body.len());
                check(got == size as usize, || {
                    format!("{got} bytes back, not {size}")
                })?;
                times.push(now_ms() - sent);
            }
            drop(requests);
            check(replies.message().await.map_err(failed)?.is_none(), || {
                "a reply after the end".into()
            })?;
            Ok(format!(
                "4 round trips, each reply before the next request: {}",
                times
                    .iter()
                    .map(|ms| format!("{ms:.1} ms"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        "empty_stream" => {
            let mut replies = client
                .full_duplex_call(futures_util::stream::empty())
                .await
                .map_err(failed)?
                .into_inner();
            check(replies.message().await.map_err(failed)?.is_none(), || {
                "a reply to nothing".into()
            })?;
            Ok("no requests, no replies, OK".into())
        }
        "cancel_after_begin" => {
            let (_requests, stream) = mpsc::unbounded::<StreamingInputCallRequest>();
            let call = client.streaming_input_call(stream).fuse();
            let wait = sleep(Duration::from_millis(200)).fuse();
            futures_util::pin_mut!(call, wait);
            futures_util::select! {
                answer = call => Err(format!("answered before any request: {answer:?}")),
                () = wait => Ok("cancelled with its request stream open: the server sees CANCELLED".into()),
            }
        }
        "cancel_after_first_response" => {
            let (requests, stream) = mpsc::unbounded();
            let mut replies = client
                .full_duplex_call(stream)
                .await
                .map_err(failed)?
                .into_inner();
            requests
                .unbounded_send(output(31_415, 27_182))
                .map_err(|_| "the call ended early".to_owned())?;
            replies
                .message()
                .await
                .map_err(failed)?
                .ok_or("no first reply")?;
            drop(replies);
            Ok("cancelled after the first reply: the server sees CANCELLED".into())
        }
        "timeout_on_sleeping_server" => {
            let (requests, stream) = mpsc::unbounded();
            requests
                .unbounded_send(StreamingOutputCallRequest {
                    payload: payload(27_182),
                    ..Default::default()
                })
                .map_err(|_| "the call ended early".to_owned())?;
            let mut request = Request::new(stream);
            request.set_timeout(Duration::from_millis(1));
            let status = ended_with(client.full_duplex_call(request).await).await?;
            drop(requests);
            check(status.code() == Code::DeadlineExceeded, || failed(status))?;
            Ok("DEADLINE_EXCEEDED at the 1 ms deadline".into())
        }
        "custom_metadata" => {
            let mut request = Request::new(futures_util::stream::iter([output(314_159, 271_828)]));
            request.metadata_mut().insert(
                "x-grpc-test-echo-initial",
                MetadataValue::from_static("test_initial_metadata_value"),
            );
            request.metadata_mut().insert_bin(
                "x-grpc-test-echo-trailing-bin",
                tonic::metadata::MetadataValue::from_bytes(&[0xab, 0xab, 0xab]),
            );
            let response = client.full_duplex_call(request).await.map_err(failed)?;
            let initial = response
                .metadata()
                .get("x-grpc-test-echo-initial")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            check(
                initial.as_deref() == Some("test_initial_metadata_value"),
                || format!("initial metadata {initial:?}"),
            )?;
            let mut replies = response.into_inner();
            while replies.message().await.map_err(failed)?.is_some() {}
            let trailing = replies
                .trailers()
                .await
                .map_err(failed)?
                .and_then(|trailers| {
                    trailers
                        .get_bin("x-grpc-test-echo-trailing-bin")
                        .and_then(|value| value.to_bytes().ok())
                });
            check(trailing.as_deref() == Some(&[0xab, 0xab, 0xab][..]), || {
                format!("trailing metadata {trailing:?}")
            })?;
            Ok("initial and binary trailing metadata echoed".into())
        }
        "status_code_and_message" => {
            let message = "test status message";
            let request = StreamingOutputCallRequest {
                response_status: Some(EchoStatus {
                    code: 2,
                    message: message.into(),
                }),
                ..Default::default()
            };
            let status = ended_with(
                client
                    .full_duplex_call(futures_util::stream::iter([request]))
                    .await,
            )
            .await?;
            check(
                status.code() == Code::Unknown && status.message() == message,
                || failed(status),
            )?;
            Ok("UNKNOWN with the message asked for".into())
        }
        other => Err(format!("no such case: {other}")),
    }
}

#[component]
pub fn InteropPage() -> impl IntoView {
    view! {
        <h1>"Interop"</h1>
        <p class="lead">
            "The official gRPC interop cases, run from this page against the server's "
            <code>"grpc.testing.TestService"</code> " through the generated client, over this "
            "page's WebSocket: the streaming ones too, which no gRPC-Web client can run. Open "
            "Calls to watch each one."
        </p>
        <Cases />
        <SlowReader />
        <Measure />
    }
}

#[component]
fn Cases() -> impl IntoView {
    let outcomes = RwSignal::new(vec![Outcome::Waiting; CASES.len()]);
    let running = RwSignal::new(false);
    let run_all = Action::new_local(move |(): &()| async move {
        running.set(true);
        for (index, name) in CASES.iter().enumerate() {
            outcomes.update(|outcomes| outcomes[index] = Outcome::Running);
            let outcome = match run(name).await {
                Ok(detail) => Outcome::Passed(detail),
                Err(reason) => Outcome::Failed(reason),
            };
            outcomes.update(|outcomes| outcomes[index] = outcome);
        }
        running.set(false);
    });
    view! {
        <section class="card">
            <div class="row">
                <h2 class="grow">"Cases"</h2>
                <button id="interop-run" type="button" disabled=move || running.get()
                    on:click=move |_| { run_all.dispatch(()); }>"Run all"</button>
            </div>
            <ol id="interop-cases">
                {CASES.iter().enumerate().map(|(index, name)| {
                    let outcome = move || outcomes.with(|outcomes| outcomes[index].clone());
                    view! {
                        <li class="case" data-case=*name data-outcome=move || match outcome() {
                            Outcome::Waiting => "waiting",
                            Outcome::Running => "running",
                            Outcome::Passed(_) => "passed",
                            Outcome::Failed(_) => "failed",
                        }>
                            <code>{*name}</code> " "
                            <span class="case-detail small">{move || match outcome() {
                                Outcome::Waiting => String::new(),
                                Outcome::Running => "running…".to_owned(),
                                Outcome::Passed(detail) => format!("passed: {detail}"),
                                Outcome::Failed(reason) => format!("FAILED: {reason}"),
                            }}</span>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

/// Percentile `p` (0..=100) of sorted `values`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn summary(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (percentile(&times, 50.0), percentile(&times, 99.0))
}

/// Round trips on one FullDuplexCall over the socket.
async fn bidi_round_trips(count: usize) -> Result<Vec<f64>, tonic::Status> {
    let (requests, stream) = mpsc::unbounded();
    let mut replies = api::test_service_over(true)
        .full_duplex_call(stream)
        .await?
        .into_inner();
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = now_ms();
        let _ = requests.unbounded_send(output(1, 1));
        replies
            .message()
            .await?
            .ok_or_else(|| tonic::Status::unavailable("ended early"))?;
        times.push(now_ms() - sent);
    }
    Ok(times)
}

/// Unary calls one after another, over the socket or over fetch.
async fn unary_round_trips(count: usize, socket: bool) -> Result<Vec<f64>, tonic::Status> {
    let mut client = api::test_service_over(socket);
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = now_ms();
        client
            .unary_call(SimpleRequest {
                response_size: 1,
                payload: payload(1),
                ..Default::default()
            })
            .await?;
        times.push(now_ms() - sent);
    }
    Ok(times)
}

/// Seconds one client stream of `count` messages of `size` bytes takes over the socket,
/// each message made as the stream asks for it.
async fn client_stream_seconds(count: usize, size: usize) -> Result<f64, tonic::Status> {
    let requests = futures_util::stream::iter(0..count).map(move |_| StreamingInputCallRequest {
        payload: payload(size),
        ..Default::default()
    });
    let started = now_ms();
    let reply = api::test_service_over(true)
        .streaming_input_call(requests.boxed())
        .await?
        .into_inner();
    let seconds = (now_ms() - started) / 1000.0;
    if reply.aggregated_payload_size as usize != count * size {
        return Err(tonic::Status::data_loss("not every message arrived"));
    }
    Ok(seconds)
}

#[component]
fn Measure() -> impl IntoView {
    let rows = RwSignal::new(Vec::<(String, String)>::new());
    let error = RwSignal::new(None::<String>);
    let measure = Action::new_local(move |(): &()| async move {
        rows.set(Vec::new());
        error.set(None);
        const ROUND_TRIPS: usize = 500;
        let result = async {
            // Warm up: the socket open, the connection's fetch pool too.
            unary_round_trips(20, true).await?;
            unary_round_trips(20, false).await?;
            let add = |what: &str, times: Vec<f64>| {
                let (p50, p99) = summary(times);
                rows.update(|rows| {
                    rows.push((
                        what.to_owned(),
                        format!("p50 {p50:.2} ms · p99 {p99:.2} ms"),
                    ));
                });
            };
            add(
                "bidi round trip (socket)",
                bidi_round_trips(ROUND_TRIPS).await?,
            );
            add(
                "unary call (socket)",
                unary_round_trips(ROUND_TRIPS, true).await?,
            );
            add(
                "unary call (gRPC-Web fetch)",
                unary_round_trips(ROUND_TRIPS, false).await?,
            );
            let seconds = client_stream_seconds(20_000, 100).await?;
            rows.update(|rows| {
                rows.push((
                    "client stream, 20,000 messages of 100 B (socket)".to_owned(),
                    format!("{:.0} messages/s", 20_000.0 / seconds),
                ));
            });
            let seconds = client_stream_seconds(800, 128 * 1024).await?;
            rows.update(|rows| {
                rows.push((
                    "client stream, 100 MiB in 128 KiB messages (socket)".to_owned(),
                    format!("{:.1} MiB/s", 100.0 / seconds),
                ));
            });
            Ok::<(), tonic::Status>(())
        };
        if let Err(status) = result.await {
            error.set(Some(failed(status)));
        }
    });
    view! {
        <section class="card">
            <div class="row">
                <h2 class="grow">"Measure"</h2>
                <button id="measure-run" type="button" disabled=move || measure.pending().get()
                    on:click=move |_| { measure.dispatch(()); }>"Measure"</button>
            </div>
            <p class="muted small">
                "500 sequential round trips each way, from this page: one message each way on "
                "one open bidi call, against a unary call per round trip; then two client "
                "streams, many small messages and 100 MiB in large ones."
            </p>
            <table id="measure-results">
                <tbody>
                    {move || rows.get().into_iter().map(|(what, figure)| view! {
                        <tr><td>{what}</td><td class="figure">{figure}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p id="measure-state" class="muted small">{move || {
                if measure.pending().get() {
                    "Measuring…".to_owned()
                } else if let Some(error) = error.get() {
                    format!("Failed: {error}")
                } else if rows.read().is_empty() {
                    String::new()
                } else {
                    "Done.".to_owned()
                }
            }}</p>
        </section>
    }
}

/// What the slow reader asks for: this many messages of this size, as fast as the server
/// can send them, read one every [`READ_EVERY`].
const SLOW_MESSAGES: usize = 32;
const SLOW_MESSAGE_BYTES: usize = 64 * 1024;
const READ_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct SlowRead {
    read: usize,
    /// What the socket had received beyond what the page had read, now and at most.
    ahead: u64,
    most_ahead: u64,
}

/// Flow control, watched: a server stream read slowly. The socket's window keeps the server
/// at most 256 KiB ahead of what the page has read, however fast it could send.
#[component]
fn SlowReader() -> impl IntoView {
    let state = RwSignal::new(SlowRead::default());
    let error = RwSignal::new(None::<String>);
    let run = Action::new_local(move |(): &()| async move {
        state.set(SlowRead::default());
        error.set(None);
        let result = async {
            // The socket's count before the call: what other calls had.
            let before = api::socket_data_received();
            let mut replies = api::test_service_over(true)
                .streaming_output_call(StreamingOutputCallRequest {
                    response_parameters: vec![
                        ResponseParameters {
                            size: SLOW_MESSAGE_BYTES as i32,
                            ..Default::default()
                        };
                        SLOW_MESSAGES
                    ],
                    ..Default::default()
                })
                .await?
                .into_inner();
            let mut read_bytes = 0u64;
            while let Some(reply) = replies.message().await? {
                // Each message on the wire: its 5-byte prefix and the message.
                read_bytes += 5 + prost::Message::encoded_len(&reply) as u64;
                let ahead = api::socket_data_received().saturating_sub(before + read_bytes);
                state.update(|state| {
                    state.read += 1;
                    state.ahead = ahead;
                    state.most_ahead = state.most_ahead.max(ahead);
                });
                sleep(READ_EVERY).await;
            }
            Ok::<(), tonic::Status>(())
        };
        if let Err(status) = result.await {
            error.set(Some(failed(status)));
        }
    });
    view! {
        <section class="card">
            <div class="row">
                <h2 class="grow">"Flow control"</h2>
                <button id="slow-run" type="button" disabled=move || run.pending().get()
                    on:click=move |_| { run.dispatch(()); }>"Read slowly"</button>
            </div>
            <p class="muted small">
                "The server streams " {SLOW_MESSAGES} " messages of 64 KiB as fast as it can; "
                "this page reads one every " {READ_EVERY.as_millis()} " ms. The socket's "
                "window (256 KiB per call) keeps the server from sending more than that ahead "
                "of the page, so neither side holds the rest."
            </p>
            <p id="slow-state" class="small"
                data-read=move || state.get().read
                data-most-ahead=move || state.get().most_ahead>
                {move || {
                    let SlowRead { read, ahead, most_ahead } = state.get();
                    if let Some(error) = error.get() {
                        format!("Failed: {error}")
                    } else if read == 0 && !run.pending().get() {
                        String::new()
                    } else {
                        format!(
                            "read {read} of {SLOW_MESSAGES} · received ahead of the page {} \
                             (at most {})",
                            crate::format::bytes(ahead),
                            crate::format::bytes(most_ahead),
                        )
                    }
                }}
            </p>
        </section>
    }
}

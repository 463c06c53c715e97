//! The server end of grpc-ws (`docs/websocket-transport.md`): one WebSocket carries many
//! gRPC calls, each in all four modes, with per-stream flow control. Each `OPEN` becomes an
//! HTTP/2 request to the server's own gRPC router, so a call over the socket passes every
//! layer a native call does (auth, limits, deadline, access log, metrics).
//!
//! Written by hand (see `grpc-ws/`'s header). The memory one socket can make the server
//! hold is bounded: at most `max_streams` calls at once; per stream at most one window
//! (256 KiB) of request bytes not yet read by the handler (more is a protocol error and the
//! stream is cancelled); response bytes are sent only against the client's window, so a
//! client that reads slowly stops its call's handler rather than filling a queue. The
//! outgoing queue holds DATA within those windows and at most `MAX_QUEUED_CONTROL` control
//! frames; a client that makes more without reading its socket is cut off.

use std::{
    collections::HashMap,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use axum::{
    Router,
    body::Body,
    extract::FromRequest,
    extract::{
        ConnectInfo, State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use grpc_ws::{Frame, INITIAL_WINDOW, Kind, SUBPROTOCOL};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body::Body as _;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

/// Largest DATA frame the server sends.
const MAX_DATA_FRAME: usize = 16 * 1024;

/// What the endpoint needs: the gRPC router, which origins may open a socket, and limits.
#[derive(Clone)]
pub struct Endpoint {
    grpc: Router,
    origins: Arc<Vec<HeaderValue>>,
    any_origin: bool,
    max_streams: usize,
    max_frames_per_second: u32,
    shutdown: CancellationToken,
    /// The open sockets: they outlive the HTTP/1.1 connections they were upgraded from, so
    /// a drain waits for them apart.
    sockets: TaskTracker,
}

impl Endpoint {
    pub fn new(
        grpc: Router,
        origins: &[HeaderValue],
        any_origin: bool,
        max_streams: usize,
        max_frames_per_second: u32,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            grpc,
            origins: Arc::new(origins.to_vec()),
            any_origin,
            max_streams,
            max_frames_per_second,
            shutdown,
            sockets: TaskTracker::new(),
        }
    }

    /// The open sockets, for a drain to wait for (each ends once its calls have, after
    /// the shutdown's GOAWAY).
    pub fn sockets(&self) -> TaskTracker {
        self.sockets.clone()
    }

    /// `GET /grpc-ws` (HTTP/1.1 Upgrade) and `CONNECT /grpc-ws` (HTTP/2, RFC 8441), as a
    /// router to merge.
    pub fn router(self) -> Router {
        use axum::routing::{MethodFilter, on};
        Router::new()
            .route(
                grpc_ws::PATH,
                on(MethodFilter::GET.or(MethodFilter::CONNECT), upgrade),
            )
            .with_state(self)
    }

    /// Same origin (the `Host` the page came from), a listed one, or no `Origin` at all (a
    /// native client: browsers always send one).
    fn allows(&self, headers: &HeaderMap, authority: Option<&str>) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        if self.any_origin || self.origins.iter().any(|allowed| allowed == origin) {
            return true;
        }
        // HTTP/1.1 names the host in `Host`; HTTP/2 in `:authority`.
        let (Ok(origin), Some(host)) = (
            origin.to_str(),
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or(authority),
        ) else {
            return false;
        };
        origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host)
    }
}

async fn upgrade(State(endpoint): State<Endpoint>, request: axum::extract::Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let headers = request.headers().clone();
    let version = request.version();
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    if !endpoint.allows(&headers, authority.as_deref()) {
        return (
            StatusCode::FORBIDDEN,
            "this origin may not open a grpc-ws socket",
        )
            .into_response();
    }
    // The version is in the path; the subprotocol is optional (some proxies, `trunk serve`'s
    // among them, drop it), but a client that asks for others and not this one is not ours.
    let offered: Vec<String> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|protocol| protocol.trim().to_owned())
        .collect();
    if !offered.is_empty() && !offered.iter().any(|protocol| protocol == SUBPROTOCOL) {
        return (
            StatusCode::BAD_REQUEST,
            format!("this endpoint speaks the `{SUBPROTOCOL}` subprotocol"),
        )
            .into_response();
    }
    let ws = match WebSocketUpgrade::from_request(request, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    ws.protocols([SUBPROTOCOL])
        .max_message_size(grpc_ws::INITIAL_WINDOW as usize + 64 * 1024)
        .on_upgrade(move |socket| {
            tracing::debug!(?peer, ?version, "grpc-ws socket opened");
            let sockets = endpoint.sockets.clone();
            sockets.track_future(serve(socket, endpoint, peer))
        })
}

/// One open call on the socket.
struct Call {
    /// Request bytes for the handler, then `None` at `END`. Dropped without that (the call
    /// cancelled, the socket gone), the handler's request stream ends in an error, never
    /// as if the client had finished.
    request: Option<mpsc::UnboundedSender<Option<Bytes>>>,
    /// Request bytes received and not yet read by the handler.
    unread: Arc<AtomicU32>,
    /// The client's window for this call's response bytes.
    window: Arc<Semaphore>,
    /// Stops the call (client `CANCEL`, socket gone).
    cancel: CancellationToken,
}

type Calls = Arc<Mutex<HashMap<u32, Call>>>;

/// Control frames (window updates, pongs, refusals, headers, trailers) queued for one socket
/// at most; DATA is bounded by the client's windows instead.
const MAX_QUEUED_CONTROL: usize = 4096;

/// The socket's outgoing queue. DATA in it is bounded by the client's windows; the control
/// frames are made by what the client sends (a WINDOW per chunk read, a PONG per PING, a
/// refusal per OPEN too many), so they are counted, and a client that makes more than
/// [`MAX_QUEUED_CONTROL`] of them without reading its socket is cut off.
#[derive(Clone)]
struct Out {
    queue: mpsc::UnboundedSender<Frame>,
    control: Arc<AtomicUsize>,
    overrun: CancellationToken,
}

impl Out {
    fn send(&self, frame: Frame) {
        if !matches!(frame.kind, Kind::Data(_))
            && self.control.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUED_CONTROL
        {
            self.overrun.cancel();
            return;
        }
        let _ = self.queue.send(frame);
    }
}

async fn serve(socket: WebSocket, endpoint: Endpoint, peer: Option<SocketAddr>) {
    let (mut sink, mut incoming) = socket.split();
    let (queue, mut queued) = mpsc::unbounded_channel::<Frame>();
    let out = Out {
        queue,
        control: Arc::default(),
        overrun: CancellationToken::new(),
    };
    let control = Arc::clone(&out.control);
    let writer = tokio::spawn(async move {
        while let Some(frame) = queued.recv().await {
            let is_control = !matches!(frame.kind, Kind::Data(_));
            if sink
                .send(Message::Binary(grpc_ws::encode(&frame)))
                .await
                .is_err()
            {
                break;
            }
            if is_control {
                control.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _ = sink.close().await;
    });
    let calls: Calls = Arc::default();
    let mut last_opened = 0u32;
    let mut draining = false;
    // Frames this second: a client past the limit is closed.
    let (mut second, mut frames) = (tokio::time::Instant::now(), 0u32);
    loop {
        let message = tokio::select! {
            message = incoming.next() => message,
            // Control frames pile up unread: the client is not reading its socket.
            () = out.overrun.cancelled() => break,
            () = endpoint.shutdown.cancelled(), if !draining => {
                draining = true;
                out.send(Frame { stream: 0, kind: Kind::GoAway { last: last_opened } });
                if calls.lock().expect("calls").is_empty() {
                    break;
                }
                continue;
            }
        };
        if second.elapsed() >= std::time::Duration::from_secs(1) {
            (second, frames) = (tokio::time::Instant::now(), 0);
        }
        frames += 1;
        if frames > endpoint.max_frames_per_second {
            tracing::warn!(
                ?peer,
                limit = endpoint.max_frames_per_second,
                "grpc-ws socket sent more frames in a second than allowed: closed"
            );
            break;
        }
        let bytes = match message {
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            // Text frames are not part of the protocol; close frames and errors end it.
            _ => break,
        };
        let Ok(frame) = grpc_ws::decode(bytes) else {
            break;
        };
        let stream = frame.stream;
        match frame.kind {
            Kind::Open { path, metadata } => {
                if stream <= last_opened || draining {
                    out.send(refusal(stream, 14, "this socket takes no new calls"));
                    continue;
                }
                last_opened = stream;
                if calls.lock().expect("calls").len() >= endpoint.max_streams {
                    out.send(refusal(
                        stream,
                        8,
                        &format!(
                            "at most {} calls at once on one socket",
                            endpoint.max_streams
                        ),
                    ));
                    continue;
                }
                open(&endpoint, &calls, &out, peer, stream, path, metadata);
            }
            Kind::Data(bytes) => {
                let mut calls = calls.lock().expect("calls");
                let Some(call) = calls.get_mut(&stream) else {
                    continue;
                };
                let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                let unread = call
                    .unread
                    .fetch_add(len, Ordering::AcqRel)
                    .saturating_add(len);
                let sent = call
                    .request
                    .as_ref()
                    .map(|request| request.send(Some(bytes)));
                if unread > INITIAL_WINDOW || !matches!(sent, Some(Ok(()))) {
                    // Past the window (or after END): a protocol error for this stream.
                    call.cancel.cancel();
                    calls.remove(&stream);
                    out.send(refusal(stream, 13, "DATA beyond the stream's window"));
                }
            }
            Kind::End => {
                if let Some(call) = calls.lock().expect("calls").get_mut(&stream)
                    && let Some(request) = call.request.take()
                {
                    let _ = request.send(None);
                }
            }
            Kind::Cancel => {
                if let Some(call) = calls.lock().expect("calls").remove(&stream) {
                    call.cancel.cancel();
                }
            }
            Kind::Window(increment) => {
                if let Some(call) = calls.lock().expect("calls").get(&stream) {
                    // Never more than a window outstanding, whatever the client says.
                    grpc_ws::window::grant(&call.window, increment, INITIAL_WINDOW);
                }
            }
            Kind::Ping(opaque) => {
                out.send(Frame {
                    stream: 0,
                    kind: Kind::Pong(opaque),
                });
            }
            Kind::Pong(_) => {}
            // Server-to-client frames from a client: it does not speak the protocol.
            Kind::Headers(_) | Kind::Trailers(_) | Kind::GoAway { .. } => break,
        }
        if draining && calls.lock().expect("calls").is_empty() {
            break;
        }
    }
    for (_, call) in calls.lock().expect("calls").drain() {
        call.cancel.cancel();
    }
    drop(out);
    let _ = writer.await;
}

/// A stream refused or cut before (or instead of) its answer: `CANCEL`-free, just trailers.
fn refusal(stream: u32, code: u8, message: &str) -> Frame {
    Frame {
        stream,
        kind: Kind::Trailers(grpc_ws::status_trailers(i32::from(code), message)),
    }
}

fn open(
    endpoint: &Endpoint,
    calls: &Calls,
    out: &Out,
    peer: Option<SocketAddr>,
    stream: u32,
    path: String,
    metadata: HeaderMap,
) {
    let (request_bytes, request_queue) = mpsc::unbounded_channel();
    let unread = Arc::new(AtomicU32::new(0));
    let window = Arc::new(Semaphore::new(INITIAL_WINDOW as usize));
    let cancel = CancellationToken::new();
    calls.lock().expect("calls").insert(
        stream,
        Call {
            request: Some(request_bytes),
            unread: Arc::clone(&unread),
            window: Arc::clone(&window),
            cancel: cancel.clone(),
        },
    );
    let body = Incoming {
        queue: request_queue,
        finished: false,
        unread,
        out: out.clone(),
        stream,
    };
    let mut request = http::Request::post(path.as_str())
        .version(http::Version::HTTP_2)
        .body(Body::new(body));
    let (out, calls, grpc) = (out.clone(), Arc::clone(calls), endpoint.grpc.clone());
    tokio::spawn(async move {
        let Ok(request) = request.as_mut() else {
            out.send(refusal(stream, 12, "not a method path"));
            calls.lock().expect("calls").remove(&stream);
            return;
        };
        let headers = request.headers_mut();
        for (name, value) in &metadata {
            headers.append(name, value.clone());
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        if let Some(peer) = peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        request
            .extensions_mut()
            .insert(crate::layers::access_log::Transport("grpc-ws"));
        let request = std::mem::replace(request, http::Request::new(Body::empty()));
        tokio::select! {
            // A cancelled call is dropped, never let finish on what it had.
            biased;
            () = cancel.cancelled() => {}
            () = answer(grpc, request, &out, stream, &window) => {}
        }
        calls.lock().expect("calls").remove(&stream);
    });
}

/// Makes the call and sends its answer: headers, DATA within the client's window, trailers.
async fn answer(
    grpc: Router,
    request: http::Request<Body>,
    out: &Out,
    stream: u32,
    window: &Semaphore,
) {
    let Ok(response) = grpc.oneshot(request).await;
    let (head, mut body) = response.into_parts();
    // A trailers-only answer (most errors) has its status in the headers.
    let trailers_only = head.headers.contains_key("grpc-status");
    if !trailers_only {
        out.send(Frame {
            stream,
            kind: Kind::Headers(head.headers.clone()),
        });
    }
    let mut body = Pin::new(&mut body);
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let Ok(frame) = frame else {
            out.send(refusal(stream, 13, "the answer broke off"));
            return;
        };
        match frame.into_data() {
            Ok(mut data) => {
                while !data.is_empty() {
                    let want = data.len().min(MAX_DATA_FRAME) as u32;
                    let Some(granted) = grpc_ws::window::take(window, want, INITIAL_WINDOW).await
                    else {
                        return;
                    };
                    out.send(Frame {
                        stream,
                        kind: Kind::Data(data.split_to(granted as usize)),
                    });
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    out.send(Frame {
                        stream,
                        kind: Kind::Trailers(trailers),
                    });
                    return;
                }
            }
        }
    }
    out.send(if trailers_only {
        Frame {
            stream,
            kind: Kind::Trailers(head.headers),
        }
    } else {
        refusal(stream, 2, "the answer ended without a status")
    });
}

/// A call's request body: the client's DATA, returning window as the handler reads it.
struct Incoming {
    queue: mpsc::UnboundedReceiver<Option<Bytes>>,
    /// `END` came: nothing more, and no error either.
    finished: bool,
    unread: Arc<AtomicU32>,
    out: Out,
    stream: u32,
}

impl http_body::Body for Incoming {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.queue.poll_recv(context) {
            Poll::Ready(Some(Some(bytes))) => {
                let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                self.unread.fetch_sub(len, Ordering::AcqRel);
                self.out.send(Frame {
                    stream: self.stream,
                    kind: Kind::Window(len),
                });
                Poll::Ready(Some(Ok(http_body::Frame::data(bytes))))
            }
            // `END`: the client finished its stream.
            Poll::Ready(Some(None)) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Ready(None) => Poll::Ready(Some(Err(tonic::Status::cancelled(
                "the client cancelled the call (or its socket went away)",
            )))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(origins: &[&'static str]) -> Endpoint {
        let origins: Vec<HeaderValue> = origins
            .iter()
            .map(|o| HeaderValue::from_static(o))
            .collect();
        Endpoint::new(
            Router::new(),
            &origins,
            false,
            10,
            1000,
            CancellationToken::new(),
        )
    }

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn over_http2_the_authority_names_the_host() {
        let endpoint = endpoint(&[]);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example"),
        );
        assert!(endpoint.allows(&headers, Some("app.example")));
        assert!(!endpoint.allows(&headers, Some("api.example")));
        assert!(!endpoint.allows(&headers, None));
    }

    #[test]
    fn origins_same_listed_or_none() {
        let endpoint = endpoint(&["https://app.example"]);
        assert!(
            endpoint.allows(&headers(None, "api.example"), None),
            "a native client"
        );
        assert!(endpoint.allows(
            &headers(Some("http://localhost:8080"), "localhost:8080"),
            None
        ));
        assert!(endpoint.allows(&headers(Some("https://app.example"), "api.example"), None));
        assert!(!endpoint.allows(&headers(Some("https://evil.example"), "api.example"), None));
        assert!(!endpoint.allows(
            &headers(Some("http://localhost:9999"), "localhost:8080"),
            None
        ));
    }
}

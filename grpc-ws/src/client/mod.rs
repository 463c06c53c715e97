//! The client end of grpc-ws: a `tower::Service` for tonic's generated clients,
//! multiplexing every call on one socket (made on the first call, and again after it
//! breaks or the server sends GOAWAY). The socket itself is tokio-tungstenite's natively
//! (`native.rs`) and the page's `WebSocket` in a browser (`browser.rs`); everything else is
//! here, the same for both.
//!
//! Per call: `OPEN`, then the request body as DATA within the server's window (64 KiB per
//! stream, returned as the handler reads), `END` when it ends; the answer's DATA is returned
//! window for as the generated client reads it, so a slow reader stops the server's
//! handler. Dropping the answer before its trailers sends `CANCEL`. A broken socket ends
//! every open call with UNAVAILABLE.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::future::{AbortHandle, Abortable};
use http::HeaderMap;
use http_body::Body as _;
use tokio::sync::{Semaphore, mpsc};

use crate::{Frame, INITIAL_WINDOW, Kind};

// By target, not by feature: a workspace build turns on both features (the web app asks
// for `browser`, the server's tests for `client`), and each target has one socket.
#[cfg(all(feature = "browser", target_arch = "wasm32"))]
mod browser;
#[cfg(all(feature = "client", not(target_arch = "wasm32")))]
mod native;

#[cfg(all(feature = "browser", target_arch = "wasm32"))]
use browser::{connect, spawn};
#[cfg(all(feature = "client", not(target_arch = "wasm32")))]
use native::{connect, spawn};

/// The call's future: `Send` natively; in a browser nothing is, and nothing needs to be.
#[cfg(target_arch = "wasm32")]
type CallFuture<T> = futures_util::future::LocalBoxFuture<'static, T>;
#[cfg(not(target_arch = "wasm32"))]
type CallFuture<T> = futures_util::future::BoxFuture<'static, T>;

/// Largest DATA frame the client sends.
const MAX_DATA_FRAME: usize = 16 * 1024;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a call hears from the socket.
#[derive(Debug)]
enum Event {
    Headers(HeaderMap),
    Data(Bytes),
    Trailers(HeaderMap),
    /// The socket broke (or the stream was cut): the call ends with this status.
    Failed(tonic::Status),
}

struct Stream {
    events: mpsc::UnboundedSender<Event>,
    /// The server's window for this call's request bytes.
    window: Arc<Semaphore>,
}

/// One socket and its calls.
pub(crate) struct Socket {
    out: mpsc::UnboundedSender<Frame>,
    streams: Mutex<HashMap<u32, Stream>>,
    next: Mutex<u32>,
    /// No new calls on it: broken, or the server is going away.
    closed: std::sync::atomic::AtomicBool,
}

impl Socket {
    /// A socket whose frames go out through `out`.
    fn new(out: mpsc::UnboundedSender<Frame>) -> Arc<Self> {
        Arc::new(Self {
            out,
            streams: Mutex::default(),
            next: Mutex::new(1),
            closed: false.into(),
        })
    }

    fn fail_all(&self, status: &tonic::Status) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        for (_, stream) in self.streams.lock().expect("streams").drain() {
            let _ = stream.events.send(Event::Failed(status.clone()));
        }
    }
}

/// The transport: `ws://HOST:PORT/grpc-ws` (or `wss://`).
#[derive(Clone)]
pub struct Client {
    url: Arc<str>,
    socket: Arc<tokio::sync::Mutex<Option<Arc<Socket>>>>,
}

impl Client {
    pub fn new(url: impl Into<Arc<str>>) -> Self {
        Self {
            url: url.into(),
            socket: Arc::default(),
        }
    }

    /// The open socket, or a new one.
    async fn socket(&self) -> Result<Arc<Socket>, tonic::Status> {
        let mut slot = self.socket.lock().await;
        if let Some(socket) = slot.as_ref()
            && !socket.closed.load(std::sync::atomic::Ordering::Acquire)
        {
            return Ok(Arc::clone(socket));
        }
        let socket = connect(&self.url).await?;
        *slot = Some(Arc::clone(&socket));
        Ok(socket)
    }
}

/// A frame from the server, to the call it is for.
fn dispatch(socket: &Socket, frame: Frame) {
    let mut streams = socket.streams.lock().expect("streams");
    let event = match frame.kind {
        Kind::Headers(headers) => Event::Headers(headers),
        Kind::Data(bytes) => Event::Data(bytes),
        Kind::Trailers(trailers) => {
            if let Some(stream) = streams.remove(&frame.stream) {
                let _ = stream.events.send(Event::Trailers(trailers));
            }
            return;
        }
        Kind::Cancel => {
            if let Some(stream) = streams.remove(&frame.stream) {
                let _ = stream.events.send(Event::Failed(tonic::Status::cancelled(
                    "the server cut the call",
                )));
            }
            return;
        }
        Kind::Window(increment) => {
            if let Some(stream) = streams.get(&frame.stream) {
                crate::window::grant(&stream.window, increment, INITIAL_WINDOW);
            }
            return;
        }
        Kind::Ping(opaque) => {
            let _ = socket.out.send(Frame {
                stream: 0,
                kind: Kind::Pong(opaque),
            });
            return;
        }
        Kind::GoAway { .. } => {
            // Calls already open finish; new ones take a new socket.
            socket
                .closed
                .store(true, std::sync::atomic::Ordering::Release);
            return;
        }
        Kind::Pong(_) | Kind::Open { .. } | Kind::End => return,
    };
    if let Some(stream) = streams.get(&frame.stream) {
        let _ = stream.events.send(event);
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Client {
    type Response = http::Response<Answer>;
    type Error = BoxError;
    type Future = CallFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let client = self.clone();
        Box::pin(async move {
            let socket = client.socket().await?;
            let (head, body) = request.into_parts();
            let id = {
                let mut next = socket.next.lock().expect("ids");
                let id = *next;
                *next += 1;
                id
            };
            let (events, mut heard) = mpsc::unbounded_channel();
            let window = Arc::new(Semaphore::new(INITIAL_WINDOW as usize));
            socket.streams.lock().expect("streams").insert(
                id,
                Stream {
                    events,
                    window: Arc::clone(&window),
                },
            );
            let out = socket.out.clone();
            let mut metadata = head.headers;
            for name in ["content-type", "te", "user-agent", "host"] {
                metadata.remove(name);
            }
            let _ = socket.out.send(Frame {
                stream: id,
                kind: Kind::Open {
                    path: head.uri.path().to_owned(),
                    metadata,
                },
            });
            // The request body goes out as it is produced, within the server's window.
            let (sender, registration) = AbortHandle::new_pair();
            spawn(async move {
                let _ = Abortable::new(send_body(body, out, id, window), registration).await;
            });
            let guard = CancelOnDrop {
                out: socket.out.clone(),
                stream: id,
                sender: Some(sender),
                done: false,
            };
            // The headers, or the whole answer when it is trailers only (or failed).
            let (headers, ended) = match heard.recv().await {
                Some(Event::Headers(headers)) => (headers, false),
                Some(Event::Trailers(trailers)) => (trailers, true),
                Some(Event::Failed(status)) => (status_trailers(&status), true),
                Some(Event::Data(_)) | None => (
                    status_trailers(&tonic::Status::unavailable(
                        "grpc-ws: the call ended without an answer",
                    )),
                    true,
                ),
            };
            let mut guard = guard;
            guard.done = ended;
            let mut response = http::Response::new(Answer {
                events: heard,
                out: socket.out.clone(),
                stream: id,
                guard,
                ended,
            });
            *response.headers_mut() = headers;
            Ok(response)
        })
    }
}

async fn send_body(
    mut body: tonic::body::Body,
    out: mpsc::UnboundedSender<Frame>,
    stream: u32,
    window: Arc<Semaphore>,
) {
    let mut body = Pin::new(&mut body);
    while let Some(Ok(frame)) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        while !data.is_empty() {
            let want = data.len().min(MAX_DATA_FRAME) as u32;
            let Some(granted) = crate::window::take(&window, want).await else {
                return;
            };
            if out
                .send(Frame {
                    stream,
                    kind: Kind::Data(data.split_to(granted as usize)),
                })
                .is_err()
            {
                return;
            }
        }
    }
    let _ = out.send(Frame {
        stream,
        kind: Kind::End,
    });
}

/// Sends `CANCEL` (and stops the request's sender) unless the call ended.
struct CancelOnDrop {
    out: mpsc::UnboundedSender<Frame>,
    stream: u32,
    sender: Option<AbortHandle>,
    done: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.abort();
        }
        if !self.done {
            let _ = self.out.send(Frame {
                stream: self.stream,
                kind: Kind::Cancel,
            });
        }
    }
}

/// A call's answer as the generated client reads it.
pub struct Answer {
    events: mpsc::UnboundedReceiver<Event>,
    out: mpsc::UnboundedSender<Frame>,
    stream: u32,
    guard: CancelOnDrop,
    ended: bool,
}

impl http_body::Body for Answer {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.events.poll_recv(context) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Event::Data(bytes))) => {
                let _ = self.out.send(Frame {
                    stream: self.stream,
                    kind: Kind::Window(u32::try_from(bytes.len()).unwrap_or(u32::MAX)),
                });
                Poll::Ready(Some(Ok(http_body::Frame::data(bytes))))
            }
            Poll::Ready(Some(Event::Trailers(trailers))) => {
                self.ended = true;
                self.guard.done = true;
                Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))))
            }
            Poll::Ready(Some(Event::Failed(status))) => {
                self.ended = true;
                self.guard.done = true;
                Poll::Ready(Some(Ok(http_body::Frame::trailers(status_trailers(
                    &status,
                )))))
            }
            Poll::Ready(Some(Event::Headers(_))) => {
                Poll::Ready(Some(Err(tonic::Status::internal("grpc-ws: headers twice"))))
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(Some(Ok(http_body::Frame::trailers(status_trailers(
                    &tonic::Status::unavailable("the grpc-ws socket closed"),
                )))))
            }
        }
    }
}

fn status_trailers(status: &tonic::Status) -> HeaderMap {
    crate::status_trailers(status.code() as i32, status.message())
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

//! The client end of grpc-ws: a `tower::Service` for tonic's generated clients,
//! multiplexing every call on one socket (made on the first call, and again after it
//! breaks or the server sends GOAWAY). The socket itself is tokio-tungstenite's natively
//! (`native.rs`) and the page's `WebSocket` in a browser (`browser.rs`); everything else is
//! here, the same for both.
//!
//! Per call: `OPEN`, then the request body as DATA within the server's window (256 KiB per
//! stream, returned as the handler reads), `END` when it ends; the answer's DATA is returned
//! window for as the generated client reads it, so a slow reader stops the server's
//! handler. Dropping the answer before its trailers sends `CANCEL`. A broken socket ends
//! every open call with UNAVAILABLE. A call with `grpc-timeout` also fails at that deadline
//! here (DEADLINE_EXCEEDED, then `CANCEL`), even if the server says nothing; the socket is
//! pinged every 15 s and dropped when the server does not answer within 10 s.
//!
//! [`Fallback`] puts gRPC-Web over `fetch` (or any other transport) behind the socket: when
//! the socket cannot be opened, a call whose request is complete when it is made (unary,
//! server streaming) goes over the other transport; one still being written fails with
//! UNAVAILABLE saying why.

mod fallback;
pub use fallback::{Fallback, FallbackBody, OnVia, Via};

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_util::future::{AbortHandle, Abortable};
use http::HeaderMap;
use http_body::Body as _;
use tokio::sync::{Notify, Semaphore, mpsc};

use crate::{Frame, INITIAL_WINDOW, Kind};

// By target, not by feature: a workspace build turns on both features (the web app asks
// for `browser`, the server's tests for `client`), and each target has one socket.
#[cfg(all(feature = "browser", target_arch = "wasm32"))]
mod browser;
#[cfg(all(feature = "client", not(target_arch = "wasm32")))]
mod native;

#[cfg(all(feature = "browser", target_arch = "wasm32"))]
use browser::{connect, now_millis, sleep, spawn};
#[cfg(all(feature = "client", not(target_arch = "wasm32")))]
use native::{connect, now_millis, sleep, spawn};

/// The call's future: `Send` natively; in a browser nothing is, and nothing needs to be.
#[cfg(target_arch = "wasm32")]
type CallFuture<T> = futures_util::future::LocalBoxFuture<'static, T>;
#[cfg(not(target_arch = "wasm32"))]
type CallFuture<T> = futures_util::future::BoxFuture<'static, T>;

/// Largest DATA frame the client sends.
const MAX_DATA_FRAME: usize = 64 * 1024;
/// How often an open socket is pinged, and how long the server has to answer.
const PING_INTERVAL: Duration = Duration::from_secs(15);
const PING_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Answer bytes received and not yet read; the server may send at most a window.
    unread: Arc<AtomicU32>,
}

/// One socket and its calls.
pub(crate) struct Socket {
    out: mpsc::UnboundedSender<Frame>,
    streams: Mutex<HashMap<u32, Stream>>,
    next: Mutex<u32>,
    /// No new calls on it: broken, or the server is going away.
    closed: AtomicBool,
    /// Gone: the reader and the writer stop.
    ended: Arc<Ended>,
    /// Something came from the server since the last ping.
    heard: AtomicBool,
    /// DATA bytes received on it, every call's.
    received: AtomicU64,
}

impl Socket {
    /// A socket whose frames go out through `out`.
    fn new(out: mpsc::UnboundedSender<Frame>) -> Arc<Self> {
        Arc::new(Self {
            out,
            streams: Mutex::default(),
            next: Mutex::new(1),
            closed: false.into(),
            ended: Arc::default(),
            heard: false.into(),
            received: AtomicU64::new(0),
        })
    }

    /// Ends the socket: every open call fails with `status`, the reader and writer stop.
    fn fail_all(&self, status: &tonic::Status) {
        self.closed.store(true, Ordering::Release);
        self.ended.end();
        for (_, stream) in self.streams.lock().expect("streams").drain() {
            let _ = stream.events.send(Event::Failed(status.clone()));
        }
    }

    /// A call's own deadline passed: it fails here and is cancelled on the server.
    fn expire(&self, stream: u32, after: Duration) {
        if let Some(call) = self.streams.lock().expect("streams").remove(&stream) {
            let _ = call
                .events
                .send(Event::Failed(tonic::Status::deadline_exceeded(format!(
                    "the call's deadline ({after:?}) passed before it ended"
                ))));
            let _ = self.out.send(Frame {
                stream,
                kind: Kind::Cancel,
            });
        }
    }
}

impl Drop for Socket {
    /// Nothing uses it any more: it closes.
    fn drop(&mut self) {
        self.ended.end();
    }
}

/// That a socket has ended, for its reader and writer to stop on.
#[derive(Default)]
pub(crate) struct Ended {
    flag: AtomicBool,
    notify: Notify,
}

impl Ended {
    fn end(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Resolves once the socket has ended.
    pub(crate) async fn wait(&self) {
        // Registered before the check, so an `end` in between is not missed.
        let notified = self.notify.notified();
        if !self.flag.load(Ordering::Acquire) {
            notified.await;
        }
    }
}

/// Pings the socket while it is in use; one the server does not answer is ended.
async fn keepalive(socket: Weak<Socket>, interval: Duration, timeout: Duration) {
    let mut opaque = 0u64;
    loop {
        sleep(interval).await;
        {
            let Some(socket) = socket.upgrade() else {
                return;
            };
            if socket.ended.flag.load(Ordering::Acquire) {
                return;
            }
            socket.heard.store(false, Ordering::Release);
            opaque += 1;
            let _ = socket.out.send(Frame {
                stream: 0,
                kind: Kind::Ping(opaque.to_be_bytes()),
            });
        }
        sleep(timeout).await;
        let Some(socket) = socket.upgrade() else {
            return;
        };
        if !socket.heard.load(Ordering::Acquire) {
            socket.fail_all(&tonic::Status::unavailable(format!(
                "the grpc-ws socket went quiet: no answer to a ping within {timeout:?}"
            )));
            return;
        }
    }
}

/// The transport: `ws://HOST:PORT/grpc-ws` (or `wss://`). Clones share the socket.
#[derive(Clone)]
pub struct Client {
    url: Arc<str>,
    socket: Arc<tokio::sync::Mutex<Option<Arc<Socket>>>>,
    /// When the last attempt to open a socket failed (ms since the epoch), and why.
    failed: Arc<Mutex<Option<(f64, tonic::Status)>>>,
    /// How soon after a failed attempt another is made; calls in between fail at once.
    retry_after: Duration,
    ping: (Duration, Duration),
    sockets_opened: Arc<AtomicU64>,
}

impl Client {
    pub fn new(url: impl Into<Arc<str>>) -> Self {
        Self {
            url: url.into(),
            socket: Arc::default(),
            failed: Arc::default(),
            retry_after: Duration::ZERO,
            ping: (PING_INTERVAL, PING_TIMEOUT),
            sockets_opened: Arc::default(),
        }
    }

    /// After a socket fails to open, calls within `pause` fail at once with the same
    /// status instead of trying again (a [`Fallback`] sends them the other way).
    #[must_use]
    pub fn retry_after(mut self, pause: Duration) -> Self {
        self.retry_after = pause;
        self
    }

    /// Ping every `interval`; a socket that does not answer within `timeout` is ended.
    #[must_use]
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.ping = (interval, timeout);
        self
    }

    /// How many sockets this client (and its clones) opened so far.
    pub fn sockets_opened(&self) -> u64 {
        self.sockets_opened.load(Ordering::Relaxed)
    }

    /// DATA bytes received so far on the socket now open (0 when none is): with what the
    /// generated clients have read, how far the server is ahead of them.
    pub fn data_received(&self) -> u64 {
        self.socket
            .try_lock()
            .ok()
            .and_then(|slot| {
                slot.as_ref()
                    .map(|socket| socket.received.load(Ordering::Relaxed))
            })
            .unwrap_or(0)
    }

    /// The open socket, or a new one.
    async fn socket(&self) -> Result<Arc<Socket>, tonic::Status> {
        let mut slot = self.socket.lock().await;
        if let Some(socket) = slot.as_ref()
            && !socket.closed.load(Ordering::Acquire)
        {
            return Ok(Arc::clone(socket));
        }
        if let Some((at, status)) = self.failed.lock().expect("failed").as_ref()
            && now_millis() - at < self.retry_after.as_secs_f64() * 1000.0
        {
            return Err(status.clone());
        }
        let socket = match connect(&self.url).await {
            Ok(socket) => socket,
            Err(status) => {
                *self.failed.lock().expect("failed") = Some((now_millis(), status.clone()));
                return Err(status);
            }
        };
        self.failed.lock().expect("failed").take();
        self.sockets_opened.fetch_add(1, Ordering::Relaxed);
        let (interval, timeout) = self.ping;
        spawn(keepalive(Arc::downgrade(&socket), interval, timeout));
        *slot = Some(Arc::clone(&socket));
        Ok(socket)
    }
}

/// A frame from the server, to the call it is for.
fn dispatch(socket: &Socket, frame: Frame) {
    socket.heard.store(true, Ordering::Release);
    let mut streams = socket.streams.lock().expect("streams");
    let event = match frame.kind {
        Kind::Headers(headers) => Event::Headers(headers),
        Kind::Data(bytes) => {
            let len = bytes.len() as u32;
            socket.received.fetch_add(u64::from(len), Ordering::Relaxed);
            let Some(stream) = streams.get(&frame.stream) else {
                return;
            };
            if stream.unread.fetch_add(len, Ordering::AcqRel) + len > INITIAL_WINDOW {
                // A server past the window it was given: this call is cut, not buffered.
                let _ = stream.events.send(Event::Failed(tonic::Status::internal(
                    "grpc-ws: the server sent more than the call's window",
                )));
                streams.remove(&frame.stream);
                let _ = socket.out.send(Frame {
                    stream: frame.stream,
                    kind: Kind::Cancel,
                });
                return;
            }
            Event::Data(bytes)
        }
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
            socket.closed.store(true, Ordering::Release);
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
            Ok(call(&socket, request).await)
        })
    }
}

/// Makes the call on `socket`; its answer as the generated client reads it.
async fn call(
    socket: &Arc<Socket>,
    request: http::Request<tonic::body::Body>,
) -> http::Response<Answer> {
    let (head, body) = request.into_parts();
    let id = {
        let mut next = socket.next.lock().expect("ids");
        let id = *next;
        *next += 1;
        id
    };
    let (events, mut heard) = mpsc::unbounded_channel();
    let window = Arc::new(Semaphore::new(INITIAL_WINDOW as usize));
    let unread = Arc::new(AtomicU32::new(0));
    socket.streams.lock().expect("streams").insert(
        id,
        Stream {
            events,
            window: Arc::clone(&window),
            unread: Arc::clone(&unread),
        },
    );
    let out = socket.out.clone();
    let deadline = head
        .headers
        .get("grpc-timeout")
        .and_then(|value| parse_timeout(value.as_bytes()));
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
    // The deadline, here too: the call fails at it even if the server says nothing.
    let timer = deadline.map(|after| {
        let (timer, registration) = AbortHandle::new_pair();
        let socket = Arc::downgrade(socket);
        spawn(async move {
            let expire = async {
                sleep(after).await;
                if let Some(socket) = socket.upgrade() {
                    socket.expire(id, after);
                }
            };
            let _ = Abortable::new(expire, registration).await;
        });
        timer
    });
    let guard = CancelOnDrop {
        out: socket.out.clone(),
        stream: id,
        sender: Some(sender),
        timer,
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
        socket: Arc::clone(socket),
        stream: id,
        guard,
        ended,
        unread,
    });
    *response.headers_mut() = headers;
    response
}

/// `grpc-timeout`: at most 8 digits and a unit (H, M, S, m, u, n).
fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
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
            let Some(granted) = crate::window::take(&window, want, INITIAL_WINDOW).await else {
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
    timer: Option<AbortHandle>,
    done: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.abort();
        }
        if let Some(timer) = self.timer.take() {
            timer.abort();
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
    /// Kept open while the answer is read, even if the client is gone.
    socket: Arc<Socket>,
    stream: u32,
    guard: CancelOnDrop,
    ended: bool,
    /// Answer bytes received and not yet read: never more than the window given.
    unread: Arc<AtomicU32>,
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
                self.unread.fetch_sub(bytes.len() as u32, Ordering::AcqRel);
                let _ = self.socket.out.send(Frame {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_in_every_unit_and_nothing_else() {
        assert_eq!(parse_timeout(b"10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_timeout(b"1500m"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_timeout(b"7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_timeout(b"9n"), Some(Duration::from_nanos(9)));
        for bad in [
            &b""[..],
            b"S",
            b"10",
            b"10s",
            b"123456789S",
            b"-1S",
            b"1.5S",
        ] {
            assert_eq!(parse_timeout(bad), None, "{bad:?}");
        }
    }
}

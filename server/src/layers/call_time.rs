//! How long a call may hold the server while its client keeps the request stream open: a
//! call whose request sends nothing for `--request-idle-timeout`, or that runs past
//! `--max-call-duration` without the client closing its side, ends with DEADLINE_EXCEEDED
//! and a message saying which, and its handler's work stops. This frees the slots a client
//! that opens calls and goes quiet (a slow-loris) would hold; a unary call whose request
//! never arrives is one of them.
//!
//! Once the client has closed its side, nothing here applies: a server stream then runs as
//! long as it has something to send (a large download, a live feed). Live subscriptions
//! whose clients keep their side open by design (chat `Join`) are exempt, named by the
//! caller; they are bounded per client (`call_limits.rs`) instead.

use std::{
    collections::HashSet,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::body::Body;
use bytes::Bytes;
use http_body::Frame;
use tokio::time::Instant;
use tonic::Status;

use super::body::{CallBody, CallResponse, Check};
use super::calls::CallRequest;

/// The limits, and the methods exempt from them.
#[derive(Debug, Clone)]
pub struct CallTime {
    pub request_idle: Duration,
    pub max_duration: Duration,
    /// Paths (`/package.Service/Method`) of live subscriptions.
    pub live: Arc<HashSet<String>>,
}

/// A step of every call (`layers::calls`).
pub async fn enforce(
    limits: &CallTime,
    mut request: CallRequest,
    next: impl AsyncFnOnce(CallRequest) -> CallResponse,
) -> CallResponse {
    if limits.live.contains(request.uri().path()) {
        // Boxed: awaited here, the handler's future would have a second place in this one
        // beside the one the loop below polls, and every call's future would carry both.
        return Box::pin(next(request)).await;
    }
    let started = Instant::now();
    let progress = Arc::new(Progress {
        started,
        last_ms: AtomicU64::new(0),
        ended: AtomicBool::new(false),
    });
    let watch = Watch {
        progress: Arc::clone(&progress),
        idle: limits.request_idle,
        max: limits.max_duration,
    };
    super::calls::map_body(&mut request, |body| {
        Body::new(Watched {
            inner: body,
            progress,
        })
    });
    let first = started + limits.request_idle.min(limits.max_duration);
    let run = next(request);
    tokio::pin!(run);
    // Until the handler answers (a unary call waits for its whole request first).
    let mut at = first;
    let mut response = loop {
        tokio::select! {
            // The handler first: a call that answers at once never sets the timer.
            biased;
            response = &mut run => break response,
            () = tokio::time::sleep_until(at) => match watch.check() {
                Check::Later(later) => at = later,
                Check::Now(status) => return CallBody::refusal(status),
                Check::Never => break run.await,
            },
        }
    };
    // A request already over (a unary call's, by the time it answers) has nothing left to
    // watch.
    if !watch.request_over() {
        response.body_mut().end_when(watch, at);
    }
    response
}

/// How far the request stream has come.
#[derive(Debug)]
struct Progress {
    started: Instant,
    /// When the request last moved, in milliseconds since `started`.
    last_ms: AtomicU64,
    /// The client closed its side.
    ended: AtomicBool,
}

impl Progress {
    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }
}

/// Whether a call's request has stalled or run too long: asked by the call's body
/// ([`CallBody::end_when`]) when its timer fires.
#[derive(Debug)]
pub struct Watch {
    progress: Arc<Progress>,
    idle: Duration,
    max: Duration,
}

impl Watch {
    /// The client has closed its side: nothing here applies any more.
    fn request_over(&self) -> bool {
        self.progress.ended.load(Ordering::Relaxed)
    }

    pub fn check(&self) -> Check {
        if self.request_over() {
            return Check::Never;
        }
        let progress = &self.progress;
        let last =
            progress.started + Duration::from_millis(progress.last_ms.load(Ordering::Relaxed));
        let (idle_end, max_end) = (last + self.idle, progress.started + self.max);
        let now = Instant::now();
        if now >= max_end {
            Check::Now(Status::deadline_exceeded(format!(
                "the call ran past the server's limit of {} with its request still open",
                humantime::format_duration(self.max)
            )))
        } else if now >= idle_end {
            Check::Now(Status::deadline_exceeded(format!(
                "the request sent nothing for {}: the server ended the call",
                humantime::format_duration(self.idle)
            )))
        } else {
            Check::Later(idle_end.min(max_end))
        }
    }
}

/// The request body, noting each frame and its end in [`Progress`].
///
/// Written by hand rather than with `map_frame` (`body.rs`): the end of the stream
/// (`Ready(None)`) is what matters here, and a combinator's closure never sees it.
struct Watched {
    inner: Body,
    progress: Arc<Progress>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(_)) => self.progress.touch(),
            Poll::Ready(None) => self.progress.ended.store(true, Ordering::Relaxed),
            Poll::Pending => {}
        }
        if self.inner.is_end_stream() {
            self.progress.ended.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

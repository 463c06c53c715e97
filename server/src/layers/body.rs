//! What the middleware shares: a gRPC refusal made before a handler runs, a call's response
//! body with what each step of the call adds to it ([`CallBody`]), and bodies passed
//! through with something done on each frame, or kept alive until they end.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use axum::{body::Body, response::Response};
use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::time::{Instant, Sleep};
use tonic::Status;

use super::{access_log::Ending, call_limits::Slots, call_time::Watch};

/// A gRPC status as a whole (trailers-only) response, for middleware that refuses a call;
/// the gRPC-Web layer outside frames it for gRPC-Web clients.
pub fn status_response(status: Status) -> Response {
    let (parts, ()) = status.into_http::<()>().into_parts();
    Response::from_parts(parts, Body::empty())
}

/// A response of a call's steps (`calls.rs`).
pub type CallResponse = Response<CallBody>;

/// What a time limit finds when its timer fires.
#[derive(Debug)]
pub enum Check {
    /// Not yet: look again then.
    Later(Instant),
    /// End the call now, with this status.
    Now(Status),
    /// Never: the body runs to its own end.
    Never,
}

/// A call's response body: the handler's, with what each step of the call adds to it: the
/// status rewrite for oversized messages, the deadline, the request's time limits, the
/// call's slots and its access-log record.
///
/// One body for all of them, each step setting its part, where each step used to wrap the
/// body in one of its own: a boxed body per step that every message was polled through
/// (five in all with their error maps), and a timer per time limit. The profile of the live
/// fan-out and of unary calls showed those wrappers (issue 14; BENCHMARKS.md).
///
/// When a time limit ends the call, the handler's body is dropped on the spot (which drops
/// its stream: its work stops) and the call ends with trailers of its own. When the body is
/// dropped, at its end or when the client goes away, the slots are released, then the call
/// is logged.
pub struct CallBody {
    /// `None` once cut off.
    inner: Option<Body>,
    /// Applied to every trailer block (and trailers-only headers, by the step itself).
    rewrite: Option<fn(&mut HeaderMap)>,
    cutoff: Option<Cutoff>,
    /// Declared before `ending`, so released before the call is logged.
    slots: Option<Slots>,
    ending: Option<Ending>,
}

impl CallBody {
    /// The handler's response, for the steps to add to.
    pub fn response(response: Response) -> CallResponse {
        response.map(|body| Self {
            inner: Some(body),
            rewrite: None,
            cutoff: None,
            slots: None,
            ending: None,
        })
    }

    /// A refusal made before the handler runs: [`status_response`].
    pub fn refusal(status: Status) -> CallResponse {
        Self::response(status_response(status))
    }

    /// `rewrite` is shown every trailer block as it passes.
    pub fn rewrite_trailers(&mut self, rewrite: fn(&mut HeaderMap)) {
        self.rewrite = Some(rewrite);
    }

    /// The call ends with DEADLINE_EXCEEDED at `deadline` if still running.
    pub fn end_at_deadline(&mut self, deadline: Instant) {
        self.cutoff_at(deadline).deadline = Some(deadline);
    }

    /// `watch` is asked at `first` (and then when it says) whether the call must end.
    pub fn end_when(&mut self, watch: Watch, first: Instant) {
        self.cutoff_at(first).watch = Some(watch);
    }

    /// The call's slots, held until the body ends or is dropped.
    pub fn hold(&mut self, slots: Slots) {
        self.slots = Some(slots);
    }

    /// `ending` sees every frame, and is dropped (logging the call) with the body.
    pub fn observe(&mut self, ending: Ending) {
        self.ending = Some(ending);
    }

    fn cutoff_at(&mut self, at: Instant) -> &mut Cutoff {
        let cutoff = self.cutoff.get_or_insert_with(|| Cutoff {
            timer: Box::pin(tokio::time::sleep_until(at)),
            deadline: None,
            watch: None,
        });
        if at < cutoff.timer.deadline() {
            cutoff.timer.as_mut().reset(at);
        }
        cutoff
    }
}

impl std::fmt::Debug for CallBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallBody")
            .field("cut_off", &self.inner.is_none())
            .field("cutoff", &self.cutoff)
            .finish_non_exhaustive()
    }
}

/// The call's time limits, on one timer set to the earliest.
#[derive(Debug)]
struct Cutoff {
    timer: Pin<Box<Sleep>>,
    deadline: Option<Instant>,
    /// The request's time limits (`call_time.rs`); `None` once they said never.
    watch: Option<Watch>,
}

impl Cutoff {
    /// The status to end the call with, if it is time: `Pending` otherwise (the timer set
    /// to look again when it must, or no longer polled when nothing will end the call).
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Status> {
        loop {
            if self.deadline.is_none() && self.watch.is_none() {
                return Poll::Pending;
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            match self.check() {
                Check::Now(status) => return Poll::Ready(status),
                Check::Later(at) => self.timer.as_mut().reset(at),
                Check::Never => {}
            }
        }
    }

    fn check(&mut self) -> Check {
        if let Some(deadline) = self.deadline
            && Instant::now() >= deadline
        {
            return Check::Now(Status::deadline_exceeded("deadline exceeded"));
        }
        let watched = match self.watch.as_ref().map(Watch::check) {
            Some(Check::Now(status)) => return Check::Now(status),
            Some(Check::Later(at)) => Some(at),
            Some(Check::Never) => {
                self.watch = None;
                None
            }
            None => None,
        };
        match (self.deadline, watched) {
            (Some(deadline), Some(watched)) => Check::Later(deadline.min(watched)),
            (one, other) => one.or(other).map_or(Check::Never, Check::Later),
        }
    }
}

impl http_body::Body for CallBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let mut polled = match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(polled) => polled,
            Poll::Pending => {
                let Some(cutoff) = this.cutoff.as_mut() else {
                    return Poll::Pending;
                };
                let Poll::Ready(status) = cutoff.poll(cx) else {
                    return Poll::Pending;
                };
                this.inner = None;
                let mut trailers = HeaderMap::new();
                // A status's own code and message always make valid headers.
                let _ = status.add_header(&mut trailers);
                Some(Ok(Frame::trailers(trailers)))
            }
        };
        if let Some(Ok(frame)) = &mut polled {
            if let (Some(rewrite), Some(trailers)) = (this.rewrite, frame.trailers_mut()) {
                rewrite(trailers);
            }
            if let Some(ending) = this.ending.as_mut() {
                ending.observe(frame);
            }
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        // Exact for a trailers-only answer (HTTP/1.1 then sends `content-length: 0`).
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

/// `body`, with `on_frame` shown (and free to change) each frame as it passes. `on_frame`
/// is dropped with the body.
///
/// A body that is already over (a trailers-only answer: a refusal, an error) is returned as
/// it is and `on_frame` dropped at once: it has no frame to show, and `map_frame` would hide
/// its exact size, so HTTP/1.1 would send it chunked instead of with `content-length: 0`.
pub fn on_frame<F>(body: Body, mut on_frame: F) -> Body
where
    F: FnMut(&mut Frame<Bytes>) + Send + 'static,
{
    if body.is_end_stream() {
        return body;
    }
    Body::new(body.map_frame(move |mut frame| {
        on_frame(&mut frame);
        frame
    }))
}

/// `body`, keeping `guard` alive until the body ends or is dropped: a connection's count of
/// calls lasts as long as its responses, streams included.
pub fn holding<G: Send + 'static>(body: Body, guard: G) -> Body {
    on_frame(body, move |_| {
        let _ = &guard;
    })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::HeaderValue;
    use http_body_util::StreamBody;

    use super::*;

    #[test]
    fn a_refusal_is_over_and_exactly_empty() {
        let body = CallBody::refusal(Status::unavailable("not now")).into_body();
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }

    #[tokio::test]
    async fn trailers_are_rewritten_as_they_pass() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("11"));
        let frames = futures_util::stream::iter([
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"message"))),
            Ok(Frame::trailers(trailers)),
        ]);
        let mut body =
            CallBody::response(Response::new(Body::new(StreamBody::new(frames)))).into_body();
        body.rewrite_trailers(|trailers| {
            trailers.insert("grpc-status", HeaderValue::from_static("8"));
        });
        let data = body.frame().await.expect("data").expect("ok");
        assert_eq!(data.into_data().expect("data"), "message");
        let trailers = body.frame().await.expect("trailers").expect("ok");
        assert_eq!(
            trailers.into_trailers().expect("trailers")["grpc-status"],
            "8"
        );
    }
}

//! Deadlines: the server enforces the `grpc-timeout` a client sends, for every method.
//!
//! A call still waiting for its response when the deadline passes gets DEADLINE_EXCEEDED.
//! A stream still running then ends with DEADLINE_EXCEEDED in its trailers, and its body is
//! dropped on the spot, which drops the handler's stream: its work stops with it. (tonic's
//! own server does only the first half, and only under `tonic::transport::Server`.)

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, extract::Request, response::Response};
use bytes::Bytes;
use http::HeaderMap;
use http_body::Frame;
use tokio::time::{Instant, Sleep};
use tonic::Status;

const GRPC_TIMEOUT: &str = "grpc-timeout";
#[cfg(test)]
const DEADLINE_EXCEEDED: &str = "4";

/// A call's deadline, in its request's extensions, for the calls it makes on to other
/// services (`blog::forward`).
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Instant);

impl Deadline {
    /// The time left, zero once passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// A step of every call (`layers::calls`) that applies the request's `grpc-timeout`.
pub async fn enforce(
    mut request: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let Some(timeout) = request
        .headers()
        .get(GRPC_TIMEOUT)
        .and_then(|value| parse_grpc_timeout(value.to_str().ok()?))
    else {
        return next(request).await;
    };
    let deadline = Instant::now() + timeout;
    request.extensions_mut().insert(Deadline(deadline));
    let exceeded = || Status::deadline_exceeded("deadline exceeded");
    match tokio::time::timeout_at(deadline, next(request)).await {
        Ok(response) => {
            response.map(|body| Cutoff::body(body, deadline, move || Check::Now(exceeded())))
        }
        Err(_) => super::body::status_response(exceeded()),
    }
}

/// `grpc-timeout`: at most 8 digits and a unit (Hours, Minutes, Seconds, milliseconds,
/// microseconds, nanoseconds). Anything else is ignored, as the gRPC spec says.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// What a [`Cutoff`]'s timer finds when it fires.
#[derive(Debug)]
pub enum Check {
    /// Not yet: look again then.
    Later(Instant),
    /// End the call now, with this status.
    Now(Status),
    /// Never: the body runs to its own end.
    Never,
}

/// A response body that ends the call with a status of its own when its timer fires and
/// `check` says so: at the deadline, or when the client's request stream stalls.
///
/// Written by hand, unlike the other pass-through bodies (`body.rs`): it polls a timer
/// beside the inner body, and when it cuts drops the inner body (the handler's stream: its
/// work stops) and yields trailers of its own, which no `http_body_util` combinator does.
pub struct Cutoff<F> {
    /// `None` once cut: the handler's stream is already dropped.
    inner: Option<Body>,
    /// `None` once `check` said never.
    timer: Option<Pin<Box<Sleep>>>,
    check: F,
}

impl<F: FnMut() -> Check + Send + Unpin + 'static> Cutoff<F> {
    /// `body`, checked with `check` first at `at`.
    pub fn body(body: Body, at: Instant, check: F) -> Body {
        Body::new(Self {
            inner: Some(body),
            timer: Some(Box::pin(tokio::time::sleep_until(at))),
            check,
        })
    }
}

impl<F: FnMut() -> Check + Send + Unpin + 'static> http_body::Body for Cutoff<F> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(frame) = Pin::new(inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        while let Some(timer) = this.timer.as_mut() {
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            match (this.check)() {
                Check::Later(at) => timer.as_mut().reset(at),
                Check::Never => this.timer = None,
                Check::Now(status) => {
                    this.inner = None;
                    let mut trailers = HeaderMap::new();
                    // A status's own code and message always make valid headers.
                    let _ = status.add_header(&mut trailers);
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }
}

#[cfg(test)]
mod tests {
    use axum::{Router, middleware, routing::post};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    #[test]
    fn parses_the_grpc_timeout_header() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("500m"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_grpc_timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(parse_grpc_timeout("7n"), Some(Duration::from_nanos(7)));
        for bad in ["", "S", "100", "123456789S", "1.5S", "-1S", "10x", "１S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    fn slow_app(delay: Duration) -> Router {
        Router::new()
            .route(
                "/slow",
                post(move || async move {
                    tokio::time::sleep(delay).await;
                    "done"
                }),
            )
            .layer(middleware::from_fn(
                |request: Request, next: middleware::Next| {
                    enforce(request, async |request| next.run(request).await)
                },
            ))
    }

    fn request(timeout: Option<&str>) -> Request {
        let mut request = http::Request::post("/slow");
        if let Some(timeout) = timeout {
            request = request.header(GRPC_TIMEOUT, timeout);
        }
        request.body(Body::empty()).expect("request")
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_answer_past_the_deadline_is_deadline_exceeded() {
        let response = slow_app(Duration::from_secs(5))
            .oneshot(request(Some("1S")))
            .await
            .expect("infallible");
        assert_eq!(response.headers()["grpc-status"], DEADLINE_EXCEEDED);
    }

    #[tokio::test(start_paused = true)]
    async fn answers_within_the_deadline_or_without_one_pass_through() {
        for timeout in [Some("10S"), None, Some("garbage")] {
            let response = slow_app(Duration::from_secs(1))
                .oneshot(request(timeout))
                .await
                .expect("infallible");
            assert!(!response.headers().contains_key("grpc-status"));
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            assert_eq!(body, "done");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_still_streaming_at_the_deadline_ends_with_deadline_exceeded() {
        let never_ending =
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
        let mut body = Cutoff {
            inner: Some(never_ending),
            timer: Some(Box::pin(tokio::time::sleep(Duration::from_secs(2)))),
            check: || Check::Now(Status::deadline_exceeded("deadline exceeded")),
        };
        let frame = body.frame().await.expect("a frame").expect("no error");
        let trailers = frame.into_trailers().expect("trailers");
        assert_eq!(trailers["grpc-status"], DEADLINE_EXCEEDED);
        assert!(body.inner.is_none(), "the inner body is dropped");
        assert!(body.frame().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cutoff_looks_again_when_told_later_and_stops_when_told_never() {
        let started = Instant::now();
        let mut looks = 0;
        let never_ending =
            || Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
        let mut body = Cutoff {
            inner: Some(never_ending()),
            timer: Some(Box::pin(tokio::time::sleep(Duration::from_secs(1)))),
            check: move || {
                looks += 1;
                if looks < 3 {
                    Check::Later(Instant::now() + Duration::from_secs(1))
                } else {
                    Check::Now(Status::cancelled("enough"))
                }
            },
        };
        let trailers = body
            .frame()
            .await
            .expect("a frame")
            .expect("ok")
            .into_trailers();
        assert_eq!(trailers.expect("trailers")["grpc-status"], "1");
        assert_eq!(started.elapsed(), Duration::from_secs(3));

        let mut forever = Cutoff {
            inner: Some(never_ending()),
            timer: Some(Box::pin(tokio::time::sleep(Duration::from_secs(1)))),
            check: || Check::Never,
        };
        let polled = tokio::time::timeout(Duration::from_secs(60), forever.frame()).await;
        assert!(polled.is_err(), "still running after the check said never");
        assert!(forever.inner.is_some());
    }
}

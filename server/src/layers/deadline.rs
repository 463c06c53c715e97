//! Deadlines: the server enforces the `grpc-timeout` a client sends, for every method.
//!
//! A call still waiting for its response when the deadline passes gets DEADLINE_EXCEEDED.
//! A stream still running then ends with DEADLINE_EXCEEDED in its trailers, and its body is
//! dropped on the spot, which drops the handler's stream: its work stops with it. (tonic's
//! own server does only the first half, and only under `tonic::transport::Server`.)

use std::time::Duration;

use tokio::time::Instant;
use tonic::Status;

use super::calls::CallRequest;
use super::{
    body::{CallBody, CallResponse},
    names::GRPC_TIMEOUT,
};

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
    mut request: CallRequest,
    next: impl AsyncFnOnce(CallRequest) -> CallResponse,
) -> CallResponse {
    let Some(timeout) = request
        .headers()
        .get(GRPC_TIMEOUT)
        .and_then(|value| parse_grpc_timeout(value.to_str().ok()?))
    else {
        return next(request).await;
    };
    let deadline = Instant::now() + timeout;
    request.extensions_mut().insert(Deadline(deadline));
    match tokio::time::timeout_at(deadline, next(request)).await {
        Ok(mut response) => {
            response.body_mut().end_at_deadline(deadline);
            response
        }
        Err(_) => CallBody::refusal(Status::deadline_exceeded("deadline exceeded")),
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

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, middleware, response::Response, routing::post};
    use bytes::Bytes;
    use http_body::Body as _;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use axum::extract::Request;

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
                |request: Request, next: middleware::Next| async move {
                    enforce(Box::new(request), async |request| {
                        CallBody::response(next.run(*request).await)
                    })
                    .await
                    .map(Body::new)
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
        let mut body = CallBody::response(Response::new(never_ending)).into_body();
        let started = Instant::now();
        body.end_at_deadline(started + Duration::from_secs(2));
        let frame = body.frame().await.expect("a frame").expect("no error");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        let trailers = frame.into_trailers().expect("trailers");
        assert_eq!(trailers["grpc-status"], DEADLINE_EXCEEDED);
        assert!(body.is_end_stream(), "the inner body is dropped");
        assert!(body.frame().await.is_none());
    }
}

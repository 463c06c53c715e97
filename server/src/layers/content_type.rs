//! A request to a gRPC method must say it is one: a content type of `application/grpc`,
//! optionally followed by `+proto` (or another codec) or parameters. Anything else gets
//! HTTP 415 Unsupported Media Type, as the gRPC over HTTP/2 spec says, rather than a gRPC
//! answer. gRPC-Web requests reach this layer already translated to `application/grpc` by
//! the gRPC-Web layer outside it (which answers 400 to an HTTP/1.1 request of neither kind).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::calls::CallRequest;

/// A step of every call (`layers::calls`).
pub async fn require_grpc(
    request: CallRequest,
    next: impl AsyncFnOnce(CallRequest) -> Response,
) -> Response {
    if request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(is_grpc)
    {
        next(request).await
    } else {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            [(
                header::ACCEPT,
                "application/grpc, application/grpc-web, application/grpc-web-text",
            )],
            "a gRPC method takes application/grpc (or gRPC-Web) requests\n",
        )
            .into_response()
    }
}

fn is_grpc(content_type: &HeaderValue) -> bool {
    let value = content_type.as_bytes();
    value
        .strip_prefix(b"application/grpc")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"+") || rest.starts_with(b";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_grpc_content_types_are_grpc() {
        for grpc in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc; charset=utf-8",
        ] {
            assert!(is_grpc(&HeaderValue::from_static(grpc)), "{grpc}");
        }
        for other in ["text/plain", "application/grpcx", "application/json", ""] {
            assert!(!is_grpc(&HeaderValue::from_static(other)), "{other}");
        }
    }
}

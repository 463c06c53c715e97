//! The status for a message over `--max-message-bytes`: gRPC says RESOURCE_EXHAUSTED
//! ("request message larger than configured limit"); tonic answers OUT_OF_RANGE. This
//! middleware rewrites that one status, in headers (trailers-only responses) or trailers,
//! and leaves every other status alone.
//!
//! tonic reports the condition only in its message text, so that is what is matched. The
//! wording is pinned by the integration tests `messages_past_the_limit_are_resource_exhausted`
//! and `responses_past_the_limit_are_resource_exhausted_too` (tests/api/transport.rs), which
//! send real oversized messages through tonic both ways: if a tonic upgrade rewords the
//! message, they fail with OUT_OF_RANGE instead of passing quietly.

use http::{HeaderMap, HeaderValue};

use super::calls::CallRequest;
use super::{
    body::CallResponse,
    names::{GRPC_MESSAGE, GRPC_STATUS},
};

const OUT_OF_RANGE: &[u8] = b"11";
const RESOURCE_EXHAUSTED: &str = "8";
/// How tonic words a message over the limit, decoding or encoding.
const TONIC_TOO_LARGE: [&str; 2] = [
    "Error, decoded message length too large",
    "Error, encoded message length too large",
];

/// A step of every call (`layers::calls`).
pub async fn resource_exhausted(
    request: CallRequest,
    next: impl AsyncFnOnce(CallRequest) -> CallResponse,
) -> CallResponse {
    let mut response = next(request).await;
    rewrite(response.headers_mut());
    response.body_mut().rewrite_trailers(rewrite);
    response
}

/// Turns tonic's OUT_OF_RANGE for an oversized message into RESOURCE_EXHAUSTED.
fn rewrite(headers: &mut HeaderMap) {
    let too_large = headers.get(GRPC_STATUS).map(HeaderValue::as_bytes) == Some(OUT_OF_RANGE)
        && headers
            .get(GRPC_MESSAGE)
            .and_then(|message| message.to_str().ok())
            .is_some_and(|message| {
                let message = percent_decoded_prefix(message);
                TONIC_TOO_LARGE
                    .iter()
                    .any(|prefix| message.starts_with(prefix))
            });
    if too_large {
        headers.insert(GRPC_STATUS, HeaderValue::from_static(RESOURCE_EXHAUSTED));
    }
}

/// `grpc-message` is percent-encoded; the prefixes above only need spaces and commas.
fn percent_decoded_prefix(message: &str) -> String {
    message.replace("%20", " ").replace("%2C", ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(status: &'static str, message: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", HeaderValue::from_static(status));
        headers.insert("grpc-message", HeaderValue::from_static(message));
        headers
    }

    #[test]
    fn only_the_oversized_message_status_changes() {
        let mut too_large = headers(
            "11",
            "Error,%20decoded%20message%20length%20too%20large:%20found%202003%20bytes",
        );
        rewrite(&mut too_large);
        assert_eq!(too_large["grpc-status"], "8");

        let mut other = headers("11", "index%20out%20of%20range");
        rewrite(&mut other);
        assert_eq!(other["grpc-status"], "11");
        let mut ok = headers("0", "");
        rewrite(&mut ok);
        assert_eq!(ok["grpc-status"], "0");
    }
}

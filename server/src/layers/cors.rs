//! CORS for cross-origin gRPC-Web callers: an allow-list of origins, or any origin only in
//! the named development mode. Without either, only the page this server serves (same
//! origin) can call it from a browser, and no CORS layer is added at all.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::names::{GRPC_MESSAGE, GRPC_STATUS, GRPC_TIMEOUT, REQUEST_ID, X_USER_AGENT};

/// The CORS layer for `origins`, or `None` (same origin only) when no origin is allowed.
pub fn layer(origins: &[HeaderValue], any_origin: bool) -> Option<CorsLayer> {
    let allow_origin = if any_origin {
        tracing::warn!("--dev-cors-any-origin: any web site may call this server cross-origin");
        AllowOrigin::any()
    } else if origins.is_empty() {
        return None;
    } else {
        AllowOrigin::list(origins.iter().cloned())
    };
    let name = HeaderName::from_static;
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
            // What gRPC-Web clients send: the framing and deadline headers.
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                name("x-grpc-web"),
                X_USER_AGENT,
                GRPC_TIMEOUT,
                name("grpc-accept-encoding"),
                name("grpc-encoding"),
                REQUEST_ID,
                // The interop cases' custom metadata, so cross-origin interop clients work.
                name("x-grpc-test-echo-initial"),
                name("x-grpc-test-echo-trailing-bin"),
            ])
            // Trailers-only responses carry the status in headers; without exposing them the
            // browser hides the error from the page.
            .expose_headers([
                GRPC_STATUS,
                GRPC_MESSAGE,
                name("grpc-status-details-bin"),
                name("grpc-encoding"),
                REQUEST_ID,
                name("x-grpc-test-echo-initial"),
            ])
            .max_age(Duration::from_secs(24 * 3600)),
    )
}

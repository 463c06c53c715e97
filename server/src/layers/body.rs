//! What the middleware shares: a gRPC refusal made before a handler runs, and bodies passed
//! through with something done on each frame, or kept alive until they end.
//!
//! Built on `http_body_util`'s `map_frame`: the closure owns whatever must last as long as
//! the body (a call's slot, its log record), so dropping the body, at its end or when the
//! client goes away, ends that too. Only the deadline's body has its own `poll_frame`: it
//! must race the inner body against a timer and add trailers of its own.

use axum::{body::Body, response::Response};
use bytes::Bytes;
use http_body::{Body as _, Frame};
use http_body_util::BodyExt;
use tonic::Status;

/// A gRPC status as a whole (trailers-only) response, for middleware that refuses a call;
/// the gRPC-Web layer outside frames it for gRPC-Web clients.
pub fn status_response(status: Status) -> Response {
    let (parts, ()) = status.into_http::<()>().into_parts();
    Response::from_parts(parts, Body::empty())
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

/// `body`, keeping `guard` alive until the body ends or is dropped: a call's slot, or its
/// place in a count, lasts as long as its response, streams included.
pub fn holding<G: Send + 'static>(body: Body, guard: G) -> Body {
    on_frame(body, move |_| {
        let _ = &guard;
    })
}

//! Response and request bodies passed through the middleware, and gRPC refusals made
//! before a handler runs: the small pieces several layers share.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use axum::{body::Body, response::Response};
use bytes::Bytes;
use http_body::Frame;
use tonic::Status;

/// A gRPC status as a whole (trailers-only) response, for middleware that refuses a call;
/// the gRPC-Web layer outside frames it for gRPC-Web clients.
pub fn status_response(status: Status) -> Response {
    let (parts, ()) = status.into_http::<()>().into_parts();
    Response::from_parts(parts, Body::empty())
}

/// `body`, with `on_frame` shown (and free to change) each frame as it passes.
pub fn on_frame<F>(body: Body, on_frame: F) -> Body
where
    F: FnMut(&mut Frame<Bytes>) + Send + Unpin + 'static,
{
    Body::new(OnFrame {
        inner: body,
        on_frame,
    })
}

/// `body`, keeping `guard` alive until the body ends or is dropped: a call's slot, or its
/// place in a count, lasts as long as its response, streams included.
pub fn holding<G: Send + Unpin + 'static>(body: Body, guard: G) -> Body {
    on_frame(body, move |_| {
        let _ = &guard;
    })
}

struct OnFrame<F> {
    inner: Body,
    on_frame: F,
}

impl<F> http_body::Body for OnFrame<F>
where
    F: FnMut(&mut Frame<Bytes>) + Send + Unpin + 'static,
{
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(mut frame))) => {
                (this.on_frame)(&mut frame);
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

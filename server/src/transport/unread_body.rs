//! An HTTP/1.1 request body that its handler stopped reading (an early answer: the call was
//! refused for its token, the file name is taken) is still read to its end, and thrown
//! away, up to [`DRAIN_LIMIT`] bytes and for [`DRAIN_TIME`].
//!
//! Why by hand: hyper closes an HTTP/1.1 connection whose request body was left unread once
//! the response is out, and the bytes still arriving make the kernel reset it; a browser
//! still sending its request (a gRPC-Web upload of a few hundred KB) then sees the reset,
//! not the answer, and may even send the request again. Go's `net/http` drains such bodies
//! for the same reason; hyper leaves it to the server, and no tower layer does it (the body
//! must outlive the handler that dropped it). HTTP/2 needs none of this: a stream is reset
//! on its own, the connection stays.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// The most of an abandoned body that is read; past it the connection is closed instead.
pub const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
/// The longest an abandoned body is read for.
pub const DRAIN_TIME: Duration = Duration::from_secs(30);

/// A request body that, dropped before its end, reads the rest in the background.
#[derive(Debug)]
pub struct DrainOnDrop {
    inner: Option<Incoming>,
    ended: bool,
}

impl DrainOnDrop {
    pub fn new(inner: Incoming) -> Self {
        Self {
            ended: inner.is_end_stream(),
            inner: Some(inner),
        }
    }
}

impl Body for DrainOnDrop {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_))))
            || self.inner.as_ref().is_some_and(Body::is_end_stream)
        {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(mut inner) = self.inner.take().filter(|_| !self.ended) else {
            return;
        };
        if inner.size_hint().lower() > DRAIN_LIMIT {
            // Declared too large to be worth reading: let hyper close the connection.
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let drained = tokio::time::timeout(DRAIN_TIME, async {
                let mut read = 0_u64;
                while let Some(frame) = inner.frame().await {
                    let Ok(frame) = frame else { return };
                    if let Some(data) = frame.data_ref() {
                        read += data.len() as u64;
                        if read > DRAIN_LIMIT {
                            return;
                        }
                    }
                }
            })
            .await;
            if drained.is_err() {
                tracing::debug!("gave up reading an abandoned request body");
            }
        });
    }
}

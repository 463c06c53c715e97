//! The socket first, another transport (gRPC-Web over `fetch` in a page) when it cannot be
//! opened or is switched off. The other transport can carry only a request that is complete
//! when the call is made (unary, server streaming, a client stream already all there):
//! `fetch` sends its body before it reads the answer. A request still being written fails
//! with UNAVAILABLE saying why, rather than waiting for an end that cannot come.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Waker},
};

use bytes::{Bytes, BytesMut};
use http_body::Body as _;

use super::{Answer, BoxError, Client, call};

/// Which transport carried a call: in its response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Socket,
    Other,
}

/// Told which transport a call takes as soon as that is chosen, before any answer (a
/// client stream's comes only at its end): put one in the request's extensions.
#[derive(Clone)]
pub struct OnVia(pub Arc<dyn Fn(Via) + Send + Sync>);

impl std::fmt::Debug for OnVia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnVia")
    }
}

/// A [`Client`] with another transport behind it. Clones share the socket and the switch.
#[derive(Clone)]
pub struct Fallback<F> {
    socket: Client,
    other: F,
    socket_first: Arc<AtomicBool>,
}

impl<F> Fallback<F> {
    pub fn new(socket: Client, other: F) -> Self {
        Self {
            socket,
            other,
            socket_first: Arc::new(true.into()),
        }
    }

    /// Whether calls try the socket first (the default) or go to the other transport only.
    pub fn set_socket_first(&self, first: bool) {
        self.socket_first.store(first, Ordering::Relaxed);
    }

    pub fn socket_first(&self) -> bool {
        self.socket_first.load(Ordering::Relaxed)
    }

    pub fn socket(&self) -> &Client {
        &self.socket
    }

    pub fn other(&self) -> &F {
        &self.other
    }
}

/// The answer from either transport.
pub enum FallbackBody<B> {
    Socket(Answer),
    Other(B),
}

impl<B> http_body::Body for FallbackBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Socket(answer) => Pin::new(answer)
                .poll_frame(context)
                .map(|frame| frame.map(|frame| frame.map_err(Into::into))),
            Self::Other(body) => Pin::new(body)
                .poll_frame(context)
                .map(|frame| frame.map(|frame| frame.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Socket(answer) => answer.is_end_stream(),
            Self::Other(body) => body.is_end_stream(),
        }
    }
}

impl<F, B> tower_service::Service<http::Request<tonic::body::Body>> for Fallback<F>
where
    F: tower_service::Service<http::Request<tonic::body::Body>, Response = http::Response<B>>
        + Clone
        + 'static,
    F::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<FallbackBody<B>>;
    type Error = BoxError;
    // Not `Send` even natively: `fetch` transports are not, and a page has one thread.
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let (socket, mut other, first) =
            (self.socket.clone(), self.other.clone(), self.socket_first());
        let told = request.extensions().get::<OnVia>().cloned();
        let tell = move |via| {
            if let Some(OnVia(told)) = &told {
                told(via);
            }
        };
        Box::pin(async move {
            let refused = if first {
                match socket.socket().await {
                    Ok(open) => {
                        tell(Via::Socket);
                        let mut response = call(&open, request).await.map(FallbackBody::Socket);
                        response.extensions_mut().insert(Via::Socket);
                        return Ok(response);
                    }
                    Err(status) => format!(
                        "it streams its request, which needs the grpc-ws socket, and that \
                         cannot be opened: {}",
                        status.message()
                    ),
                }
            } else {
                "it streams its request, which gRPC-Web over fetch cannot carry (the \
                 WebSocket transport is switched off)"
                    .to_owned()
            };
            let (head, mut body) = request.into_parts();
            let Some(bytes) = complete_now(&mut body) else {
                return Err(tonic::Status::unavailable(format!(
                    "this call cannot be made: {refused}"
                ))
                .into());
            };
            tell(Via::Other);
            std::future::poll_fn(|context| other.poll_ready(context))
                .await
                .map_err(Into::into)?;
            let body = tonic::body::Body::new(http_body_util::Full::new(bytes));
            let mut response = other
                .call(http::Request::from_parts(head, body))
                .await
                .map_err(Into::into)?
                .map(FallbackBody::Other);
            response.extensions_mut().insert(Via::Other);
            Ok(response)
        })
    }
}

/// The whole request body if it is there without waiting; `None` if it is still being
/// written (or failed).
fn complete_now(body: &mut tonic::body::Body) -> Option<Bytes> {
    let mut context = Context::from_waker(Waker::noop());
    let mut collected = BytesMut::new();
    loop {
        match Pin::new(&mut *body).poll_frame(&mut context) {
            Poll::Ready(None) => return Some(collected.freeze()),
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    collected.extend_from_slice(&data);
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => return None,
        }
    }
}

impl<B> std::fmt::Debug for FallbackBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Socket(answer) => answer.fmt(f),
            Self::Other(_) => f.write_str("FallbackBody::Other"),
        }
    }
}

impl<F> std::fmt::Debug for Fallback<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback")
            .field("socket", &self.socket)
            .field("socket_first", &self.socket_first())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_all_there_is_taken_and_one_still_written_is_not() {
        let mut whole =
            tonic::body::Body::new(http_body_util::Full::new(Bytes::from_static(b"abc")));
        assert_eq!(complete_now(&mut whole).as_deref(), Some(&b"abc"[..]));

        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<
            Result<http_body::Frame<Bytes>, tonic::Status>,
        >();
        sender
            .send(Ok(http_body::Frame::data(Bytes::from_static(b"first"))))
            .unwrap();
        let stream = http_body_util::StreamBody::new(tokio_stream_like(receiver));
        let mut open = tonic::body::Body::new(stream);
        assert_eq!(complete_now(&mut open), None, "the sender may still write");
    }

    fn tokio_stream_like(
        mut receiver: tokio::sync::mpsc::UnboundedReceiver<
            Result<http_body::Frame<Bytes>, tonic::Status>,
        >,
    ) -> impl futures_util::Stream<Item = Result<http_body::Frame<Bytes>, tonic::Status>> {
        futures_util::stream::poll_fn(move |context| receiver.poll_recv(context))
    }
}

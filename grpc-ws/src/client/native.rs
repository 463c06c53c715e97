//! The socket natively: tokio-tungstenite, with a writer and a reader task on tokio.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{
    Message, client::IntoClientRequest, http::header::SEC_WEBSOCKET_PROTOCOL,
};

use super::{Socket, dispatch};
use crate::{Frame, SUBPROTOCOL};

pub(super) fn spawn(work: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(work);
}

pub(super) async fn connect(url: &str) -> Result<Arc<Socket>, tonic::Status> {
    let unavailable = |error: &dyn std::fmt::Display| {
        tonic::Status::unavailable(format!("grpc-ws {url}: {error}"))
    };
    let mut request = url.into_client_request().map_err(|e| unavailable(&e))?;
    request.headers_mut().insert(
        SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| unavailable(&e))?;
    let (mut sink, mut incoming) = socket.split();
    let (out, mut queue) = mpsc::unbounded_channel::<Frame>();
    let shared = Socket::new(out);
    tokio::spawn(async move {
        while let Some(frame) = queue.recv().await {
            if sink
                .send(Message::Binary(crate::encode(&frame)))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let reader = Arc::clone(&shared);
    tokio::spawn(async move {
        while let Some(Ok(message)) = incoming.next().await {
            let Message::Binary(bytes) = message else {
                if matches!(message, Message::Close(_)) {
                    break;
                }
                continue;
            };
            let Ok(frame) = crate::decode(bytes) else {
                break;
            };
            dispatch(&reader, frame);
        }
        reader.fail_all(&tonic::Status::unavailable("the grpc-ws socket closed"));
    });
    Ok(shared)
}

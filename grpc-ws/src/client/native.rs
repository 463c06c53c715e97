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

pub(super) async fn sleep(duration: std::time::Duration) {
    tokio::time::sleep(duration).await;
}

pub(super) fn now_millis() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1000.0)
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
    let ended = Arc::clone(&shared.ended);
    tokio::spawn(async move {
        loop {
            let frame = tokio::select! {
                frame = queue.recv() => frame,
                () = ended.wait() => None,
            };
            let Some(frame) = frame else { break };
            if sink
                .send(Message::Binary(crate::encode(&frame)))
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = sink.close().await;
    });
    // The reader does not keep the socket: it closes when nothing uses it.
    let (reader, ended) = (Arc::downgrade(&shared), Arc::clone(&shared.ended));
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                message = incoming.next() => message,
                () = ended.wait() => break,
            };
            let Some(Ok(message)) = message else { break };
            let Message::Binary(bytes) = message else {
                if matches!(message, Message::Close(_)) {
                    break;
                }
                continue;
            };
            let Ok(frame) = crate::decode(bytes) else {
                break;
            };
            let Some(socket) = reader.upgrade() else {
                break;
            };
            dispatch(&socket, frame);
        }
        if let Some(socket) = reader.upgrade() {
            socket.fail_all(&tonic::Status::unavailable("the grpc-ws socket closed"));
        }
    });
    Ok(shared)
}

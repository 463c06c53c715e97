//! Process signals that start a graceful shutdown, and the stream adapter that ends open
//! server streams when it starts.

use std::pin::Pin;

use futures_util::{Stream, StreamExt, stream};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::error::ApiError;

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, whichever comes first.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}

/// A boxed response stream, the type every server-streaming handler returns.
pub type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Passes `items` through until `shutdown` is cancelled, then ends the stream with
/// UNAVAILABLE so the client knows to reconnect, rather than seeing a normal end.
///
/// Without this, a stream that never ends on its own (live weather) would hold its
/// connection open and graceful shutdown would wait for it forever.
pub fn until_shutdown<T, S>(items: S, shutdown: CancellationToken) -> ResponseStream<T>
where
    T: Send + 'static,
    S: Stream<Item = Result<T, Status>> + Send + 'static,
{
    let items = Box::pin(items);
    Box::pin(stream::unfold(
        Some((items, shutdown)),
        |state| async move {
            let (mut items, shutdown) = state?;
            tokio::select! {
                biased;
                () = shutdown.cancelled() => Some((Err(ApiError::ShuttingDown.into()), None)),
                item = items.next() => item.map(|item| (item, Some((items, shutdown)))),
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[tokio::test]
    async fn passes_items_until_cancelled_then_ends_with_unavailable() {
        let token = CancellationToken::new();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<u32, Status>>();
        let mut stream = until_shutdown(
            tokio_stream::wrappers::UnboundedReceiverStream::new(rx),
            token.clone(),
        );

        tx.send(Ok(1)).expect("open");
        assert_eq!(stream.next().await.expect("item").expect("ok"), 1);

        token.cancel();
        let last = stream.next().await.expect("final status");
        assert_eq!(last.expect_err("an error").code(), Code::Unavailable);
        assert!(
            stream.next().await.is_none(),
            "nothing after the final status"
        );
    }

    #[tokio::test]
    async fn ends_normally_when_the_inner_stream_ends() {
        let mut stream = until_shutdown(stream::iter([Ok(1), Ok(2)]), CancellationToken::new());
        assert_eq!(stream.next().await.expect("1").expect("ok"), 1);
        assert_eq!(stream.next().await.expect("2").expect("ok"), 2);
        assert!(stream.next().await.is_none());
    }
}

//! Process signals that start a graceful shutdown, and the stream adapter that ends open
//! server streams when it starts.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use futures_util::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
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
    Box::pin(UntilShutdown {
        items: Some(Box::pin(items)),
        cancelled: Box::pin(shutdown.cancelled_owned()),
    })
}

/// [`until_shutdown`]'s stream. A hand-written `Stream` rather than `unfold` + `select!`:
/// those made a new `cancelled()` future for every item, which took and released a place
/// in the token's waiter list (one list shared by every open stream, behind one lock) per
/// message; this one waits in the list once, for the stream's life (issue 14, the live
/// fan-out's profile).
struct UntilShutdown<T> {
    /// `None` once the stream is over.
    items: Option<ResponseStream<T>>,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<T> Stream for UntilShutdown<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(items) = this.items.as_mut() else {
            return Poll::Ready(None);
        };
        // Shutdown first: a stream that always has an item ready still ends.
        if this.cancelled.as_mut().poll(cx).is_ready() {
            this.items = None;
            return Poll::Ready(Some(Err(ApiError::ShuttingDown.into())));
        }
        let item = ready!(items.as_mut().poll_next(cx));
        if item.is_none() {
            this.items = None;
        }
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{StreamExt, stream};
    use tonic::Code;

    use super::*;

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

    #[tokio::test]
    async fn a_stream_that_never_waits_still_ends_at_shutdown() {
        let token = CancellationToken::new();
        let mut stream = until_shutdown(stream::repeat_with(|| Ok(7)), token.clone());
        assert_eq!(stream.next().await.expect("7").expect("ok"), 7);
        token.cancel();
        let last = stream.next().await.expect("final status");
        assert_eq!(last.expect_err("an error").code(), Code::Unavailable);
        assert!(stream.next().await.is_none());
    }
}

//! Write coalescing for a connection: what the HTTP stack writes between two flushes is
//! gathered and sent in one system call, and a flush waits one turn of the scheduler first,
//! so the writes of other calls on the same connection that are ready to run join it.
//!
//! Why by hand: with many calls on one HTTP/2 connection, each call's task hands its
//! message to h2 and wakes the connection's task, which tokio runs next (its "LIFO slot"),
//! so h2 writes and flushes each message alone: one `writev` per message. The live fan-out
//! (10,000 Watch streams on 100 connections) made one system call per update, 32 % of the
//! server's CPU (issue 14, BENCHMARKS.md). `tokio::io::BufWriter` gathers writes too, but
//! sends them on every flush, which is exactly as often. Yielding once before a flush lets
//! the queued tasks run first; their wakes of the connection find it already scheduled, and
//! their messages go out with it.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Writes larger than this go straight through (a large download's chunks), and gathered
/// bytes are sent once they reach it.
const GATHER_LIMIT: usize = 64 * 1024;
/// The buffer a connection keeps between flushes: one that grew past this (a large answer)
/// is freed once sent, so an idle connection holds no more than this.
const KEEP: usize = 16 * 1024;

/// `io`, with its writes gathered until a flush.
#[derive(Debug)]
pub struct Coalesce<IO> {
    io: IO,
    gathered: Vec<u8>,
    /// How much of `gathered` is already sent.
    sent: usize,
    /// The pending flush has given the other tasks their turn.
    yielded: bool,
}

impl<IO> Coalesce<IO> {
    pub fn new(io: IO) -> Self {
        Self {
            io,
            gathered: Vec::new(),
            sent: 0,
            yielded: false,
        }
    }
}

impl<IO: AsyncWrite + Unpin> Coalesce<IO> {
    /// Sends everything gathered.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.gathered.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.gathered[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.gathered.clear();
        if self.gathered.capacity() > KEEP {
            self.gathered = Vec::new();
        }
        self.sent = 0;
        self.yielded = false;
        Poll::Ready(Ok(()))
    }

    /// Makes room for `len` more bytes: sends what is gathered if they would not fit.
    fn poll_room(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<()>> {
        if self.gathered.len() + len > GATHER_LIMIT {
            ready!(self.poll_send(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Coalesce<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Coalesce<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_room(cx, buf.len()))?;
        if buf.len() >= GATHER_LIMIT {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        this.gathered.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let len = bufs.iter().map(|buf| buf.len()).sum();
        ready!(this.poll_room(cx, len))?;
        if len >= GATHER_LIMIT {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        }
        for buf in bufs {
            this.gathered.extend_from_slice(buf);
        }
        Poll::Ready(Ok(len))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.gathered.is_empty() {
            return Pin::new(&mut this.io).poll_flush(cx);
        }
        if !this.yielded {
            // Woken from its own poll, the task goes to the back of the run queue (tokio
            // treats it as a yield), behind the calls whose messages are on their way.
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn writes_before_a_flush_arrive_together_after_it() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut near = Coalesce::new(near);
        near.write_all(b"one ").await.expect("write");
        near.write_all(b"two").await.expect("write");
        let mut buf = [0; 16];
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(50), far.read(&mut buf)).await;
        assert!(early.is_err(), "nothing is sent before the flush");
        near.flush().await.expect("flush");
        let n = far.read(&mut buf).await.expect("read");
        assert_eq!(&buf[..n], b"one two");
    }

    #[tokio::test]
    async fn large_writes_and_a_full_gather_go_out_without_a_flush() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut near = Coalesce::new(near);
        let large = vec![7; GATHER_LIMIT];
        near.write_all(b"head").await.expect("write");
        near.write_all(&large).await.expect("write");
        let mut got = vec![0; 4 + GATHER_LIMIT];
        far.read_exact(&mut got).await.expect("all of it, in order");
        assert_eq!(&got[..4], b"head");
        assert!(got[4..].iter().all(|&b| b == 7));
    }

    #[tokio::test]
    async fn a_connection_keeps_no_large_buffer_once_it_is_sent() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut near = Coalesce::new(near);
        let answer = vec![1; GATHER_LIMIT - 1];
        near.write_all(&answer).await.expect("write");
        assert!(near.gathered.capacity() > KEEP);
        near.flush().await.expect("flush");
        assert!(
            near.gathered.capacity() <= KEEP,
            "{}",
            near.gathered.capacity()
        );
        let mut got = vec![0; answer.len()];
        far.read_exact(&mut got).await.expect("read");
        assert_eq!(got, answer);
    }

    #[tokio::test]
    async fn a_flush_yields_once_then_sends() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let count = std::sync::Arc::new(Count(0.into()));
        let waker = std::task::Waker::from(std::sync::Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut near = Coalesce::new(near);
        near.write_all(b"message").await.expect("write");
        let mut flush = |near: &mut Coalesce<_>| Pin::new(near).poll_flush(&mut cx);
        assert!(flush(&mut near).is_pending(), "the first flush gives way");
        assert_eq!(
            count.0.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "and asks to run again"
        );
        assert!(
            matches!(flush(&mut near), Poll::Ready(Ok(()))),
            "the second sends"
        );
        let mut got = [0; 7];
        far.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"message");
        assert!(
            matches!(flush(&mut near), Poll::Ready(Ok(()))),
            "nothing gathered: at once"
        );
    }

    #[tokio::test]
    async fn shutdown_sends_what_is_gathered() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut near = Coalesce::new(near);
        near.write_all(b"last words").await.expect("write");
        near.shutdown().await.expect("shutdown");
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.expect("read to the end");
        assert_eq!(got, b"last words");
    }
}

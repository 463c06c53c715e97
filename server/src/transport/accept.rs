//! Accepting connections: plain TCP or TLS, HTTP/1.1 or HTTP/2 on each (detected, and
//! offered by ALPN under TLS), with the transport limits applied, until shutdown; then
//! every connection is asked to finish (HTTP/2 GOAWAY, HTTP/1.1 close after the response).
//! A connection with no call running for the idle timeout is closed the same way.
//!
//! Nothing a client was allowed to send is dropped by the shutdown itself: connections
//! waiting in the kernel's backlog are still taken (closing the listener would reset them
//! after the client, say a balancer, has written its request), and a connection accepted
//! just before whose first request has not arrived yet gets that request served (hyper
//! closes such a connection outright when asked to shut down, and a balancer cannot retry
//! a POST it already sent).

use std::{
    convert::Infallible,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::{either::Either, sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

use crate::{
    layers::access_log::PeerName,
    transport::{coalesce::Coalesce, unread_body::DrainOnDrop},
};

/// The limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Concurrent HTTP/2 streams (calls) on one connection.
    pub max_streams: u32,
    /// Bytes of request headers (HTTP/2 header list; HTTP/1.1 read buffer).
    pub max_header_bytes: u32,
    /// A TLS handshake, or an HTTP/1.1 request's headers, must arrive within this.
    pub handshake_timeout: Duration,
    /// A connection with no call running for this long is closed.
    pub idle_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` resolves, then lets open connections finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout)
        .max_buf_size((limits.max_header_bytes as usize).max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams)
        .max_header_list_size(limits.max_header_bytes)
        // RFC 8441: WebSockets over HTTP/2 (grpc-ws on a TLS + h2 connection the page has).
        .enable_connect_protocol()
        // Finds peers that vanished without closing (a dead NAT entry, a pulled cable).
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    let tls = tls.map(TlsAcceptor::from);

    let spawn = |stream: tokio::net::TcpStream, peer: std::net::SocketAddr| {
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let service = TowerToHyperService::new(tower::service_fn({
            let (router, activity) = (router.clone(), activity.clone());
            let peer_name = PeerName::new(peer);
            move |mut request: http::Request<Incoming>| {
                // What `axum::serve` would add: the peer; and its name, made once.
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(peer_name.clone());
                // HTTP/1.1: a body its handler leaves unread is read to its end anyway, so
                // the client gets the answer rather than a reset connection.
                let request = if request.version() < http::Version::HTTP_2 {
                    request.map(|body| Body::new(DrainOnDrop::new(body)))
                } else {
                    request.map(Body::new)
                };
                let call = activity.begin();
                let response = router.clone().oneshot(request);
                async move {
                    let response = response.await?;
                    // The call lasts until its response body ends (streams included).
                    Ok::<_, Infallible>(
                        response.map(|body| crate::layers::body::holding(body, call)),
                    )
                }
            }
        }));
        let (builder, closing, tls) = (builder.clone(), closing.clone(), tls.clone());
        connections.spawn(async move {
            let io = match tls {
                None => Either::Left(stream),
                Some(acceptor) => {
                    match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(stream)) => Either::Right(stream),
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            // Each response's writes gathered until h2 (or h1) flushes: `coalesce.rs`.
            let io = Coalesce::new(io);
            drive(&builder, io, service, &closing, &activity, limits, peer).await;
        });
    };

    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: back off a little rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        spawn(stream, peer);
    }
    // What the kernel has already accepted for us is served like the rest.
    while let Ok(Ok((stream, peer))) = tokio::time::timeout(Duration::ZERO, listener.accept()).await
    {
        tracing::debug!(%peer, "serving a connection from the backlog after shutdown began");
        spawn(stream, peer);
    }
    drop(listener);
    closing.cancel();
    connections.close();
    connections.wait().await;
}

/// Serves one connection until it ends, or until the server stops or the connection has
/// been idle (no call running) for `idle_timeout`; then it is closed gracefully: HTTP/2
/// sends GOAWAY and finishes its streams, HTTP/1.1 closes after the response in progress.
async fn drive<I, S>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: S,
    closing: &CancellationToken,
    activity: &Activity,
    limits: ConnectionLimits,
    peer: std::net::SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    S: hyper::service::Service<
            http::Request<Incoming>,
            Response = http::Response<Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            return;
        }
        () = closing.cancelled() => {
            // Accepted, but its first request has not arrived: serve that one (the client
            // has most likely sent it already), within the time headers are given anyway.
            if !activity.has_begun() {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::debug!(%peer, %error, "connection ended with an error");
                        }
                        return;
                    }
                    () = activity.first_call() => {}
                    () = tokio::time::sleep(limits.handshake_timeout) => {}
                }
            }
        }
        () = activity.idle_for(limits.idle_timeout) => {
            tracing::debug!(%peer, idle_timeout = ?limits.idle_timeout, "closing an idle connection");
        }
    }
    connection.as_mut().graceful_shutdown();
    if let Err(error) = connection.await {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// The calls running on one connection, and since when none has been.
#[derive(Debug, Clone)]
struct Activity(Arc<ActivityState>);

#[derive(Debug)]
struct ActivityState {
    /// Calls running, when the last one ended (or the connection began), calls so far.
    calls: Mutex<(usize, Instant, u64)>,
    /// Told when the first call begins.
    first: Notify,
}

impl Activity {
    fn new() -> Self {
        Self(Arc::new(ActivityState {
            calls: Mutex::new((0, Instant::now(), 0)),
            first: Notify::new(),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, (usize, Instant, u64)> {
        self.0.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn begin(&self) -> Call {
        let mut state = self.state();
        state.0 += 1;
        state.2 += 1;
        if state.2 == 1 {
            self.0.first.notify_one();
        }
        Call(self.clone())
    }

    fn has_begun(&self) -> bool {
        self.state().2 > 0
    }

    /// Resolves once a call has begun on the connection.
    async fn first_call(&self) {
        // `notify_one` keeps its permit for a waiter that comes later.
        if !self.has_begun() {
            self.0.first.notified().await;
        }
    }

    /// Resolves once no call has run for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let (running, since, _) = *self.state();
            let wait = if running == 0 {
                match timeout.checked_sub(since.elapsed()) {
                    None | Some(Duration::ZERO) => return,
                    Some(left) => left,
                }
            } else {
                timeout
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One running call; its end is recorded when dropped.
#[derive(Debug)]
struct Call(Activity);

impl Drop for Call {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.0 -= 1;
        state.1 = Instant::now();
    }
}

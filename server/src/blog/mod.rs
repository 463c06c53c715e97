//! The blog: three services with a boundary each (authors, posts, comments), that call
//! each other through their generated gRPC clients. In one process they call over
//! [`Peer::Local`], the server's own gRPC router used as a client transport, so a call
//! between services passes the same layers as one from outside (deadline, auth, access log,
//! metrics). A server that runs only some of them (`--services`) reaches the others at
//! `--blog-peer` over HTTP/2 ([`Peer::Remote`]). Either way the caller's request id, token,
//! trace and remaining deadline go along ([`forward`]), and a callee's error comes back with its
//! own code, naming the service ([`from_callee`]).

pub mod authors;
pub mod comments;
pub mod markdown;
pub mod pages;
pub mod posts;

use std::{
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::Duration,
};

use axum::Router;
use futures_util::future::BoxFuture;
use tower::{Service, ServiceExt};

pub use authors::AuthorService;
pub use comments::CommentService;
pub use posts::PostService;

use crate::layers::deadline::Deadline;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How one blog service reaches another.
#[derive(Debug, Clone)]
pub enum Peer {
    /// In this process: the server's gRPC router, set once it is built.
    Local(Loopback),
    /// At another server (`--blog-peer`), over one HTTP/2 connection, made when first used
    /// and remade when it breaks.
    Remote(tonic::transport::Channel),
}

impl Peer {
    /// The other server at `url` (`http://HOST:PORT`).
    pub fn remote(url: &str) -> Result<Self, String> {
        let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
            .map_err(|error| format!("--blog-peer {url}: {error}"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        Ok(Self::Remote(endpoint.connect_lazy()))
    }
}

/// The server's gRPC router as a client transport, set once the router is built (the
/// services it carries are made before it).
#[derive(Debug, Clone, Default)]
pub struct Loopback(Arc<OnceLock<RouterCell>>);

struct RouterCell(Router);

impl std::fmt::Debug for RouterCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Router")
    }
}

impl Loopback {
    /// Points the transport at the built router; once.
    pub fn connect(&self, router: Router) {
        let _ = self.0.set(RouterCell(router));
    }
}

impl Service<http::Request<tonic::body::Body>> for Peer {
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Self::Local(_) => Poll::Ready(Ok(())),
            Self::Remote(channel) => channel.poll_ready(context).map_err(Into::into),
        }
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        match self {
            Self::Local(loopback) => {
                let router = loopback.0.get().map(|cell| cell.0.clone());
                Box::pin(async move {
                    let Some(router) = router else {
                        return Ok(
                            tonic::Status::unavailable("the server is still starting").into_http()
                        );
                    };
                    let response = router
                        .oneshot(request.map(axum::body::Body::new))
                        .await
                        .map_err(BoxError::from)?;
                    Ok(response.map(tonic::body::Body::new))
                })
            }
            Self::Remote(channel) => {
                let call = channel.call(request);
                Box::pin(async move { call.await.map_err(Into::into) })
            }
        }
    }
}

/// A request to another service on behalf of `incoming`: its request id, token, trace
/// (`traceparent`), client address and deadline go along, so the callee sees the same call.
pub fn forward<T, U>(incoming: &tonic::Request<T>, message: U) -> tonic::Request<U> {
    let mut outgoing = tonic::Request::new(message);
    for name in ["x-request-id", "authorization"] {
        if let Some(value) = incoming.metadata().get(name) {
            outgoing.metadata_mut().insert(name, value.clone());
        }
    }
    crate::ops::traces::forward(incoming.metadata(), outgoing.metadata_mut());
    // What is left of the caller's deadline (the deadline layer noted it), not its whole
    // budget again.
    if let Some(deadline) = incoming.extensions().get::<Deadline>() {
        outgoing.set_timeout(deadline.remaining());
    }
    if let Some(peer) = incoming
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        outgoing.extensions_mut().insert(*peer);
    }
    outgoing
}

/// A callee's error as the caller reports it: the same code and details, saying which
/// service failed.
pub fn from_callee(service: &str, status: tonic::Status) -> tonic::Status {
    tonic::Status::with_details(
        status.code(),
        format!("the {service} service: {}", status.message()),
        status.details().to_vec().into(),
    )
}

//! The blog: three services with a boundary each (authors, posts; comments next), that call
//! each other through their generated gRPC clients. In one process they call over
//! [`Loopback`], the server's own gRPC router used as a client transport, so a call between
//! services passes the same layers as one from outside (deadline, access log, metrics);
//! the caller's request id, token and deadline go along ([`forward`]).

pub mod authors;
pub mod posts;

use std::{
    convert::Infallible,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
};

use axum::Router;
use futures_util::future::BoxFuture;
use tower::ServiceExt;

pub use authors::AuthorService;
pub use posts::PostService;

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

impl tower::Service<http::Request<tonic::body::Body>> for Loopback {
    type Response = http::Response<axum::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let router = self.0.get().map(|cell| cell.0.clone());
        Box::pin(async move {
            match router {
                Some(router) => router.oneshot(request.map(axum::body::Body::new)).await,
                None => Ok(tonic::Status::unavailable("the server is still starting")
                    .into_http::<axum::body::Body>()),
            }
        })
    }
}

/// A request to another service on behalf of `incoming`: its request id, token, client
/// address and deadline go along, so the callee sees the same call.
pub fn forward<T, U>(incoming: &tonic::Request<T>, message: U) -> tonic::Request<U> {
    let mut outgoing = tonic::Request::new(message);
    for name in ["x-request-id", "authorization", "grpc-timeout"] {
        if let Some(value) = incoming.metadata().get(name) {
            outgoing.metadata_mut().insert(name, value.clone());
        }
    }
    if let Some(peer) = incoming
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        outgoing.extensions_mut().insert(*peer);
    }
    outgoing
}

/// A callee's error as the caller reports it: the same code, saying which service failed.
pub fn from_callee(service: &str, status: tonic::Status) -> tonic::Status {
    tonic::Status::new(
        status.code(),
        format!("the {service} service: {}", status.message()),
    )
}

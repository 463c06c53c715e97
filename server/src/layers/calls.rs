//! Every gRPC call's steps, in their order, as one tower layer. Each step is an async
//! function handed the rest of the call as an async closure (`next`), so the steps compose
//! into one future: one boxed future and one cloned service per call for all of them,
//! where a `from_fn` layer per step cloned the inner service (a boxed clone) and boxed a
//! future for each of the seven (the allocations a profile of unary calls showed most;
//! BENCHMARKS.md, "Unary throughput beside bare hyper and plain tonic"). Written as a
//! tower layer by hand, not with axum's `from_fn`: that boxes the rest of the call once
//! more and clones it per call, and it cannot be stacked with tonic-web's layer without
//! a boxed route between them (BENCHMARKS.md, "One layer per route").
//!
//! Outermost first, and why there:
//! 1. the content type: not gRPC at all is 415, before it counts as a call;
//! 2. the access log and metrics: outside the rest, so the log sees the status each of
//!    them produces (a refused token, a limit, a deadline);
//! 3. authentication: outside the limits, so a call refused for its token costs no one's
//!    budget;
//! 4. call limits (rate, per-client and total calls in flight);
//! 5. the open request's time limits (idle, total);
//! 6. the deadline (`grpc-timeout`);
//! 7. the oversized-message status (tonic's OUT_OF_RANGE made RESOURCE_EXHAUSTED).
//!
//! All of them inside tonic-web (`app.rs`), so their statuses are framed for gRPC-Web
//! clients too. What the steps after the first add to the response body (the access
//! log's record, the slots, the time limits, the status rewrite) goes into one
//! [`CallBody`], boxed once.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    body::Body,
    extract::Request,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use tower::{Layer, Service, ServiceExt};

use super::{
    access_log, auth, auth::Auth, body::CallBody, call_limits, call_limits::CallLimits, call_time,
    call_time::CallTime, content_type, deadline, message_limits,
};
use crate::ops::metrics::Metrics;

/// What the steps need, shared by every call.
#[derive(Debug)]
pub struct Steps {
    pub metrics: Metrics,
    pub auth: Auth,
    pub limits: CallLimits,
    pub time: CallTime,
}

/// The layer that runs [`Steps`] around every call of the service it wraps.
#[derive(Debug, Clone)]
pub struct CallsLayer(Arc<Steps>);

impl CallsLayer {
    pub fn new(steps: Steps) -> Self {
        Self(Arc::new(steps))
    }
}

impl<S> Layer<S> for CallsLayer {
    type Service = Calls<S>;

    fn layer(&self, inner: S) -> Calls<S> {
        Calls {
            steps: self.0.clone(),
            inner,
        }
    }
}

/// [`CallsLayer`]'s service.
#[derive(Debug, Clone)]
pub struct Calls<S> {
    steps: Arc<Steps>,
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for Calls<S>
where
    S: Service<Request, Response = R, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    R: IntoResponse + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Readiness is the inner service's, awaited in the call (`oneshot`): a step may
        // answer without it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The call's future is large (each step's state, nested: 2,968 bytes; 8,328 before
        // the request was boxed, [`CallRequest`]): the box is allocated first and `call`
        // writes the future into it, where building it on the stack and moving it in
        // copied it twice (8,400 instructions a call when it was 8 KB).
        Box::into_pin(in_place(|| {
            call(self.steps.clone(), self.inner.clone(), request)
        }))
    }
}

/// `make()`'s value in a new box: the box is allocated before `make` runs, so the value
/// can be returned straight into it.
fn in_place<T>(make: impl FnOnce() -> T) -> Box<T> {
    Box::write(Box::new_uninit(), make())
}

/// The call through its steps. Not inlined, so that its large future is returned straight
/// into the box [`Calls`] allocated for it.
#[inline(never)]
#[allow(
    clippy::manual_async_fn,
    reason = "written out so that `inline(never)` is on what makes the future"
)]
fn call<S, B, R>(
    steps: Arc<Steps>,
    inner: S,
    request: http::Request<B>,
) -> impl Future<Output = Result<Response, Infallible>> + Send
where
    S: Service<Request, Response = R, Error = Infallible> + Send + 'static,
    S::Future: Send,
    R: IntoResponse + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    // Boxed before the future is made, which would keep the unboxed request otherwise.
    let request: CallRequest = Box::new(request.map(Body::new));
    async move {
        let next = async |request| match inner.oneshot(request).await {
            Ok(response) => response.into_response(),
        };
        Ok(run(&steps, request, next).await)
    }
}

/// The request as the steps hand it on: boxed, because each step's future and each `next`
/// closure's keeps the request it was given for its whole life (an async function's
/// arguments are not overlapped with its later state). Unboxed, that was 240 bytes at
/// each of fourteen levels: the call's future was 8,328 bytes, and is 2,968 with the box.
pub type CallRequest = Box<Request>;

/// Wraps the request's body in place (the box stays).
pub fn map_body(request: &mut CallRequest, wrap: impl FnOnce(Body) -> Body) {
    let body = std::mem::take(request.body_mut());
    *request.body_mut() = wrap(body);
}

/// Every step, then the call (`next`).
async fn run(
    steps: &Steps,
    request: CallRequest,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    content_type::require_grpc(request, async |request| {
        access_log::log_call(&steps.metrics, request, async |request| {
            auth::require_token(&steps.auth, request, async |request| {
                call_limits::enforce(&steps.limits, request, async |request| {
                    call_time::enforce(&steps.time, request, async |request| {
                        deadline::enforce(request, async |request| {
                            message_limits::resource_exhausted(request, async |request| {
                                CallBody::response(next(*request).await)
                            })
                            .await
                        })
                        .await
                    })
                    .await
                })
                .await
            })
            .await
        })
        .await
        // One boxed body for the whole call ([`CallBody`]).
        .map(Body::new)
    })
    .await
}

//! Every gRPC call's steps, in their order, as one middleware. Each step is an async
//! function handed the rest of the call as an async closure (`next`), so the steps compose
//! into one future: one boxed future and one cloned service per call for all of them,
//! where a `from_fn` layer per step cloned the inner service (a boxed clone) and boxed a
//! future for each of the seven (the allocations a profile of unary calls showed most;
//! BENCHMARKS.md, "Unary throughput beside bare hyper and plain tonic").
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

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

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

/// Middleware (`axum::middleware::from_fn_with_state`): every step, then the call.
pub async fn run(State(steps): State<Arc<Steps>>, request: Request, next: Next) -> Response {
    let steps = &*steps;
    content_type::require_grpc(request, async |request| {
        access_log::log_call(&steps.metrics, request, async |request| {
            auth::require_token(&steps.auth, request, async |request| {
                call_limits::enforce(&steps.limits, request, async |request| {
                    call_time::enforce(&steps.time, request, async |request| {
                        deadline::enforce(request, async |request| {
                            message_limits::resource_exhausted(request, async |request| {
                                CallBody::response(next.run(request).await)
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

//! Limits on calls, answered with RESOURCE_EXHAUSTED before a handler runs:
//!
//! - calls in flight on the whole server (`--max-in-flight`): a call holds its slot until
//!   its response ends, streams included, so a flood cannot grow memory without bound;
//! - calls per client to the methods that change state (`--state-changes-per-minute`, a
//!   token bucket per client IP, bursts up to the same number): the answer carries a
//!   `google.rpc.RetryInfo` saying when to try again.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};
use bytes::Bytes;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock as _};
use http_body::Frame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth;

#[derive(Debug, Clone)]
pub struct CallLimits {
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    state_changes: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl CallLimits {
    pub fn new(max_in_flight: u32, state_changes_per_minute: NonZeroU32) -> Self {
        let limiter = RateLimiter::keyed(Quota::per_minute(state_changes_per_minute));
        Self {
            in_flight: Arc::new(Semaphore::new(max_in_flight as usize)),
            max_in_flight: max_in_flight as usize,
            state_changes: Arc::new(limiter),
        }
    }

    /// Forgets clients whose buckets are full again, so the table does not grow forever.
    pub fn forget_idle_clients(&self) {
        self.state_changes.retain_recent();
    }

    fn check_rate(&self, request: &Request) -> Result<(), Status> {
        if !auth::changes_state(request.uri().path()) {
            return Ok(());
        }
        let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
            return Ok(());
        };
        self.state_changes
            .check_key(&peer.ip())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
                let wait = wait.max(Duration::from_millis(1));
                Status::with_error_details(
                    Code::ResourceExhausted,
                    format!(
                        "too many changes from this client: try again in {} ms",
                        wait.as_millis()
                    ),
                    ErrorDetails::with_retry_info(Some(wait)),
                )
            })
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`).
pub async fn enforce(State(limits): State<CallLimits>, request: Request, next: Next) -> Response {
    if let Err(status) = limits.check_rate(&request) {
        return refuse(status);
    }
    let Ok(permit) = Arc::clone(&limits.in_flight).try_acquire_owned() else {
        return refuse(Status::resource_exhausted(format!(
            "the server is at its limit of {} calls in flight; try again shortly",
            limits.max_in_flight
        )));
    };
    next.run(request).await.map(|inner| {
        Body::new(Holding {
            inner,
            _permit: permit,
        })
    })
}

fn refuse(status: Status) -> Response {
    let (parts, ()) = status.into_http::<()>().into_parts();
    Response::from_parts(parts, Body::empty())
}

/// A response body that keeps its call's in-flight slot until it ends or is dropped.
struct Holding {
    inner: Body,
    _permit: OwnedSemaphorePermit,
}

impl http_body::Body for Holding {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

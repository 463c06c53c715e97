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
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock as _};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::{
    auth,
    body::{self, status_response},
};

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

    /// Forgets clients whose buckets are full again, once a minute until `stop`, so the
    /// table does not grow forever.
    pub async fn forget_idle_clients(self, stop: CancellationToken) {
        let mut every_minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = every_minute.tick() => self.state_changes.retain_recent(),
                () = stop.cancelled() => break,
            }
        }
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
        return status_response(status);
    }
    let Ok(permit) = Arc::clone(&limits.in_flight).try_acquire_owned() else {
        return status_response(Status::resource_exhausted(format!(
            "the server is at its limit of {} calls in flight; try again shortly",
            limits.max_in_flight
        )));
    };
    // The call keeps its slot until its response ends (streams included).
    next.run(request)
        .await
        .map(|body| body::holding(body, permit))
}

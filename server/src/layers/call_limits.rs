//! Limits on calls, answered with RESOURCE_EXHAUSTED before a handler runs:
//!
//! - calls in flight on the whole server (`--max-in-flight`), and from one client
//!   (`--max-in-flight-per-client`), so one address cannot take every slot: a call holds
//!   its slots until its response ends, streams included, so a flood cannot grow memory
//!   without bound and live subscriptions are bounded per client;
//! - calls per client to the methods that change state (`--state-changes-per-minute`, a
//!   token bucket per client, bursts up to the same number): the answer carries a
//!   `google.rpc.RetryInfo` saying when to try again. A call that makes several changes (a
//!   chat `Join` posts each message it receives) finds its client's [`ChangeBudget`] in the
//!   request's extensions and spends from it for each.
//!
//! The client is the one [`TrustedProxies`] names (the peer, or behind a trusted proxy the
//! address it forwards for; IPv6 by /64). Authentication runs before this layer, so a call
//! refused for its token costs nobody's budget.

use std::{
    collections::HashMap,
    net::SocketAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::extract::{ConnectInfo, Request};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::calls::CallRequest;
use super::{
    auth,
    body::{CallBody, CallResponse},
    client::{ClientKey, TrustedProxies},
};

/// The limits' settings, from the configuration.
#[derive(Debug, Clone)]
pub struct CallLimitSettings {
    pub max_in_flight: u32,
    pub max_in_flight_per_client: u32,
    pub state_changes_per_minute: NonZeroU32,
    pub trusted_proxies: TrustedProxies,
}

#[derive(Debug, Clone)]
pub struct CallLimits {
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    per_client: Arc<Mutex<HashMap<ClientKey, u32>>>,
    max_per_client: u32,
    state_changes: Arc<DefaultKeyedRateLimiter<ClientKey>>,
    trusted_proxies: TrustedProxies,
}

impl CallLimits {
    pub fn new(settings: CallLimitSettings) -> Self {
        let limiter = RateLimiter::keyed(Quota::per_minute(settings.state_changes_per_minute));
        Self {
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight as usize)),
            max_in_flight: settings.max_in_flight as usize,
            per_client: Arc::default(),
            max_per_client: settings.max_in_flight_per_client,
            state_changes: Arc::new(limiter),
            trusted_proxies: settings.trusted_proxies,
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

    /// For a call that changes state: spends one change of its client's budget, and hands
    /// the budget to the handler for any further changes the call makes.
    fn check_rate(&self, client: ClientKey, request: &mut Request) -> Result<(), Status> {
        if !auth::changes_state(request.uri().path()) {
            return Ok(());
        }
        let budget = ChangeBudget {
            limiter: Arc::clone(&self.state_changes),
            client,
        };
        budget.spend()?;
        request.extensions_mut().insert(budget);
        Ok(())
    }

    /// Takes one of the client's in-flight slots.
    fn client_slot(&self, client: ClientKey) -> Result<ClientSlot, Status> {
        let mut counts = self
            .per_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(client).or_default();
        if *count >= self.max_per_client {
            return Err(Status::resource_exhausted(format!(
                "this client is at its limit of {} calls in flight; end some first",
                self.max_per_client
            )));
        }
        *count += 1;
        Ok(ClientSlot {
            counts: Arc::clone(&self.per_client),
            client,
        })
    }
}

/// One of a client's in-flight slots; the client's entry goes when its last call ends, so
/// the table holds only clients with calls running.
#[derive(Debug)]
struct ClientSlot {
    counts: Arc<Mutex<HashMap<ClientKey, u32>>>,
    client: ClientKey,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// One client's share of `--state-changes-per-minute`, for a call that changes state more
/// than once: the same bucket its `Post` calls take from.
#[derive(Debug, Clone)]
pub struct ChangeBudget {
    limiter: Arc<DefaultKeyedRateLimiter<ClientKey>>,
    client: ClientKey,
}

impl ChangeBudget {
    /// Takes one change, or refuses with RESOURCE_EXHAUSTED and a RetryInfo.
    pub fn spend(&self) -> Result<(), Status> {
        self.limiter.check_key(&self.client).map_err(|not_until| {
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

/// A step of every call (`layers::calls`).
pub async fn enforce(
    limits: &CallLimits,
    mut request: CallRequest,
    next: impl AsyncFnOnce(CallRequest) -> CallResponse,
) -> CallResponse {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| limits.trusted_proxies.client(peer.ip(), request.headers()));
    let client_slot = match client {
        Some(client) => {
            if let Err(status) = limits.check_rate(client, &mut request) {
                return CallBody::refusal(status);
            }
            match limits.client_slot(client) {
                Ok(slot) => Some(slot),
                Err(status) => return CallBody::refusal(status),
            }
        }
        None => None,
    };
    let Ok(permit) = Arc::clone(&limits.in_flight).try_acquire_owned() else {
        return CallBody::refusal(Status::resource_exhausted(format!(
            "the server is at its limit of {} calls in flight; try again shortly",
            limits.max_in_flight
        )));
    };
    // The call keeps its slots until its response ends (streams included).
    let mut response = next(request).await;
    response.body_mut().hold(Slots {
        _all: permit,
        _client: client_slot,
    });
    response
}

/// A call's slots: one of the server's and one of its client's, released when dropped.
#[derive(Debug)]
pub struct Slots {
    _all: OwnedSemaphorePermit,
    _client: Option<ClientSlot>,
}

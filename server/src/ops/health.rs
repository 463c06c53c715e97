//! Health and reflection: `grpc.health.v1.Health` for the whole server (`""`) and for each
//! service by name, reflection for every proto the server speaks, and the readiness loop
//! that keeps one service's health in step with what it depends on.
//!
//! Reflection is served as `grpc.reflection.v1` and as its predecessor
//! `grpc.reflection.v1alpha`: many clients in use only speak v1alpha (grpcio-reflection's
//! Python descriptor database, older grpcurl and grpcui, several GUI clients).
//!
//! Services are named by the caller (`app.rs`, from the generated `SERVICE_NAME`
//! constants), so this file knows no feature.

use std::{future::Future, time::Duration};

use tokio_util::sync::CancellationToken;
use tonic_health::{
    ServingStatus,
    pb::health_server::{Health as HealthService, HealthServer},
    server::HealthReporter,
};
use tonic_reflection::{
    pb,
    server::{Builder, Error, v1, v1alpha},
};

/// The health and reflection services' names, so they count as served.
pub const SERVICES: [&str; 3] = [
    tonic_health::pb::health_server::SERVICE_NAME,
    pb::v1::server_reflection_server::SERVICE_NAME,
    pb::v1alpha::server_reflection_server::SERVICE_NAME,
];

/// The descriptors of their methods.
pub const DESCRIPTORS: [&[u8]; 3] = [
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    pb::v1::FILE_DESCRIPTOR_SET,
    pb::v1alpha::FILE_DESCRIPTOR_SET,
];

/// Reflection as `grpc.reflection.v1` and `grpc.reflection.v1alpha`, describing the
/// project's protos and the health service's.
pub fn reflection() -> Result<
    (
        v1::ServerReflectionServer<impl v1::ServerReflection>,
        v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>,
    ),
    Error,
> {
    let builder = || {
        Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok((builder().build_v1()?, builder().build_v1alpha()?))
}

/// The health of the whole server and of each named service.
#[derive(Debug, Clone)]
pub struct Health {
    reporter: HealthReporter,
    /// `""` (the whole server) first, then each service.
    names: Vec<&'static str>,
}

impl Health {
    /// The health reporter for `services`, and the gRPC service that answers for it.
    pub fn new(services: &[&'static str]) -> (Self, HealthServer<impl HealthService>) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let names = std::iter::once("")
            .chain(services.iter().copied())
            .collect();
        (Self { reporter, names }, service)
    }

    async fn set_all(&self, status: ServingStatus) {
        for name in &self.names {
            self.reporter.set_service_status(name, status).await;
        }
    }

    /// Everything is SERVING: the server accepts calls.
    pub async fn serving(&self) {
        self.set_all(ServingStatus::Serving).await;
    }

    /// Everything is NOT_SERVING: the server is draining.
    pub async fn draining(&self) {
        self.set_all(ServingStatus::NotServing).await;
    }

    /// Ends every health Watch stream (their clients have seen NOT_SERVING), so that none
    /// holds a shutdown for its whole grace period: a watch ends when its status goes away.
    pub async fn end_watches(mut self) {
        for name in std::mem::take(&mut self.names) {
            self.reporter.clear_service_status(name).await;
        }
    }

    /// Keeps `service`'s health in step with `probe`, checked `every` interval until
    /// `shutdown`: NOT_SERVING while it fails, SERVING again once it succeeds, so a load
    /// balancer's health checks see the real dependency. The first check comes one interval
    /// after start; until then the service counts as ready.
    pub async fn follow<P, F>(
        self,
        service: &'static str,
        every: Duration,
        probe: P,
        shutdown: CancellationToken,
    ) where
        P: Fn() -> F,
        F: Future<Output = Result<(), String>>,
    {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let outcome = probe().await;
            if shutdown.is_cancelled() {
                // Draining: NOT_SERVING stays, whatever the probe says.
                return;
            }
            let status = match outcome {
                Ok(()) => ServingStatus::Serving,
                Err(error) => {
                    tracing::warn!(%error, service, "dependency failing: reported NOT_SERVING");
                    ServingStatus::NotServing
                }
            };
            self.reporter.set_service_status(service, status).await;
        }
    }
}

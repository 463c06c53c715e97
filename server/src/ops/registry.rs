//! Registration in etcd, for clients that discover replicas there: the replica puts its
//! address under a prefix with a lease, keeps the lease alive while it serves, and revokes
//! it when it drains, so the key disappears at once (or, if the process dies, when the
//! lease expires). Speaks etcd's v3 JSON gateway (`/v3/...`) over HTTP.

use std::{io, net::SocketAddr, time::Duration};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Seconds a lease lives without a keep-alive: how long a crashed replica stays listed.
const LEASE_TTL_SECS: u64 = 10;

#[derive(Debug, thiserror::Error)]
#[error("etcd at {endpoint}: {reason}")]
pub struct RegistryError {
    endpoint: String,
    reason: String,
}

/// Where and as what a replica registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    /// etcd's client URL.
    pub etcd: String,
    /// The key prefix; each replica's key is the prefix and its address.
    pub prefix: String,
    /// The address clients should call; default: the one the server listens on.
    pub advertise: Option<String>,
}

/// A replica registered in etcd and kept there until [`Registered::leave`].
#[derive(Debug)]
pub struct Registered {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Registered {
    /// Registers the replica listening on `local`, and keeps the registration alive. An
    /// etcd that does not answer does not stop the server: it serves, and registration is
    /// tried again until it succeeds (each failure logged).
    pub async fn join(settings: &RegistrySettings, local: SocketAddr) -> io::Result<Self> {
        let address = match &settings.advertise {
            Some(address) => address.clone(),
            None if local.ip().is_unspecified() => {
                return Err(io::Error::other(
                    "registering in etcd needs --advertise: the server listens on every \
                     address, and clients need one they can reach",
                ));
            }
            None => local.to_string(),
        };
        let registration = Registration::new(&settings.etcd, &settings.prefix, address);
        let lease = match registration.register().await {
            Ok(lease) => {
                tracing::info!(etcd = %settings.etcd, "registered in etcd");
                Some(lease)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot register in etcd yet: serving, and trying again");
                None
            }
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(registration.maintain(lease, stop.clone()));
        Ok(Self { stop, task })
    }

    /// Deregisters (revokes the lease), so clients stop choosing this replica.
    pub async fn leave(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

#[derive(Debug, Clone)]
struct Registration {
    http: reqwest::Client,
    endpoint: String,
    key: String,
    address: String,
}

#[derive(Debug, Deserialize)]
struct Grant {
    #[serde(rename = "ID")]
    id: String,
}

impl Registration {
    /// `endpoint` is etcd's client URL; the key is `prefix` + `address`.
    fn new(endpoint: &str, prefix: &str, address: String) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            key: format!("{prefix}{address}"),
            address,
        }
    }

    async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, RegistryError> {
        let fail = |reason: String| RegistryError {
            endpoint: self.endpoint.clone(),
            reason,
        };
        let response = self
            .http
            .post(format!("{}{path}", self.endpoint))
            .json(&body)
            .send()
            .await
            .map_err(|error| fail(error.to_string()))?;
        let status = response.status();
        let value: serde_json::Value = response
            .json()
            .await
            .map_err(|error| fail(error.to_string()))?;
        if status.is_success() && value.get("error").is_none() {
            Ok(value)
        } else {
            Err(fail(format!("{status}: {value}")))
        }
    }

    /// Puts the address under a new lease; returns the lease.
    async fn register(&self) -> Result<String, RegistryError> {
        let grant = self
            .post("/v3/lease/grant", json!({ "TTL": LEASE_TTL_SECS }))
            .await?;
        let lease = serde_json::from_value::<Grant>(grant)
            .map_err(|error| RegistryError {
                endpoint: self.endpoint.clone(),
                reason: error.to_string(),
            })?
            .id;
        self.post(
            "/v3/kv/put",
            json!({
                "key": STANDARD.encode(&self.key),
                "value": STANDARD.encode(&self.address),
                "lease": lease,
            }),
        )
        .await?;
        Ok(lease)
    }

    /// Keeps the registration alive until `stop`, registering (again) if there is no lease
    /// or it was lost (etcd down at start or restarted, the network down longer than the
    /// lease); then revokes it.
    async fn maintain(self, mut lease: Option<String>, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(Duration::from_secs(LEASE_TTL_SECS / 3));
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = stop.cancelled() => break,
            }
            let alive = match &lease {
                None => false,
                Some(id) => self
                    .post("/v3/lease/keepalive", json!({ "ID": id }))
                    .await
                    .is_ok_and(|answer| {
                        answer["result"]["TTL"]
                            .as_str()
                            .is_some_and(|ttl| ttl != "0")
                    }),
            };
            if !alive {
                match self.register().await {
                    Ok(new) => {
                        tracing::info!(key = %self.key, "registered in etcd");
                        lease = Some(new);
                    }
                    Err(error) => tracing::warn!(%error, "cannot register in etcd; trying again"),
                }
            }
        }
        let Some(lease) = lease else {
            return;
        };
        match self.post("/v3/lease/revoke", json!({ "ID": lease })).await {
            Ok(_) => tracing::info!(key = %self.key, "deregistered from etcd"),
            Err(error) => {
                tracing::warn!(%error, "cannot deregister from etcd; the lease will expire")
            }
        }
    }
}

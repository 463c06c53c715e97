//! Calls spread over several replicas: their addresses come from a static list (each name
//! resolved through DNS, so one name may stand for many) or from etcd, where replicas
//! register themselves. tonic's balanced channel (tower's power-of-two-choices balancer)
//! sends each call to one of its endpoints. Every refresh keeps only the replicas that are
//! listed and accept a connection: one that leaves the list (deregistered, gone from DNS)
//! or stops accepting (crashed) is dropped, and comes back when it does.

use std::{collections::HashSet, time::Duration};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint, channel::Change};

/// How often the list of replicas is read again.
const REFRESH: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub enum Source {
    /// `host:port` entries; a host may resolve to several addresses.
    Static(Vec<String>),
    /// etcd's client URL and the prefix replicas register under.
    Etcd { url: String, prefix: String },
}

/// A channel that balances over the replicas `source` names, kept up to date in the
/// background, over plain HTTP/2 or, with `tls`, over TLS. The first list is read before it
/// returns, so an empty one is an error.
pub async fn balanced(
    source: Source,
    user_agent: &'static str,
    tls: Option<ClientTlsConfig>,
) -> Result<Channel, String> {
    let (channel, changes) = Channel::balance_channel::<String>(64);
    let first = addresses(&source).await?;
    if first.is_empty() {
        return Err(format!("no replica found ({})", describe(&source)));
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let insert = move |address: &String| -> Result<Change<String, Endpoint>, String> {
        let endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
            .and_then(|endpoint| endpoint.user_agent(user_agent))
            .and_then(|endpoint| match &tls {
                Some(tls) => endpoint.tls_config(tls.clone()),
                None => Ok(endpoint),
            })
            .map_err(|error| format!("replica '{address}': {error}"))?;
        Ok(Change::Insert(address.clone(), endpoint))
    };
    for address in &first {
        let _ = changes.send(insert(address)?).await;
    }
    tokio::spawn(async move {
        let mut known = first;
        loop {
            tokio::time::sleep(REFRESH).await;
            // A failed read keeps the last list: better stale than empty.
            let Ok(now) = addresses(&source).await else {
                continue;
            };
            for gone in known.difference(&now) {
                if changes.send(Change::Remove(gone.clone())).await.is_err() {
                    return;
                }
            }
            for new in now.difference(&known) {
                if let Ok(change) = insert(new)
                    && changes.send(change).await.is_err()
                {
                    return;
                }
            }
            known = now;
        }
    });
    Ok(channel)
}

fn describe(source: &Source) -> String {
    match source {
        Source::Static(entries) => format!("--servers {}", entries.join(",")),
        Source::Etcd { url, prefix } => format!("etcd {url}, prefix {prefix}"),
    }
}

/// The listed replicas that accept a connection now.
async fn addresses(source: &Source) -> Result<HashSet<String>, String> {
    let listed = listed(source).await?;
    let probes = listed.into_iter().map(|address| async move {
        let connected = tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(address.as_str()),
        )
        .await
        .is_ok_and(|connected| connected.is_ok());
        connected.then_some(address)
    });
    Ok(futures_util::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect())
}

async fn listed(source: &Source) -> Result<HashSet<String>, String> {
    match source {
        Source::Static(entries) => {
            let mut found = HashSet::new();
            for entry in entries {
                let resolved = tokio::net::lookup_host(entry.as_str())
                    .await
                    .map_err(|error| format!("cannot resolve '{entry}': {error}"))?;
                found.extend(resolved.map(|address| address.to_string()));
            }
            Ok(found)
        }
        Source::Etcd { url, prefix } => from_etcd(url, prefix).await,
    }
}

/// The values under `prefix`, through etcd's v3 JSON gateway.
async fn from_etcd(url: &str, prefix: &str) -> Result<HashSet<String>, String> {
    let body = serde_json::json!({
        "key": STANDARD.encode(prefix),
        "range_end": STANDARD.encode(prefix_end(prefix)),
    });
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v3/kv/range", url.trim_end_matches('/')))
        .timeout(Duration::from_secs(5))
        .json(&body)
        .send()
        .await
        .map_err(|error| format!("etcd at {url}: {error}"))?
        .json()
        .await
        .map_err(|error| format!("etcd at {url}: {error}"))?;
    let values = answer["kvs"].as_array().cloned().unwrap_or_default();
    Ok(values
        .iter()
        .filter_map(|kv| STANDARD.decode(kv["value"].as_str()?).ok())
        .filter_map(|value| String::from_utf8(value).ok())
        .collect())
}

/// The first key after every key that starts with `prefix`: the prefix with its last
/// byte incremented (etcd's range end for "all keys with this prefix").
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_end_follows_every_key_with_the_prefix() {
        assert_eq!(prefix_end("/a/"), b"/a0");
        assert_eq!(prefix_end("ab"), b"ac");
    }
}

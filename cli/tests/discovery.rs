//! Balancing over several replicas, found in a static list or in etcd (Debian's etcd,
//! started here on loopback): calls spread, a dead replica gets none, a drained one leaves
//! the list.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use testkit::TestServer;
use tokio::{
    io::AsyncWriteExt,
    net::TcpListener,
    process::{Child, Command},
};

const PATIENCE: Duration = Duration::from_secs(30);
const ETCD: &str = "/usr/bin/etcd";

struct Replica {
    address: String,
    server: TestServer,
}

impl Replica {
    async fn start(etcd: Option<&str>) -> Self {
        Self::start_with(|config| config.etcd = etcd.map(str::to_owned)).await
    }

    async fn start_with(configure: impl FnOnce(&mut server::Config)) -> Self {
        let server = TestServer::spawn_with(configure).await;
        Self {
            address: server.address.to_string(),
            server,
        }
    }

    /// Predict calls this replica answered.
    async fn answered(&self) -> u64 {
        let text = reqwest::get(&self.server.metrics_url)
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let series = r#"grpc_server_handled_total{method="/demo.MyService/Predict",code="OK"} "#;
        text.lines()
            .find_map(|line| line.strip_prefix(series))
            .map_or(0, |value| {
                value.trim().parse::<f64>().expect("a number") as u64
            })
    }

    /// Drains it (as SIGTERM would) and waits for the end.
    async fn drain(&mut self) {
        self.server.drain().await.expect("clean stop");
    }
}

/// `count` Predict calls from one `client shell` run with `args`.
async fn calls(args: &[&str], count: usize) -> (Option<i32>, usize, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(args)
        .arg("shell")
        .env_remove("CLIENT_SERVER")
        .env_remove("CLIENT_SERVERS")
        .env_remove("CLIENT_ETCD")
        .env_remove("CLIENT_TOKEN")
        .env_remove("CLIENT_INSECURE_DISCOVERY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("client starts");
    let lines: String = (0..count).map(|n| format!("predict call-{n}\n")).collect();
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(lines.as_bytes()).await.expect("write");
    drop(stdin);
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("finishes")
        .expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    (
        output.status.code(),
        stdout
            .lines()
            .filter(|line| line.starts_with("Hello, call-"))
            .count(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

/// etcd on loopback, on ports that were free a moment ago (it cannot report a port 0);
/// retried on other ports if one was taken meanwhile.
async fn start_etcd(dir: &std::path::Path) -> (Child, String) {
    for attempt in 0..5 {
        let (client, peer) = (free_port().await, free_port().await);
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut etcd = Command::new(ETCD)
            .arg("--name=test")
            .arg(format!(
                "--data-dir={}",
                dir.join(format!("etcd-{attempt}")).display()
            ))
            .arg(format!("--listen-client-urls={url}"))
            .arg(format!("--advertise-client-urls={url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{ETCD} (Debian's etcd-server) must be installed: {error}")
            });
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = etcd.try_wait() {
                break;
            }
            if reqwest::get(format!("{url}/health"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return (etcd, url);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = etcd.kill().await;
    }
    panic!("etcd did not start");
}

/// How many replicas etcd lists under the default prefix.
async fn registered(url: &str) -> usize {
    use base64::Engine as _;
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v3/kv/range"))
        .json(&serde_json::json!({
            "key": encode("/grpc-browser/replicas/"),
            "range_end": encode("/grpc-browser/replicas0"),
            "count_only": true,
        }))
        .send()
        .await
        .expect("etcd answers")
        .json()
        .await
        .expect("JSON");
    answer["count"]
        .as_str()
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_static_list_spreads_the_calls_and_skips_a_dead_replica() {
    let replicas = [Replica::start(None).await, Replica::start(None).await];
    // A port nothing listens on: a replica that died.
    let dead = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_address = dead.local_addr().expect("address").to_string();
    drop(dead);
    let servers = format!(
        "{},{},{dead_address}",
        replicas[0].address, replicas[1].address
    );

    let (code, answered, stderr) = calls(&["--servers", &servers], 60).await;
    assert_eq!((code, answered), (Some(0), 60), "{stderr}");
    for replica in &replicas {
        assert!(
            replica.answered().await >= 5,
            "each live replica took a share"
        );
    }
}

#[tokio::test]
async fn replicas_found_in_etcd_share_the_calls_and_a_drained_one_leaves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_etcd, url) = start_etcd(dir.path()).await;
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(Some(&url)).await);
    }
    // Each registers as it starts serving: wait until etcd lists all three.
    let started = Instant::now();
    while registered(&url).await < 3 {
        assert!(
            started.elapsed() < PATIENCE,
            "the replicas registered in etcd"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (code, answered, stderr) = calls(&["--etcd", &url], 60).await;
    assert_eq!((code, answered), (Some(0), 60), "{stderr}");
    let mut shares = Vec::new();
    for replica in &replicas {
        shares.push(replica.answered().await);
    }
    assert!(
        shares.iter().all(|&share| share >= 5),
        "calls spread: {shares:?}"
    );

    // Drained: it deregisters before it stops, so new clients do not choose it.
    replicas[0].drain().await;
    let before = replicas[0].answered().await;
    let (code, answered, stderr) = calls(&["--etcd", &url], 30).await;
    assert_eq!((code, answered), (Some(0), 30), "{stderr}");
    assert_eq!(
        replicas[0].answered().await,
        before,
        "the drained replica got nothing"
    );

    // With none registered, the client says so.
    for replica in &mut replicas[1..] {
        replica.drain().await;
    }
    let (code, _, stderr) = calls(&["--etcd", &url], 1).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no replica found"), "{stderr}");
}

/// The token never goes in clear text to replicas a list named: whoever can write the list
/// could collect it. TLS with --ca-file, or an explicit --insecure-discovery.
#[tokio::test]
async fn a_token_goes_to_discovered_replicas_only_over_tls_or_when_told() {
    let plain = Replica::start(None).await;
    let (code, answered, stderr) =
        calls(&["--servers", &plain.address, "--token", "s3cret"], 1).await;
    assert_eq!((code, answered), (Some(2), 0), "{stderr}");
    assert!(stderr.contains("--insecure-discovery"), "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "the token is not echoed: {stderr}"
    );

    let (code, answered, stderr) = calls(
        &[
            "--servers",
            &plain.address,
            "--token",
            "s3cret",
            "--insecure-discovery",
        ],
        1,
    )
    .await;
    assert_eq!((code, answered), (Some(0), 1), "{stderr}");

    // Replicas with the development certificate, called over TLS: the token may go.
    let dir = tempfile::tempdir().expect("temp dir");
    let tls_dir = dir.path().to_owned();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let tls_dir = tls_dir.clone();
        replicas.push(
            Replica::start_with(move |config| {
                config.tls_self_signed = true;
                config.tls_dir = tls_dir;
            })
            .await,
        );
    }
    let servers = format!("{},{}", replicas[0].address, replicas[1].address);
    let ca_file = tls_dir.join("localhost.pem");
    let ca_file = ca_file.to_str().expect("a UTF-8 path");
    let (code, answered, stderr) = calls(
        &[
            "--servers",
            &servers,
            "--ca-file",
            ca_file,
            "--token",
            "s3cret",
        ],
        40,
    )
    .await;
    assert_eq!((code, answered), (Some(0), 40), "{stderr}");
    for replica in &replicas {
        assert!(
            replica.answered().await >= 5,
            "each TLS replica took a share"
        );
    }
}

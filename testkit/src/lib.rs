//! The real server for tests: [`TestServer::spawn`] builds the same [`App`] the binary
//! runs, on `127.0.0.1:0` (and its metrics on another free port), and stops it when the
//! test ends. The server's, the CLI's, the discovery and the load tool's tests all start it
//! here, and call it through the clients below: native gRPC, and gRPC-Web over HTTP/1.1 and
//! HTTP/2 as a browser speaks it.

pub mod postgres;
pub mod rest;

use std::{future::Future, io, net::SocketAddr, time::Duration};

use http::Uri;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use server::{App, Config, weather::LiveHub};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::{Channel, Endpoint};
use tonic_web::{GrpcWebCall, GrpcWebClientLayer, GrpcWebClientService};
use tower::Layer as _;

/// A gRPC-Web transport: hyper under tonic-web's client layer, so every call goes over the
/// wire as `application/grpc-web+proto`, as a browser sends it.
pub type WebChannel = GrpcWebClientService<Client<HttpConnector, GrpcWebCall<tonic::body::Body>>>;

/// Live updates every 100 ms, so streaming tests see several without waiting long.
pub const LIVE_INTERVAL: Duration = Duration::from_millis(100);

/// Guards every wait in the tests: reaching it is a failure, not a pass.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running server. Dropping it drops the shutdown sender, which also stops the server.
#[derive(Debug)]
pub struct TestServer {
    pub address: SocketAddr,
    /// Where `GET /metrics` answers.
    pub metrics_url: String,
    pub hub: LiveHub,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<io::Result<()>>,
    /// The default `--data-dir` (its SQLite database), removed with the server.
    _data: tempfile::TempDir,
}

impl TestServer {
    /// The server with the default configuration, but live updates every [`LIVE_INTERVAL`]
    /// and no drain delay (no balancer waits for its health checks here).
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// The server with the defaults changed by `configure`. Its data directory (SQLite) is
    /// a new temporary one unless `configure` names another, or a `--database-url`.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        let data = tempfile::Builder::new()
            .prefix("testkit-data-")
            .tempdir()
            .expect("a temporary directory");
        let mut config = Config::defaults();
        config.live_interval = LIVE_INTERVAL;
        config.drain_delay = Duration::ZERO;
        config.data_dir = data.path().to_owned();
        configure(&mut config);

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("local address");
        let app = App::build(&config).await.expect("app builds");
        let hub = app.live_hub().clone();
        let metrics_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let metrics_url = format!(
            "http://{}/metrics",
            metrics_listener.local_addr().expect("local address")
        );
        // Stopped with the test's runtime.
        tokio::spawn(axum::serve(metrics_listener, app.metrics_router()).into_future());
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async {
            // A dropped sender (test over or failed) stops the server too.
            let _ = signal.await;
        }));
        Self {
            address,
            metrics_url,
            hub,
            shutdown: Some(shutdown),
            server,
            _data: data,
        }
    }

    pub fn uri(&self) -> Uri {
        self.url().parse().expect("valid URI")
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Native gRPC over HTTP/2 (h2c).
    pub async fn native_channel(&self) -> Channel {
        Endpoint::from_shared(self.url())
            .expect("valid endpoint")
            .connect()
            .await
            .expect("connects")
    }

    /// gRPC-Web over HTTP/1.1, as a browser speaks it to a plain-HTTP origin.
    pub fn grpc_web_channel(&self) -> WebChannel {
        let http = Client::builder(TokioExecutor::new()).build_http();
        GrpcWebClientLayer::new().layer(http)
    }

    /// gRPC-Web over HTTP/2 (prior knowledge), as a browser speaks it over TLS.
    pub fn grpc_web_h2_channel(&self) -> WebChannel {
        let http = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        GrpcWebClientLayer::new().layer(http)
    }

    /// Starts a graceful shutdown and waits for the server to finish it.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.drain().await
    }

    /// [`Self::shutdown`], keeping the handle: its metrics still answer after. Once only.
    pub async fn drain(&mut self) -> io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.server)
            .await
            .expect("the server stops within the test's patience")
            .expect("the server task did not panic")
    }

    /// Retries `check` until it holds, failing after the test's patience.
    pub async fn wait_until<F, Fut>(&self, check: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        tokio::time::timeout(PATIENCE, async {
            while !check().await {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the condition holds within the test's patience");
    }

    /// Waits until no live-update producer runs: every stream's server-side work is gone.
    pub async fn wait_for_no_producers(&self) {
        let mut producers = self.hub.producers();
        tokio::time::timeout(PATIENCE, producers.wait_for(|count| *count == 0))
            .await
            .expect("the producers stop once their subscribers are gone")
            .expect("hub alive");
    }
}

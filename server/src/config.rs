//! Server configuration: typed, with defaults, from flags or environment variables, and
//! validated at start so a bad value fails with a message that names the expected format.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, time::Duration};

use clap::{CommandFactory, FromArgMatches, Parser};
use http::HeaderValue;
use ipnet::IpNet;

use crate::{
    layers::{call_limits::CallLimitSettings, call_time::CallTime, client::TrustedProxies},
    ops::registry::RegistrySettings,
    transport::{
        accept::ConnectionLimits,
        tls::{Certificate, TlsSettings},
    },
    weather::open_meteo::OpenMeteoConfig,
};

/// A TLS handshake, or an HTTP/1.1 request's headers, must arrive within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One port for native gRPC, gRPC-Web and the web app.
///
/// Every flag can also be set by the environment variable shown with it.
#[derive(Debug, Clone, Parser)]
#[command(name = "server", version, about, long_about = None)]
#[command(group = clap::ArgGroup::new("tls").args(["tls_cert", "tls_self_signed"]))]
pub struct Config {
    /// Address and port to listen on. Port 0 picks a free port (printed at start).
    #[arg(long, env = "SERVER_LISTEN", default_value = "[::]:50051")]
    pub listen: SocketAddr,

    /// Directory of the built frontend (index.html and its assets). Without it, ./dist is
    /// served when it exists, and otherwise only gRPC is served.
    #[arg(long, env = "SERVER_STATIC_DIR", value_parser = parse_static_dir)]
    pub static_dir: Option<PathBuf>,

    /// Where to serve Prometheus metrics (`GET /metrics`), e.g. `127.0.0.1:9464`: an address
    /// of its own, so they are not public with the app. Without it, no metrics endpoint.
    #[arg(long, env = "SERVER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Log filter, in tracing's EnvFilter syntax, e.g. `info` or `server=debug,tower_http=info`.
    #[arg(long, env = "RUST_LOG", default_value = "info", value_parser = parse_log_filter)]
    pub log: String,

    /// Where to send traces, over OTLP/gRPC, e.g. `http://127.0.0.1:4317` (an OpenTelemetry
    /// collector). Each call is a span, the child of the caller's W3C `traceparent`. Without
    /// it nothing is exported: a caller's `traceparent` is still passed on between services
    /// and its trace id logged.
    #[arg(long, env = "SERVER_OTLP_ENDPOINT", value_parser = flags::http_url)]
    pub otlp_endpoint: Option<String>,

    /// Log lines for people (`human`) or one JSON object a line for log collectors
    /// (`json`), each with its call's span (method, request id).
    #[arg(long, env = "SERVER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Origins allowed to call the gRPC-Web services cross-origin, comma separated
    /// (`https://app.example.com,http://localhost:8080`). Default: none, so only the page
    /// this server serves (same origin) can call it from a browser.
    #[arg(long, env = "SERVER_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<HeaderValue>,

    /// Development only: let any origin call cross-origin (permissive CORS). Never in
    /// production: any site a user visits could then call this server from their browser.
    #[arg(
        long,
        env = "SERVER_DEV_CORS_ANY_ORIGIN",
        conflicts_with = "cors_origins"
    )]
    pub dev_cors_any_origin: bool,

    /// How often live weather streams push an update, e.g. `2s` or `500ms` (100ms to 1h).
    #[arg(long, env = "SERVER_LIVE_INTERVAL", default_value = "2s", value_parser = flags::duration_in(Duration::from_millis(100)..=Duration::from_secs(3600)))]
    pub live_interval: Duration,

    /// Bearer token required by the methods that change state (posting to a chat room).
    /// Without it they are open to anyone. Prefer the environment variable: a flag shows in
    /// the process list.
    #[arg(long, env = "SERVER_AUTH_TOKEN", hide_env_values = true, value_parser = flags::Token)]
    pub auth_token: Option<String>,

    /// Directory of the embedded database (SQLite), made if missing; used when
    /// --database-url is not given.
    #[arg(long, env = "SERVER_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// The database: `sqlite://PATH` (embedded, one process) or `postgres://USER@HOST/DB`
    /// (shared by several replicas). Default: `sqlite://<data-dir>/app.db`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = database_url)]
    pub database_url: Option<String>,

    /// Database connections the server keeps open at most (1 to 1000).
    #[arg(long, env = "SERVER_DB_MAX_CONNECTIONS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// How long a call waits for a free database connection before UNAVAILABLE (100ms to 1m).
    #[arg(long, env = "SERVER_DB_ACQUIRE_TIMEOUT", default_value = "5s",
          value_parser = flags::duration_in(Duration::from_millis(100)..=Duration::from_secs(60)))]
    pub db_acquire_timeout: Duration,

    /// How long one database statement may run (PostgreSQL statement_timeout; SQLite's
    /// wait for its write lock), 100ms to 10m.
    #[arg(long, env = "SERVER_DB_STATEMENT_TIMEOUT", default_value = "5s",
          value_parser = flags::duration_in(Duration::from_millis(100)..=Duration::from_secs(600)))]
    pub db_statement_timeout: Duration,

    /// How long a resumable upload that is not going on is kept for its client to resume
    /// (1s to 30d); the next upload to begin after that removes it.
    #[arg(long, env = "SERVER_UPLOAD_EXPIRY", default_value = "24h",
          value_parser = flags::duration_in(Duration::from_secs(1)..=Duration::from_secs(30 * 86_400)))]
    pub upload_expiry: Duration,

    /// Largest file an upload may send, in MiB (1 to 4096).
    #[arg(long, env = "SERVER_UPLOAD_MAX_MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub upload_max_mib: u32,

    /// Where weather comes from: `model` (offline and deterministic) or `open-meteo` (the
    /// public Open-Meteo forecast API, no key; needs the internet).
    #[arg(long, env = "SERVER_WEATHER_PROVIDER", value_enum, default_value_t = WeatherProvider::Model)]
    pub weather_provider: WeatherProvider,

    /// The blog's services this server runs, comma separated: `authors`, `posts`,
    /// `comments`. The ones it does not run are reached at --blog-peer (posts call authors,
    /// comments call posts).
    #[arg(
        long,
        env = "SERVER_SERVICES",
        value_enum,
        value_delimiter = ',',
        default_value = "authors,posts,comments"
    )]
    pub services: Vec<BlogService>,

    /// Where the blog's services not run here are served: another server of this binary,
    /// `http://HOST:PORT` (plain HTTP/2, inside a deployment's own network).
    #[arg(long, env = "SERVER_BLOG_PEER", value_parser = blog_peer)]
    pub blog_peer: Option<String>,

    /// Base URL of the Open-Meteo API (another instance, or a test double).
    #[arg(long, env = "SERVER_OPEN_METEO_URL", default_value = "https://api.open-meteo.com",
          value_parser = flags::http_url)]
    pub open_meteo_url: String,

    /// Time limit for one request to the weather provider, e.g. `5s`; failed requests are
    /// retried twice, with backoff.
    #[arg(long, env = "SERVER_PROVIDER_TIMEOUT", default_value = "5s", value_parser = flags::duration)]
    pub provider_timeout: Duration,

    /// How old a provider's answer may be and still be served from the cache, e.g. `10m`.
    #[arg(long, env = "SERVER_PROVIDER_MAX_AGE", default_value = "10m", value_parser = flags::duration)]
    pub provider_max_age: Duration,

    /// How often the dependencies that can fail are checked for the health of the services
    /// on them: the database (chat), and the weather provider when it is open-meteo.
    #[arg(long, env = "SERVER_READINESS_INTERVAL", default_value = "5s",
          value_parser = flags::duration_in(Duration::from_millis(100)..=Duration::from_secs(3600)))]
    pub readiness_interval: Duration,

    /// A Watch stream with nothing to send for this long sends a heartbeat (1s to 5m).
    #[arg(long, env = "SERVER_HEARTBEAT", default_value = "15s", value_parser = flags::duration_in(Duration::from_secs(1)..=Duration::from_secs(300)))]
    pub heartbeat: Duration,

    /// PEM certificate chain to serve TLS with (with --tls-key). Without TLS the server
    /// speaks plain HTTP (h2c for native gRPC), fine behind a TLS-terminating proxy.
    #[arg(
        long,
        env = "SERVER_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "SERVER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Development TLS: a self-signed certificate for localhost, made in --tls-dir on the
    /// first run and reused after (the log says how to trust it).
    #[arg(long, env = "SERVER_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,

    /// Where --tls-self-signed keeps its certificate and key.
    #[arg(long, env = "SERVER_TLS_DIR", default_value = ".tls")]
    pub tls_dir: PathBuf,

    /// Mutual TLS: require a client certificate signed by this PEM CA. For native clients;
    /// a browser would need a client certificate installed. Needs TLS.
    #[arg(long, env = "SERVER_TLS_CLIENT_CA", requires = "tls")]
    pub tls_client_ca: Option<PathBuf>,

    /// Largest gRPC message, request or response, in bytes (1 KiB to 64 MiB). Larger ones
    /// get RESOURCE_EXHAUSTED.
    #[arg(long, env = "SERVER_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..=64 * 1024 * 1024))]
    pub max_message_bytes: u32,

    /// Calls open at once on one grpc-ws socket (1 to 1,000). Each may hold one window
    /// (256 KiB) of request bytes its handler has not read: 64 make at most 16 MiB.
    #[arg(long, env = "SERVER_WS_MAX_STREAMS_PER_SOCKET", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub ws_max_streams_per_socket: u32,

    /// Frames one grpc-ws socket may send per second (100 to 1,000,000); a socket that
    /// sends more is closed. 10,000 carries an upload at 160 MiB/s in 16 KiB frames.
    #[arg(long, env = "SERVER_WS_MAX_FRAMES_PER_SECOND", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    pub ws_max_frames_per_second: u32,

    /// Concurrent calls on one HTTP/2 connection (1 to 10,000).
    #[arg(long, env = "SERVER_MAX_STREAMS_PER_CONNECTION", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_streams_per_connection: u32,

    /// Largest request header block, in bytes (4 KiB to 1 MiB).
    #[arg(long, env = "SERVER_MAX_HEADER_BYTES", default_value_t = 16 * 1024,
          value_parser = clap::value_parser!(u32).range(4096..=1024 * 1024))]
    pub max_header_bytes: u32,

    /// A connection with no call running for this long is closed (1s to 1h), e.g. `5m`.
    #[arg(long, env = "SERVER_IDLE_TIMEOUT", default_value = "5m", value_parser = flags::duration_in(Duration::from_secs(1)..=Duration::from_secs(3600)))]
    pub idle_timeout: Duration,

    /// Calls in flight on the whole server, streams included (1 to 1,000,000); more get
    /// RESOURCE_EXHAUSTED at once.
    #[arg(long, env = "SERVER_MAX_IN_FLIGHT", default_value_t = 50_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_in_flight: u32,

    /// Calls in flight from one client (its IP, IPv6 by /64, see --trusted-proxies),
    /// streams and live subscriptions included (1 to 1,000,000), so one client cannot take
    /// every slot; more get RESOURCE_EXHAUSTED at once.
    #[arg(long, env = "SERVER_MAX_IN_FLIGHT_PER_CLIENT", default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_in_flight_per_client: u32,

    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers name the client, as IP
    /// addresses or CIDR networks, comma separated (e.g. `127.0.0.1,10.0.0.0/8`). From any
    /// other peer those headers are ignored. Default: none, every client is its TCP peer.
    #[arg(long, env = "SERVER_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<IpNet>,

    /// A call whose client keeps its request stream open but sends nothing for this long
    /// is ended with DEADLINE_EXCEEDED (1s to 1h), e.g. `60s`. Live subscriptions (chat
    /// Join) are exempt: they are bounded per client instead.
    #[arg(long, env = "SERVER_REQUEST_IDLE_TIMEOUT", default_value = "60s", value_parser = flags::duration_in(Duration::from_secs(1)..=Duration::from_secs(3600)))]
    pub request_idle_timeout: Duration,

    /// The longest a call may run while its client has not closed its request stream (1s
    /// to 24h), e.g. `2h`: enough for the largest upload on a slow link. Live subscriptions
    /// are exempt; server streams whose request has ended are not limited.
    #[arg(long, env = "SERVER_MAX_CALL_DURATION", default_value = "2h", value_parser = flags::duration_in(Duration::from_secs(1)..=Duration::from_secs(24 * 3600)))]
    pub max_call_duration: Duration,

    /// Calls per minute one client may make to the methods that change state (chat Post,
    /// each message of a Join, file Upload), bursts up to the same number; more get
    /// RESOURCE_EXHAUSTED with a RetryInfo.
    #[arg(long, env = "SERVER_STATE_CHANGES_PER_MINUTE", default_value_t = NonZeroU32::new(120).expect("not zero"))]
    pub state_changes_per_minute: NonZeroU32,

    /// etcd to register this replica in (its client URL, e.g. `http://127.0.0.1:2379`), so
    /// clients can discover it; deregistered when draining.
    #[arg(long, env = "SERVER_ETCD", value_parser = flags::http_url)]
    pub etcd: Option<String>,

    /// The key prefix replicas register under; each key is the prefix and the address.
    #[arg(
        long,
        env = "SERVER_ETCD_PREFIX",
        default_value = "/grpc-browser/replicas/"
    )]
    pub etcd_prefix: String,

    /// The address clients should call this replica at (`host:port`), for etcd. Default:
    /// the address it listens on, when that is a specific one.
    #[arg(long, env = "SERVER_ADVERTISE", value_parser = flags::host_port)]
    pub advertise: Option<String>,

    /// How long a draining server reports NOT_SERVING while still serving, before it stops
    /// accepting connections (0s to 5m): time for a balancer's health checks to see it and
    /// send new calls elsewhere, e.g. `5s` for checks every 2 s. `0s` stops at once.
    #[arg(long, env = "SERVER_DRAIN_DELAY", default_value = "2s", value_parser = flags::duration_in(Duration::ZERO..=Duration::from_secs(300)))]
    pub drain_delay: Duration,

    /// How long a graceful shutdown waits for running calls before exiting anyway, e.g. `10s`.
    #[arg(long, env = "SERVER_SHUTDOWN_GRACE", default_value = "10s", value_parser = flags::duration)]
    pub shutdown_grace: Duration,
}

impl Config {
    /// The defaults, as if started with no flags and no environment: what tests build on.
    /// Taken from the flags' own defaults above, so they are written once.
    pub fn defaults() -> Self {
        let command = Self::command().mut_args(|arg| arg.env(None::<&str>));
        let matches = command
            .try_get_matches_from(["server"])
            .expect("the defaults are valid");
        Self::from_arg_matches(&matches).expect("the defaults are valid")
    }

    /// Whether the server speaks TLS.
    pub fn serves_tls(&self) -> bool {
        self.tls_cert.is_some() || self.tls_self_signed
    }

    /// The TLS settings, if the server speaks TLS.
    pub fn tls(&self) -> Option<TlsSettings> {
        let certificate = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Certificate::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ if self.tls_self_signed => Certificate::SelfSigned {
                dir: self.tls_dir.clone(),
            },
            _ => return None,
        };
        Some(TlsSettings {
            certificate,
            client_ca: self.tls_client_ca.clone(),
        })
    }

    /// Where to register in etcd, if anywhere.
    pub fn registry(&self) -> Option<RegistrySettings> {
        Some(RegistrySettings {
            etcd: self.etcd.clone()?,
            prefix: self.etcd_prefix.clone(),
            advertise: self.advertise.clone(),
        })
    }

    /// The limits of every connection.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_streams: self.max_streams_per_connection,
            max_header_bytes: self.max_header_bytes,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            idle_timeout: self.idle_timeout,
        }
    }

    /// How to reach Open-Meteo, when it is the weather provider.
    pub fn open_meteo(&self) -> OpenMeteoConfig {
        OpenMeteoConfig {
            base_url: self.open_meteo_url.clone(),
            timeout: self.provider_timeout,
            max_age: self.provider_max_age,
        }
    }

    /// The call limits' settings.
    pub fn call_limits(&self) -> CallLimitSettings {
        CallLimitSettings {
            max_in_flight: self.max_in_flight,
            max_in_flight_per_client: self.max_in_flight_per_client,
            state_changes_per_minute: self.state_changes_per_minute,
            trusted_proxies: TrustedProxies::new(self.trusted_proxies.clone()),
        }
    }

    /// The limits on calls whose request stays open; `live` are exempt.
    pub fn call_time(&self, live: Vec<String>) -> CallTime {
        CallTime {
            request_idle: self.request_idle_timeout,
            max_duration: self.max_call_duration,
            live: std::sync::Arc::new(live.into_iter().collect()),
        }
    }

    /// The database and the pool's limits.
    pub fn store(&self) -> crate::store::StoreSettings {
        crate::store::StoreSettings {
            url: self
                .database_url
                .clone()
                .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("app.db").display())),
            max_connections: self.db_max_connections,
            acquire_timeout: self.db_acquire_timeout,
            statement_timeout: self.db_statement_timeout,
        }
    }

    /// The largest file an upload may send, in bytes.
    pub fn upload_max_bytes(&self) -> u64 {
        u64::from(self.upload_max_mib) * 1024 * 1024
    }
}

/// A database URL naming an engine the store runs on.
fn database_url(value: &str) -> Result<String, String> {
    crate::store::Engine::of(value)?;
    Ok(value.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// The blog's services, as `--services` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BlogService {
    /// `blog.v1.AuthorService`.
    Authors,
    /// `blog.v1.PostService` (calls the author service).
    Posts,
    /// `blog.v1.CommentService` (calls the post service).
    Comments,
}

fn blog_peer(value: &str) -> Result<String, String> {
    let url = flags::http_url(value)?;
    if url.starts_with("https://") {
        return Err(
            "expected http://HOST:PORT: the blog's services call each other over \
                    plain HTTP/2 inside a deployment"
                .into(),
        );
    }
    Ok(url)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WeatherProvider {
    /// The offline model.
    Model,
    /// Open-Meteo's forecast API.
    OpenMeteo,
}

fn parse_origin(value: &str) -> Result<HeaderValue, String> {
    let value = value.trim();
    if value == "*" {
        return Err("`*` (any origin) is for development only: use --dev-cors-any-origin".into());
    }
    let expected = "expected an origin such as `https://app.example.com` or \
                    `http://localhost:8080` (scheme, host, optional port; no path)";
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or_else(|| format!("'{value}': {expected}"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(format!("'{value}': {expected}"));
    }
    HeaderValue::from_str(value).map_err(|_| format!("'{value}': {expected}"))
}

/// A network (`10.0.0.0/8`, `2001:db8::/32`) or one address (`127.0.0.1`, `::1`).
fn parse_network(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| {
            "expected an IP address or CIDR network, e.g. `127.0.0.1` or `10.0.0.0/8`".into()
        })
}

fn parse_static_dir(value: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from(value);
    if dir.join("index.html").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "'{value}' has no index.html: expected the directory of a built frontend \
             (`cargo xtask run` builds it into ./dist)"
        ))
    }
}

fn parse_log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|error| {
            format!("'{value}': {error}; expected e.g. `info` or `server=debug,tower_http=info`")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_match_the_seeds_address() {
        let config = parse(&[]).expect("defaults parse");
        assert_eq!(config.listen.to_string(), "[::]:50051");
        assert_eq!(config.live_interval, Config::defaults().live_interval);
        assert!(config.cors_origins.is_empty());
    }

    #[test]
    fn origins_are_validated() {
        let config = parse(&["--cors-origins", "https://a.example,http://localhost:8080"])
            .expect("valid origins");
        assert_eq!(config.cors_origins.len(), 2);
        let error = parse_origin("*").expect_err("development only");
        assert!(error.contains("--dev-cors-any-origin"), "{error}");
        for bad in [
            "example.com",
            "https://a.example/path",
            "ftp://x",
            "https://",
        ] {
            let error = parse_origin(bad).expect_err(bad);
            assert!(error.contains("expected"), "{error}");
        }
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        let error = parse(&["--listen", "localhost"]).expect_err("not a socket address");
        assert!(error.to_string().contains("--listen"), "{error}");
        let error = parse(&["--live-interval", "5ms"]).expect_err("too short");
        assert!(error.to_string().contains("100ms to 1h"), "{error}");
        let error = parse(&["--static-dir", "/nonexistent"]).expect_err("no index.html");
        assert!(error.to_string().contains("index.html"), "{error}");
        let error = parse(&["--etcd", "localhost:2379"]).expect_err("no scheme");
        assert!(error.to_string().contains("http://"), "{error}");
        let error = parse(&["--advertise", "replica-1"]).expect_err("no port");
        assert!(error.to_string().contains("HOST:PORT"), "{error}");
        let error = parse(&["--auth-token", "has space"]).expect_err("not a header value");
        assert!(error.to_string().contains("visible ASCII"), "{error}");
        assert!(
            !error.to_string().contains("has space"),
            "the secret is not echoed: {error}"
        );
        let config = parse(&["--trusted-proxies", "127.0.0.1,10.0.0.0/8,::1"]).expect("valid");
        assert_eq!(config.trusted_proxies.len(), 3);
        let error = parse(&["--trusted-proxies", "10.0.0.0/33"]).expect_err("bad prefix");
        assert!(error.to_string().contains("CIDR"), "{error}");
        let error = parse(&["--tls-client-ca", "ca.pem"]).expect_err("mutual TLS needs TLS");
        assert!(error.to_string().contains("--tls-cert"), "{error}");
        let error = parse(&["--log", "=="]).expect_err("bad filter");
        assert!(error.to_string().contains("expected"), "{error}");
    }
}

//! The application: every service, the web layers around them, and serving them on one
//! listener until a shutdown signal, then draining.

use std::{future::Future, io, sync::Arc, time::Duration};

use axum::Router;
use http::{HeaderName, HeaderValue, Method, header};
use proto::{
    chat::v1::chat_service_server::ChatServiceServer, demo::my_service_server::MyServiceServer,
    files::v1::file_service_server::FileServiceServer, greeter::greeter_server::GreeterServer,
    weather::v1::weather_service_server::WeatherServiceServer,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{codec::CompressionEncoding, server::NamedService, service::Routes};
use tonic_health::{ServingStatus, server::HealthReporter};
use tonic_web::GrpcWebLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{
    access_log,
    auth::{self, Auth},
    call_limits::{self, CallLimits},
    chat::Rooms,
    config::{Config, WeatherProvider},
    connections::{self, ConnectionLimits},
    deadline,
    files::FileStore,
    interop, message_limits,
    metrics::Metrics,
    registry::Registration,
    services::{ChatService, FileService, GreeterService, PredictService, WeatherService},
    static_files,
    tls::{self, Certificate, TlsError},
    weather::{
        Catalog, City, LiveHub, Provider,
        open_meteo::{OpenMeteo, OpenMeteoConfig, ProviderError},
        provider::Clock,
    },
};

/// What the health service reports on: the whole server ("") and each service by its
/// protobuf name, taken from the generated code so they cannot drift.
const HEALTH_NAMES: &[&str] = &[
    "",
    <GreeterServer<GreeterService> as NamedService>::NAME,
    <MyServiceServer<PredictService> as NamedService>::NAME,
    <WeatherServiceServer<WeatherService> as NamedService>::NAME,
    <ChatServiceServer<ChatService> as NamedService>::NAME,
    <FileServiceServer<FileService> as NamedService>::NAME,
    interop::SERVICE_NAME,
];

/// A built application, ready to serve on a listener.
#[derive(Debug)]
pub struct App {
    router: Router,
    hub: LiveHub,
    health: HealthReporter,
    shutdown: CancellationToken,
    grace: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ConnectionLimits,
    metrics: Metrics,
    call_limits: CallLimits,
    /// Set when the weather comes from a service that can fail.
    readiness: Option<Readiness>,
    /// etcd's URL, the key prefix and the advertised address, when registering.
    etcd: Option<(String, String, Option<String>)>,
}

/// Keeps the weather service's health in step with its provider: NOT_SERVING while the
/// provider fails, SERVING again once it answers, so a load balancer's health checks see
/// the real dependency.
#[derive(Debug)]
struct Readiness {
    provider: Arc<Provider>,
    city: Arc<City>,
    every: Duration,
}

impl Readiness {
    async fn run(self, health: HealthReporter, shutdown: CancellationToken) {
        let name = <WeatherServiceServer<WeatherService> as NamedService>::NAME;
        // The first check one interval after start: until then the service counts as ready.
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + self.every, self.every);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let outcome = self.provider.current(&self.city).await;
            if shutdown.is_cancelled() {
                // Draining: NOT_SERVING stays, whatever the provider says.
                return;
            }
            let status = match outcome {
                Ok(_) => ServingStatus::Serving,
                Err(error) => {
                    tracing::warn!(%error, "weather provider failing: weather reported NOT_SERVING");
                    ServingStatus::NotServing
                }
            };
            health.set_service_status(name, status).await;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("cannot set up the weather provider: {0}")]
    Provider(#[from] ProviderError),
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] TlsError),
}

impl App {
    pub fn build(config: &Config) -> Result<Self, BuildError> {
        let shutdown = CancellationToken::new();
        let catalog = Arc::new(Catalog::embedded());
        let provider = Arc::new(match config.weather_provider {
            WeatherProvider::Model => Provider::Model(Clock::System),
            WeatherProvider::OpenMeteo => Provider::OpenMeteo(OpenMeteo::new(OpenMeteoConfig {
                base_url: config.open_meteo_url.clone(),
                timeout: config.provider_timeout,
                max_age: config.provider_max_age,
            })?),
        });
        tracing::info!(
            provider = provider.name(),
            cities = catalog.len(),
            "weather"
        );
        let hub = LiveHub::new(config.live_interval, Arc::clone(&provider));
        let metrics = Metrics::new(hub.clone());
        // The largest city stands for the provider in readiness checks.
        let readiness = match (&*provider, catalog.search("", 1).first()) {
            (Provider::OpenMeteo(_), Some(city)) => Some(Readiness {
                provider: Arc::clone(&provider),
                city: Arc::clone(city),
                every: config.readiness_interval,
            }),
            _ => None,
        };
        let call_limits = CallLimits::new(config.max_in_flight, config.state_changes_per_minute);
        let (health, health_service) = tonic_health::server::health_reporter();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;

        // gzip: accepted from clients that send it, offered to clients that accept it.
        let gzip = CompressionEncoding::Gzip;
        // Larger messages, either way, are RESOURCE_EXHAUSTED.
        let max_message = config.max_message_bytes as usize;
        let greeter = GreeterServer::new(GreeterService::new(shutdown.clone()))
            .accept_compressed(gzip)
            .send_compressed(gzip)
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(max_message);
        let predict = MyServiceServer::new(PredictService)
            .accept_compressed(gzip)
            .send_compressed(gzip)
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(max_message);
        let weather = WeatherServiceServer::new(WeatherService::new(
            catalog,
            provider,
            hub.clone(),
            config.heartbeat,
            shutdown.clone(),
        ))
        .accept_compressed(gzip)
        .send_compressed(gzip)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
        let chat = ChatServiceServer::new(ChatService::new(
            Arc::new(Rooms::default()),
            shutdown.clone(),
        ))
        .accept_compressed(gzip)
        .send_compressed(gzip)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
        let files = FileServiceServer::new(FileService::new(
            FileStore::new(
                config.upload_dir.clone(),
                u64::from(config.upload_max_mib) * 1024 * 1024,
            ),
            shutdown.clone(),
        ))
        .accept_compressed(gzip)
        .send_compressed(gzip)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
        let grpc = Routes::new(greeter)
            .add_service(predict)
            .add_service(weather)
            .add_service(chat)
            .add_service(files)
            .add_service(health_service)
            .add_service(reflection)
            .into_axum_router()
            .route(interop::ROUTE, interop::handler(shutdown.clone()))
            .layer(axum::middleware::from_fn_with_state(
                Auth::new(config.auth_token.as_deref()),
                auth::require_token,
            ))
            .layer(axum::middleware::from_fn(
                message_limits::resource_exhausted,
            ))
            // Inside gRPC-Web, so a deadline's trailers are framed for gRPC-Web clients too.
            .layer(axum::middleware::from_fn(deadline::enforce))
            .layer(axum::middleware::from_fn_with_state(
                call_limits.clone(),
                call_limits::enforce,
            ))
            // Outside the deadline, so the log sees the status a deadline produces.
            .layer(axum::middleware::from_fn_with_state(
                metrics.clone(),
                access_log::log_call,
            ))
            // gRPC-Web only on the gRPC routes: the layer answers 400 to any HTTP/1.1 request
            // that is not gRPC-Web, which would break the static files.
            .layer(GrpcWebLayer::new());

        let mut router = grpc.fallback(static_files::fallback(config.static_dir.as_deref()));
        if let Some(cors) = cors_layer(&config.cors_origins, config.dev_cors_any_origin) {
            // Outermost, so preflight OPTIONS requests are answered before anything else.
            router = router.layer(cors);
        }

        let tls = match config.tls_certificate() {
            None if config.tls_client_ca.is_some() => {
                return Err(BuildError::Tls(TlsError::Config(
                    "--tls-client-ca needs TLS: give --tls-cert and --tls-key, or --tls-self-signed".into(),
                )));
            }
            None => None,
            Some(Certificate::Files { cert, key }) => Some(tls::server_config(
                &cert,
                &key,
                config.tls_client_ca.as_deref(),
            )?),
            Some(Certificate::SelfSigned { dir }) => {
                let dev = tls::dev_certificate(&dir)?;
                tracing::info!(
                    cert = %dev.cert.display(),
                    created = dev.created,
                    "development TLS certificate for localhost: trust it with \
                     `client --ca-file {0}`, `curl --cacert {0}`, or by importing it into the \
                     browser's certificate authorities",
                    dev.cert.display()
                );
                Some(tls::server_config(
                    &dev.cert,
                    &dev.key,
                    config.tls_client_ca.as_deref(),
                )?)
            }
        };

        Ok(Self {
            router,
            hub,
            health,
            shutdown,
            grace: config.shutdown_grace,
            tls,
            metrics,
            call_limits,
            readiness,
            etcd: config
                .etcd
                .clone()
                .map(|url| (url, config.etcd_prefix.clone(), config.advertise.clone())),
            limits: ConnectionLimits {
                max_streams: config.max_streams_per_connection,
                max_header_bytes: config.max_header_bytes,
                handshake_timeout: Duration::from_secs(10),
                idle_timeout: config.idle_timeout,
            },
        })
    }

    /// The live-update hub, to observe from tests.
    pub fn live_hub(&self) -> &LiveHub {
        &self.hub
    }

    /// `GET /metrics` (Prometheus), to serve on the metrics address, apart from the app.
    pub fn metrics_router(&self) -> Router {
        self.metrics.router()
    }

    /// Serves until `signal` resolves, then drains: health turns NOT_SERVING, no new
    /// connections are accepted, unary calls finish, open streams end with UNAVAILABLE. After
    /// the grace period whatever still runs is abandoned.
    pub async fn serve(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let Self {
            router,
            health,
            shutdown,
            grace,
            tls,
            limits,
            call_limits,
            readiness,
            etcd,
            ..
        } = self;
        let registration = match etcd {
            None => None,
            Some((url, prefix, advertise)) => {
                let address = match advertise {
                    Some(address) => address,
                    None => {
                        let local = listener.local_addr()?;
                        if local.ip().is_unspecified() {
                            return Err(io::Error::other(
                                "registering in etcd needs --advertise: the server listens on \
                                 every address, and clients need one they can reach",
                            ));
                        }
                        local.to_string()
                    }
                };
                let registration = Registration::new(&url, &prefix, address);
                let lease = registration.register().await.map_err(io::Error::other)?;
                tracing::info!(etcd = %url, "registered in etcd");
                let stop = CancellationToken::new();
                let task = tokio::spawn(registration.maintain(lease, stop.clone()));
                Some((stop, task))
            }
        };
        // Rate-limit buckets of clients gone quiet are dropped once a minute.
        let stopping = shutdown.clone();
        tokio::spawn(async move {
            let mut every_minute = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = every_minute.tick() => call_limits.forget_idle_clients(),
                    () = stopping.cancelled() => break,
                }
            }
        });
        for name in HEALTH_NAMES {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        if let Some(readiness) = readiness {
            tokio::spawn(readiness.run(health.clone(), shutdown.clone()));
        }

        let drain = {
            let shutdown = shutdown.clone();
            async move {
                signal.await;
                tracing::info!("shutting down: finishing running calls, ending open streams");
                for name in HEALTH_NAMES {
                    health
                        .set_service_status(name, ServingStatus::NotServing)
                        .await;
                }
                // Out of etcd before the listener closes, so clients stop choosing it.
                if let Some((stop, task)) = registration {
                    stop.cancel();
                    let _ = task.await;
                }
                shutdown.cancel();
            }
        };
        let server = connections::serve(listener, router, tls, limits, drain);
        tokio::select! {
            () = server => Ok(()),
            () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "grace period over: exiting with calls still running");
                Ok(())
            }
        }
    }
}

/// CORS for cross-origin gRPC-Web callers, or `None` (same origin only) when no origin is
/// allowed. Any origin only in the explicit development mode.
fn cors_layer(origins: &[HeaderValue], any_origin: bool) -> Option<CorsLayer> {
    let allow_origin = if any_origin {
        tracing::warn!("--dev-cors-any-origin: any web site may call this server cross-origin");
        AllowOrigin::any()
    } else if origins.is_empty() {
        return None;
    } else {
        AllowOrigin::list(origins.iter().cloned())
    };
    let name = HeaderName::from_static;
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
            // What gRPC-Web clients send: the framing and deadline headers.
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                name("x-grpc-web"),
                name("x-user-agent"),
                name("grpc-timeout"),
                name("grpc-accept-encoding"),
                name("grpc-encoding"),
                name(access_log::REQUEST_ID),
                // The interop cases' custom metadata, so cross-origin interop clients work.
                name("x-grpc-test-echo-initial"),
                name("x-grpc-test-echo-trailing-bin"),
            ])
            // Trailers-only responses carry the status in headers; without exposing them the
            // browser hides the error from the page.
            .expose_headers([
                name("grpc-status"),
                name("grpc-message"),
                name("grpc-status-details-bin"),
                name("grpc-encoding"),
                name(access_log::REQUEST_ID),
                name("x-grpc-test-echo-initial"),
            ])
            .max_age(Duration::from_secs(24 * 3600)),
    )
}

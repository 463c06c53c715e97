//! The application: every service and the layers around them, wired on one router, and
//! served on one listener until a shutdown signal, then drained. Wiring only: what each
//! piece does lives in its own folder (features, `layers/`, `transport/`, `ops/`).

use std::{future::Future, io, pin::Pin, sync::Arc, time::Duration};

use axum::Router;
use proto::{
    blog::v1::{
        author_service_server::{self, AuthorServiceServer},
        comment_service_server::{self, CommentServiceServer},
        post_service_server::{self, PostServiceServer},
    },
    chat::v1::chat_service_server::{self, ChatServiceServer},
    demo::my_service_server::{self, MyServiceServer},
    files::v1::file_service_server::{self, FileServiceServer},
    greeter::greeter_server::{self, GreeterServer},
    weather::v1::weather_service_server::{self, WeatherServiceServer},
};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tonic::{codec::CompressionEncoding, service::Routes};
use tonic_web::GrpcWebLayer;
use tower::{ServiceBuilder, util::MapRequestLayer};

use crate::{
    blog::{AuthorService, CommentService, Loopback, Peer, PostService, comments},
    chat::{ChatService, Rooms},
    config::{BlogService, Config, WeatherProvider},
    error::ApiError,
    files::{FileService, FileStore},
    gateway::Gateway,
    greeter::{GreeterService, PredictService},
    interop,
    layers::{access_log, auth::Auth, call_limits::CallLimits, calls, cors},
    ops::{
        health::{self, Health},
        metrics::Metrics,
        registry::{Registered, RegistrySettings},
    },
    store::{Store, StoreError, changes::Changes},
    transport::{
        accept::{self, ConnectionLimits},
        static_files,
        tls::{self, TlsError},
        websocket,
    },
    weather::{
        Catalog, LiveHub, Provider, WeatherService,
        open_meteo::{OpenMeteo, ProviderError},
        provider::Clock,
    },
};

/// The services every server runs; each answers for itself in health checks, by its
/// generated name.
const SERVICES: &[&str] = &[
    greeter_server::SERVICE_NAME,
    my_service_server::SERVICE_NAME,
    weather_service_server::SERVICE_NAME,
    chat_service_server::SERVICE_NAME,
    file_service_server::SERVICE_NAME,
    interop::SERVICE_NAME,
];

/// A blog service's generated name.
fn blog_service_name(service: BlogService) -> &'static str {
    match service {
        BlogService::Authors => author_service_server::SERVICE_NAME,
        BlogService::Posts => post_service_server::SERVICE_NAME,
        BlogService::Comments => comment_service_server::SERVICE_NAME,
    }
}

/// The services this server runs: every one above, and the blog's in `--services`.
fn served_services(config: &Config) -> Vec<&'static str> {
    let mut blog: Vec<&'static str> = config
        .services
        .iter()
        .map(|service| blog_service_name(*service))
        .collect();
    blog.sort_unstable();
    blog.dedup();
    SERVICES.iter().copied().chain(blog).collect()
}

/// The live subscriptions whose clients keep their request open by design: exempt from the
/// request's idle and lifetime limits, bounded per client instead.
fn live_subscriptions() -> Vec<String> {
    vec![format!("/{}/Join", chat_service_server::SERVICE_NAME)]
}

/// The same codec settings on every generated server: gzip accepted from clients that send
/// it and offered to clients that accept it, and messages over the limit refused either way
/// (RESOURCE_EXHAUSTED, see `layers/message_limits.rs`).
macro_rules! with_codec {
    ($server:expr, $max_message:expr) => {
        $server
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size($max_message)
            .max_encoding_message_size($max_message)
    };
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A built application, ready to serve on a listener.
pub struct App {
    router: Router,
    hub: LiveHub,
    health: Health,
    shutdown: CancellationToken,
    drain_delay: Duration,
    grace: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ConnectionLimits,
    metrics: Metrics,
    call_limits: CallLimits,
    /// Keep services' health in step with the dependencies that can fail.
    readiness: Vec<Task>,
    store: Store,
    registry: Option<RegistrySettings>,
    /// The open grpc-ws sockets, which a drain waits for after the HTTP connections.
    sockets: TaskTracker,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
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
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the chat: {0}")]
    Chat(ApiError),
    #[error("cannot build the REST gateway: {0}")]
    Gateway(String),
    #[error("cannot start the blog: {0}")]
    Blog(String),
}

impl App {
    pub async fn build(config: &Config) -> Result<Self, BuildError> {
        let shutdown = CancellationToken::new();
        let catalog = Arc::new(Catalog::embedded());
        let provider = Arc::new(match config.weather_provider {
            WeatherProvider::Model => Provider::Model(Clock::System),
            WeatherProvider::OpenMeteo => Provider::OpenMeteo(OpenMeteo::new(config.open_meteo())?),
        });
        tracing::info!(
            provider = provider.name(),
            cities = catalog.len(),
            "weather"
        );
        let hub = LiveHub::new(config.live_interval, Arc::clone(&provider));
        let services = served_services(config);
        let served: Vec<&str> = services.iter().chain(&health::SERVICES).copied().collect();
        let descriptors: Vec<&[u8]> = std::iter::once(proto::FILE_DESCRIPTOR_SET)
            .chain(health::DESCRIPTORS)
            .collect();
        let metrics = Metrics::new(&served, &descriptors);
        metrics.gauge_fn(
            "weather_live_producers",
            "Cities with a running live-update producer",
            {
                let hub = hub.clone();
                move || *hub.producers().borrow() as i64
            },
        );
        let (health, health_service) = Health::new(&services);
        // With a provider that can fail, the largest city stands for it in health checks.
        let mut readiness = Vec::new();
        if let (Provider::OpenMeteo(_), Some(city)) = (&*provider, catalog.search("", 1).first()) {
            let (provider, city) = (Arc::clone(&provider), Arc::clone(city));
            let probe = move || {
                let (provider, city) = (Arc::clone(&provider), Arc::clone(&city));
                async move {
                    provider
                        .current(&city)
                        .await
                        .map(drop)
                        .map_err(|error| error.to_string())
                }
            };
            readiness.push(Box::pin(health.clone().follow(
                weather_service_server::SERVICE_NAME,
                config.readiness_interval,
                probe,
                shutdown.clone(),
            )) as Task);
        }
        let store = Store::open(config.store()).await?;
        // The chat and the files keep everything in the store: their health is the database's.
        for service in [
            chat_service_server::SERVICE_NAME,
            file_service_server::SERVICE_NAME,
        ] {
            let store = store.clone();
            let probe = move || {
                let store = store.clone();
                async move { store.ping().await.map_err(|error| error.to_string()) }
            };
            readiness.push(Box::pin(health.clone().follow(
                service,
                config.readiness_interval,
                probe,
                shutdown.clone(),
            )) as Task);
        }
        let rooms = Rooms::open(store.clone(), shutdown.clone())
            .await
            .map_err(BuildError::Chat)?;
        let call_limits = CallLimits::new(config.call_limits());

        let max_message = config.max_message_bytes as usize;
        let greeter = with_codec!(
            GreeterServer::new(GreeterService::new(shutdown.clone())),
            max_message
        );
        let predict = with_codec!(MyServiceServer::new(PredictService), max_message);
        let weather = with_codec!(
            WeatherServiceServer::new(WeatherService::new(
                catalog,
                provider,
                hub.clone(),
                config.heartbeat,
                shutdown.clone(),
            )),
            max_message
        );
        let chat = with_codec!(
            ChatServiceServer::new(ChatService::new(Arc::new(rooms), shutdown.clone())),
            max_message
        );
        let files = with_codec!(
            FileServiceServer::new(FileService::new(FileStore::new(
                store.clone(),
                config.upload_max_bytes(),
                config.upload_expiry,
            ))),
            max_message
        );
        let (reflection, reflection_v1alpha) = health::reflection()?;
        let mut grpc = Routes::new(greeter)
            .add_service(predict)
            .add_service(weather)
            .add_service(chat)
            .add_service(files);
        // The blog's services call each other through the gRPC router itself, or at
        // --blog-peer for the ones not run here.
        let loopback = Loopback::default();
        let runs = |service| config.services.contains(&service);
        let peer = |caller: BlogService, callee: BlogService| {
            if runs(callee) {
                return Ok(Peer::Local(loopback.clone()));
            }
            let Some(url) = &config.blog_peer else {
                return Err(BuildError::Blog(format!(
                    "--services runs {caller:?} without {callee:?}, which it calls: \
                     run both here or give --blog-peer"
                )));
            };
            Peer::remote(url).map_err(BuildError::Blog)
        };
        if runs(BlogService::Authors) {
            grpc = grpc.add_service(with_codec!(
                AuthorServiceServer::new(AuthorService::new(store.clone())),
                max_message
            ));
        }
        if runs(BlogService::Posts) {
            let authors = peer(BlogService::Posts, BlogService::Authors)?;
            grpc = grpc.add_service(with_codec!(
                PostServiceServer::new(PostService::new(store.clone(), authors)),
                max_message
            ));
        }
        if runs(BlogService::Comments) {
            let posts = peer(BlogService::Comments, BlogService::Posts)?;
            let changes = Changes::open(
                store.clone(),
                comments::CHANNEL,
                comments::MAX_WATCHED_POSTS,
                shutdown.clone(),
            )
            .await
            .map_err(|error| BuildError::Blog(error.to_string()))?;
            grpc = grpc.add_service(with_codec!(
                CommentServiceServer::new(CommentService::new(
                    store.clone(),
                    changes,
                    posts,
                    shutdown.clone(),
                )),
                max_message
            ));
        }
        let grpc = grpc
            .add_service(health_service)
            .add_service(reflection)
            .add_service(reflection_v1alpha)
            .into_axum_router()
            .route(
                interop::ROUTE,
                interop::handler(shutdown.clone(), max_message),
            )
            // One layer on each route, outermost first: the gRPC-Web mark for the access
            // log; gRPC-Web itself, only on the gRPC routes (it answers 400 to any HTTP/1.1
            // request that is not gRPC-Web, which would break the static files), outside
            // the steps so their statuses are framed for gRPC-Web clients too; then each
            // call's steps (content type, access log and metrics, token, limits, time
            // limits, deadline, message limits: `layers/calls.rs`). Composed here rather
            // than one `Router::layer` each, which would box every route once more per
            // layer: a boxed clone and a boxed future per layer and call.
            .layer(
                ServiceBuilder::new()
                    .layer(MapRequestLayer::new(access_log::mark_grpc_web))
                    .layer(GrpcWebLayer::new())
                    .layer(calls::CallsLayer::new(calls::Steps {
                        metrics: metrics.clone(),
                        auth: Auth::new(config.auth_token.as_deref()),
                        limits: call_limits.clone(),
                        time: config.call_time(live_subscriptions()),
                    })),
            );

        // REST/JSON for the methods with a `google.api.http` option, calling into the gRPC
        // router (so through its layers); outside them itself, as it is not gRPC.
        loopback.connect(grpc.clone());
        let gateway = Gateway::new(
            proto::FILE_DESCRIPTOR_SET,
            &services,
            grpc.clone(),
            max_message,
        )
        .map_err(BuildError::Gateway)?;
        // grpc-ws: every call mode from the browser over one WebSocket, into the same router.
        let websocket = websocket::Endpoint::new(
            grpc.clone(),
            &config.cors_origins,
            config.dev_cors_any_origin,
            config.ws_max_streams_per_socket as usize,
            config.ws_max_frames_per_second,
            shutdown.clone(),
        );
        let sockets = websocket.sockets();
        let mut router = grpc
            .merge(gateway.router())
            .merge(websocket.router())
            .fallback(static_files::fallback(config.static_dir.as_deref()));
        if let Some(cors) = cors::layer(&config.cors_origins, config.dev_cors_any_origin) {
            // Outermost, so preflight OPTIONS requests are answered before anything else.
            router = router.layer(cors);
        }

        Ok(Self {
            router,
            hub,
            health,
            shutdown,
            drain_delay: config.drain_delay,
            grace: config.shutdown_grace,
            tls: config.tls().as_ref().map(tls::server_config).transpose()?,
            limits: config.connection_limits(),
            metrics,
            call_limits,
            readiness,
            store,
            registry: config.registry(),
            sockets,
        })
    }

    /// The live-update hub, to observe from tests.
    pub fn live_hub(&self) -> &LiveHub {
        &self.hub
    }

    /// Registers a gauge on `/metrics` whose value `read` gives at each scrape: for what
    /// the binary owns (its log writer).
    pub fn gauge_fn(&self, name: &str, help: &str, read: impl Fn() -> i64 + Send + Sync + 'static) {
        self.metrics.gauge_fn(name, help, read);
    }

    /// `GET /metrics` (Prometheus), to serve on the metrics address, apart from the app.
    pub fn metrics_router(&self) -> Router {
        self.metrics.router()
    }

    /// Serves until `signal` resolves, then drains, in the order a balancer needs: health
    /// turns NOT_SERVING while the server goes on serving for the drain delay (so health
    /// checks see it before connections are refused), the replica leaves etcd, no new
    /// connections are accepted, running calls finish (downloads included), live streams end
    /// with UNAVAILABLE and health watches end, so none holds the exit. After the grace
    /// period whatever still runs is abandoned.
    pub async fn serve(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let Self {
            router,
            health,
            shutdown,
            drain_delay,
            grace,
            tls,
            limits,
            call_limits,
            readiness,
            registry,
            store,
            sockets,
            ..
        } = self;
        let registered = match registry {
            Some(settings) => Some(Registered::join(&settings, listener.local_addr()?).await?),
            None => None,
        };
        tokio::spawn(call_limits.forget_idle_clients(shutdown.clone()));
        health.serving().await;
        for readiness in readiness {
            tokio::spawn(readiness);
        }

        let drain = {
            let shutdown = shutdown.clone();
            async move {
                signal.await;
                tracing::info!(
                    drain_delay = %humantime::format_duration(drain_delay),
                    "draining: reported NOT_SERVING, still serving for the drain delay"
                );
                health.draining().await;
                tokio::time::sleep(drain_delay).await;
                // Out of etcd before the listener closes, so clients stop choosing it.
                if let Some(registered) = registered {
                    registered.leave().await;
                }
                tracing::info!("shutting down: finishing running calls, ending open streams");
                shutdown.cancel();
                health.end_watches().await;
            }
        };
        let server = async move {
            accept::serve(listener, router, tls, limits, drain).await;
            // An upgraded socket outlives its HTTP/1.1 connection: its calls finish too.
            sockets.close();
            sockets.wait().await;
        };
        tokio::select! {
            () = server => {}
            () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "grace period over: exiting with calls still running");
            }
        }
        // Every commit has returned by now, or its call was abandoned unacknowledged.
        store.close().await;
        Ok(())
    }
}

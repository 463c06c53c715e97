//! Prometheus metrics, served at `/metrics` on their own address (`--metrics-listen`), so
//! they are not exposed where the app is: calls by method and code, latency, calls in
//! flight and open streams, message bytes each way, the process's memory, CPU and file
//! descriptors, and gauges that features read out of their own state when scraped (live
//! weather producers), registered with [`Metrics::gauge_fn`] so this file knows no feature.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use prost::Message as _;

/// The `method` label of calls to a path the server does not serve: one series for all of
/// them, however many made-up names clients send.
pub const UNKNOWN_METHOD: &str = "unknown";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Handled {
    method: Arc<str>,
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Method {
    method: Arc<str>,
}

type Histograms = Family<Method, Histogram, fn() -> Histogram>;

/// The server's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Inner {
    registry: Mutex<Registry>,
    handled: Family<Handled, Counter>,
    seconds: Histograms,
    request_bytes: Histograms,
    response_bytes: Histograms,
    in_flight: Gauge,
    open_streams: Gauge,
    /// Gauges read when scraped, from the state of whoever registered them.
    read_gauges: Mutex<Vec<(Gauge, ReadGauge)>>,
    resident_bytes: Gauge,
    cpu_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    open_fds: Gauge,
    /// The methods served, by path (`/package.Service/Method`); the rest are unknown.
    methods: HashMap<String, Arc<Served>>,
    unknown: Arc<Served>,
}

/// A method the server serves (or all the unknown ones): its label, whether its responses
/// are a stream, and its series.
#[derive(Debug)]
struct Served {
    label: Arc<str>,
    stream: bool,
    series: OnceLock<Series>,
}

impl Served {
    fn new(label: Arc<str>, stream: bool) -> Arc<Self> {
        Arc::new(Self {
            label,
            stream,
            series: OnceLock::new(),
        })
    }
}

/// A method's series, found in their families at its first call's end and kept: a call's
/// end then records without a family's lock, hashing or a label made (1.5 % of a unary
/// call's CPU when looked up each time; BENCHMARKS.md, "Log lines and header names").
/// Only other codes than OK are looked up per call.
#[derive(Debug)]
struct Series {
    ok: Counter,
    seconds: Histogram,
    request_bytes: Histogram,
    response_bytes: Histogram,
}

type ReadGauge = Box<dyn Fn() -> i64 + Send + Sync>;

fn seconds() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn bytes() -> Histogram {
    // 64 B to 64 MiB.
    Histogram::new(exponential_buckets(64.0, 4.0, 11))
}

impl Metrics {
    /// Metrics for a server that serves `services` (full protobuf names), whose methods are
    /// found in `descriptor_sets` (encoded `FileDescriptorSet`s).
    pub fn new(services: &[&str], descriptor_sets: &[&[u8]]) -> Self {
        let mut registry = Registry::default();
        let handled = Family::<Handled, Counter>::default();
        let seconds = Histograms::new_with_constructor(seconds);
        let request_bytes = Histograms::new_with_constructor(bytes);
        let response_bytes = Histograms::new_with_constructor(bytes);
        let (in_flight, open_streams) = (Gauge::default(), Gauge::default());
        let (resident_bytes, cpu_seconds, open_fds) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "grpc_server_handled",
            "gRPC calls finished, by method and code",
            handled.clone(),
        );
        registry.register(
            "grpc_server_handling_seconds",
            "Call duration, to the end of its response",
            seconds.clone(),
        );
        registry.register(
            "grpc_server_request_bytes",
            "Bytes of a call's request messages, framing included",
            request_bytes.clone(),
        );
        registry.register(
            "grpc_server_response_bytes",
            "Bytes of a call's response messages, framing included",
            response_bytes.clone(),
        );
        registry.register(
            "grpc_server_in_flight",
            "Calls running now",
            in_flight.clone(),
        );
        registry.register(
            "grpc_server_open_streams",
            "Server-streaming calls open now",
            open_streams.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory",
            resident_bytes.clone(),
        );
        registry.register(
            "process_cpu_seconds",
            "User and system CPU time used",
            cpu_seconds.clone(),
        );
        registry.register(
            "process_open_fds",
            "Open file descriptors",
            open_fds.clone(),
        );
        let inner = Inner {
            registry: Mutex::new(registry),
            handled,
            seconds,
            request_bytes,
            response_bytes,
            in_flight,
            open_streams,
            read_gauges: Mutex::default(),
            resident_bytes,
            cpu_seconds,
            open_fds,
            methods: served_methods(services, descriptor_sets),
            unknown: Served::new(Arc::from(UNKNOWN_METHOD), false),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Registers a gauge whose value `read` gives each time the metrics are scraped.
    pub fn gauge_fn(&self, name: &str, help: &str, read: impl Fn() -> i64 + Send + Sync + 'static) {
        let gauge = Gauge::default();
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register(name, help, gauge.clone());
        self.inner
            .read_gauges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((gauge, Box::new(read)));
    }

    /// A call to `path` starts: returns what its end needs.
    pub fn started(&self, path: &str) -> CallGauge {
        let served = Arc::clone(self.inner.methods.get(path).unwrap_or(&self.inner.unknown));
        self.inner.in_flight.inc();
        if served.stream {
            self.inner.open_streams.inc();
        }
        CallGauge {
            metrics: self.clone(),
            served,
        }
    }

    /// The text exposition, with the gauges that are read rather than counted refreshed.
    pub fn render(&self) -> String {
        let inner = &self.inner;
        for (gauge, read) in inner
            .read_gauges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            gauge.set(read());
        }
        if let Some(process) = ProcessStats::read() {
            inner.resident_bytes.set(process.resident_bytes);
            inner.cpu_seconds.set(process.cpu_seconds);
            inner.open_fds.set(process.open_fds);
        }
        let mut text = String::new();
        let registry = inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }

    /// `GET /metrics`, for the metrics listener.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/metrics", get(serve))
            .with_state(self.clone())
    }
}

async fn serve(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

/// One call's place in the metrics: decrements the in-flight gauges when the call ends (or
/// its response is dropped).
#[derive(Debug)]
pub struct CallGauge {
    metrics: Metrics,
    /// The method (labelled by its path), or all the unknown ones ([`UNKNOWN_METHOD`]).
    served: Arc<Served>,
}

impl CallGauge {
    /// The call ended with `code` after `seconds`, having moved these bytes.
    pub fn finished(&self, code: &str, seconds: f64, request_bytes: u64, response_bytes: u64) {
        let inner = &self.metrics.inner;
        let handled = |code: &str| Handled {
            method: Arc::clone(&self.served.label),
            code: code.to_owned(),
        };
        let ok = proto::status::code_name(tonic::Code::Ok);
        let series = self.served.series.get_or_init(|| {
            let label = Method {
                method: Arc::clone(&self.served.label),
            };
            Series {
                ok: inner.handled.get_or_create(&handled(ok)).clone(),
                seconds: inner.seconds.get_or_create(&label).clone(),
                request_bytes: inner.request_bytes.get_or_create(&label).clone(),
                response_bytes: inner.response_bytes.get_or_create(&label).clone(),
            }
        });
        if code == ok {
            series.ok.inc();
        } else {
            inner.handled.get_or_create(&handled(code)).inc();
        }
        series.seconds.observe(seconds);
        series.request_bytes.observe(request_bytes as f64);
        series.response_bytes.observe(response_bytes as f64);
    }
}

impl Drop for CallGauge {
    fn drop(&mut self) {
        self.metrics.inner.in_flight.dec();
        if self.served.stream {
            self.metrics.inner.open_streams.dec();
        }
    }
}

/// The methods of `services` found in `descriptor_sets`, by path.
fn served_methods(services: &[&str], descriptor_sets: &[&[u8]]) -> HashMap<String, Arc<Served>> {
    let mut methods = HashMap::new();
    for set in descriptor_sets {
        let Ok(files) = prost_types::FileDescriptorSet::decode(*set) else {
            continue;
        };
        for file in &files.file {
            for service in &file.service {
                let name = match file.package() {
                    "" => service.name().to_owned(),
                    package => format!("{package}.{}", service.name()),
                };
                if !services.contains(&name.as_str()) {
                    continue;
                }
                for method in &service.method {
                    let path = format!("/{name}/{}", method.name());
                    let label = Arc::from(path.as_str());
                    methods.insert(path, Served::new(label, method.server_streaming()));
                }
            }
        }
    }
    methods
}

/// What /proc says about this process (Linux; elsewhere nothing).
struct ProcessStats {
    resident_bytes: i64,
    cpu_seconds: f64,
    open_fds: i64,
}

impl ProcessStats {
    fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let resident_kib: i64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as i64;
        Some(Self {
            resident_bytes: resident_kib * 1024,
            // USER_HZ is 100 on Linux.
            cpu_seconds: ticks / 100.0,
            open_fds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_and_streaming_methods_come_from_the_descriptors() {
        let methods = served_methods(
            &[
                "weather.v1.WeatherService",
                "Greeter",
                "chat.v1.ChatService",
                "files.v1.FileService",
            ],
            &[proto::FILE_DESCRIPTOR_SET],
        );
        let streaming = |path: &str| methods.get(path).map(|served| served.stream);
        assert_eq!(streaming("/weather.v1.WeatherService/Watch"), Some(true));
        assert_eq!(streaming("/Greeter/SayHelloStream"), Some(true));
        assert_eq!(streaming("/chat.v1.ChatService/Join"), Some(true));
        assert_eq!(streaming("/Greeter/SayHello"), Some(false));
        assert_eq!(streaming("/files.v1.FileService/Upload"), Some(false));
        // Not served: a service not named, a method that does not exist.
        assert_eq!(streaming("/demo.MyService/Predict"), None);
        assert_eq!(streaming("/Greeter/Nope"), None);
    }
}

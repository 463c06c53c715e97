//! A load tool for gRPC and gRPC-Web (think ghz): calls any method of the project's protos
//! (`--method package.Service/Method --data JSON`, or a preset `--call`) over native gRPC,
//! gRPC-Web on HTTP/1.1 or gRPC-Web on HTTP/2, or a unary method's REST binding
//! (`--transport rest --rest-path /v1/...`, the request as JSON in a POST), as fast as
//! possible or at a fixed rate,
//! with a given concurrency and number of connections, for a duration or a count, after a
//! warm-up; prints throughput, errors by code and latency percentiles (HDR histogram), and
//! JSON with `--json`.
//!
//! ```sh
//! target/release/load --target http://127.0.0.1:50051 --call predict --concurrency 50
//! ```

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use bench::DynamicCodec;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tonic::{
    Code,
    client::GrpcService,
    transport::{Channel, Endpoint},
};
use tonic_web::{GrpcWebCall, GrpcWebClientLayer, GrpcWebClientService};
use tower::Layer as _;

type WebChannel = GrpcWebClientService<Client<HttpConnector, GrpcWebCall<tonic::body::Body>>>;

#[derive(Debug, Parser)]
struct Args {
    /// The server, http://HOST:PORT.
    #[arg(long)]
    target: String,
    #[arg(long, value_enum, default_value_t = Transport::Grpc)]
    transport: Transport,
    /// A preset call; --method and --data name any other.
    #[arg(long, value_enum, default_value_t = Call::Predict, conflicts_with = "method")]
    call: Call,
    /// Any method of the project's protos, e.g. `weather.v1.WeatherService/GetForecast`.
    /// Unary and server streaming; a client or bidi stream sends the one message.
    #[arg(long, requires = "data")]
    method: Option<String>,
    /// The request message in protobuf's JSON mapping, e.g. `{"cityId": "oslo-no"}`.
    #[arg(long)]
    data: Option<String>,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Connections they share (HTTP/2 multiplexes; HTTP/1.1 needs one per call in flight,
    /// so gRPC-Web on HTTP/1.1 opens up to --concurrency).
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Calls per second in all; 0 means as fast as the server answers.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// How long to measure.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Stop after this many measured calls instead (0: no limit).
    #[arg(long, default_value_t = 0)]
    requests: u64,
    /// Calls before measuring, to open connections and warm caches.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// With `--transport rest`: the path the request's JSON is POSTed to (the method's
    /// `google.api.http` binding, with `body: "*"`).
    #[arg(long, default_value = "/v1/greeter/hello")]
    rest_path: String,
    /// Print the result as one JSON object too.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Transport {
    /// Native gRPC over HTTP/2 (h2c).
    Grpc,
    /// gRPC-Web over HTTP/1.1, as a browser on plain HTTP.
    GrpcWeb,
    /// gRPC-Web over HTTP/2 (prior knowledge), as a browser on HTTPS.
    GrpcWebH2,
    /// REST/JSON through the server's gateway, over HTTP/1.1 (as curl or a script).
    Rest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Call {
    /// demo.MyService.Predict, the seeds' call (unary).
    Predict,
    /// Greeter.SayHello (unary).
    SayHello,
    /// Greeter.SayHelloStream with 100 messages, no interval (server streaming).
    Stream,
}

/// What the workers share.
#[derive(Default)]
struct Tally {
    latencies: Option<Histogram<u64>>,
    messages: u64,
    errors: BTreeMap<&'static str, u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut target = match (&args.method, &args.data) {
        (Some(method), Some(data)) => Target::new(method, data)?,
        _ => Target::preset(args.call),
    };
    target.origin = args.target.parse()?;
    target.rest_uri = format!("{}{}", args.target, args.rest_path).parse()?;
    target.rest_body = serde_json::to_vec(&target.request)?.into();
    let target = Arc::new(target);
    let channels = connect(&args).await?;
    let tally = Arc::new(Mutex::new(Tally {
        latencies: Some(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        ..Tally::default()
    }));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // At a fixed rate, a ticker hands out one permit per call.
    let permits = if args.rate > 0 {
        let (sender, receiver) = permit_queue(args.concurrency);
        let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while !stop.load(Ordering::Relaxed) {
                ticker.tick().await;
                if sender.send(()).await.is_err() {
                    break;
                }
            }
        });
        Some(receiver)
    } else {
        None
    };

    let mut workers = Vec::new();
    for n in 0..args.concurrency {
        let channel = channels[n % channels.len()].clone();
        let (tally, measuring, stop) = (
            Arc::clone(&tally),
            Arc::clone(&measuring),
            Arc::clone(&stop),
        );
        let permits = permits.clone();
        let target = Arc::clone(&target);
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(permits) = &permits
                    && permits.lock().await.recv().await.is_none()
                {
                    break;
                }
                let started = Instant::now();
                let outcome = match &channel {
                    Connection::Native(channel) => one(channel.clone(), &target).await,
                    Connection::Web(channel) => one((**channel).clone(), &target).await,
                    Connection::Rest(client) => rest(client, &target).await,
                };
                let micros = started.elapsed().as_micros() as u64;
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                let mut tally = tally.lock().expect("not poisoned");
                match outcome {
                    Ok(messages) => {
                        tally.messages += messages;
                        if let Some(histogram) = tally.latencies.as_mut() {
                            histogram.saturating_record(micros.max(1));
                        }
                    }
                    Err(code) => {
                        *tally
                            .errors
                            .entry(proto::status::code_name(code))
                            .or_default() += 1
                    }
                }
            }
        }));
    }

    tokio::time::sleep(args.warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let done = tally
            .lock()
            .expect("not poisoned")
            .latencies
            .as_ref()
            .map_or(0, Histogram::len);
        if started.elapsed() >= args.duration || (args.requests > 0 && done >= args.requests) {
            break;
        }
    }
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let tally = std::mem::take(&mut *tally.lock().expect("not poisoned"));
    for worker in workers {
        worker.abort();
    }
    report(&args, &target, &tally, elapsed);
    Ok(())
}

/// A permit queue shared by the workers (tokio's mpsc receiver behind a lock).
fn permit_queue(
    capacity: usize,
) -> (
    tokio::sync::mpsc::Sender<()>,
    Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<()>>>,
) {
    let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
    (sender, Arc::new(tokio::sync::Mutex::new(receiver)))
}

#[derive(Clone)]
enum Connection {
    Native(Channel),
    Web(Box<WebChannel>),
    Rest(Box<Client<HttpConnector, http_body_util::Full<bytes::Bytes>>>),
}

async fn connect(args: &Args) -> Result<Vec<Connection>, Box<dyn std::error::Error>> {
    let mut connections = Vec::new();
    for _ in 0..args.connections.max(1) {
        connections.push(match args.transport {
            Transport::Grpc => Connection::Native(
                Endpoint::from_shared(args.target.clone())?
                    .connect()
                    .await?,
            ),
            Transport::GrpcWeb => {
                let http = Client::builder(TokioExecutor::new()).build(connector());
                Connection::Web(Box::new(GrpcWebClientLayer::new().layer(http)))
            }
            Transport::GrpcWebH2 => {
                let http = Client::builder(TokioExecutor::new())
                    .http2_only(true)
                    .build(connector());
                Connection::Web(Box::new(GrpcWebClientLayer::new().layer(http)))
            }
            Transport::Rest => Connection::Rest(Box::new(
                Client::builder(TokioExecutor::new()).build(connector()),
            )),
        });
    }
    Ok(connections)
}

/// TCP without Nagle's delay, as browsers and tonic's own channel do: small requests go
/// out at once instead of waiting up to 40 ms for an acknowledgement.
fn connector() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector
}

/// A method to call, resolved in the project's descriptors, with its request.
#[derive(Debug, Clone)]
struct Target {
    /// The server: gRPC-Web requests carry it in their URI.
    origin: http::Uri,
    path: http::uri::PathAndQuery,
    request: DynamicMessage,
    response: MessageDescriptor,
    server_streaming: bool,
    /// With `--transport rest`: where the request goes, and its JSON.
    rest_uri: http::Uri,
    rest_body: bytes::Bytes,
}

impl Target {
    fn new(method: &str, data: &str) -> Result<Self, String> {
        let pool = DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())?;
        let method = method.trim_start_matches('/');
        let (service, name) = method
            .split_once('/')
            .ok_or_else(|| format!("--method '{method}': expected package.Service/Method"))?;
        let found = pool
            .get_service_by_name(service)
            .and_then(|service| service.methods().find(|m| m.name() == name))
            .ok_or_else(|| format!("--method '{method}': not in the project's protos"))?;
        let mut json = serde_json::Deserializer::from_str(data);
        let request = DynamicMessage::deserialize(found.input(), &mut json)
            .map_err(|error| format!("--data: {error}"))?;
        Ok(Self {
            origin: http::Uri::default(),
            path: format!("/{service}/{name}")
                .parse()
                .map_err(|e: http::uri::InvalidUri| e.to_string())?,
            request,
            response: found.output(),
            server_streaming: found.is_server_streaming(),
            rest_uri: http::Uri::default(),
            rest_body: bytes::Bytes::new(),
        })
    }

    fn preset(call: Call) -> Self {
        let (method, data) = match call {
            Call::Predict => ("demo.MyService/Predict", r#"{"prompt": "World111"}"#),
            Call::SayHello => ("Greeter/SayHello", r#"{"name": "Ada"}"#),
            Call::Stream => ("Greeter/SayHelloStream", r#"{"name": "Ada", "count": 100}"#),
        };
        Self::new(method, data).expect("the presets name real methods")
    }
}

/// One call; the number of response messages, or the failure's code.
async fn one<T>(transport: T, target: &Target) -> Result<u64, Code>
where
    T: GrpcService<tonic::body::Body> + Send,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
    T::Future: Send,
{
    let mut grpc = tonic::client::Grpc::with_origin(transport, target.origin.clone());
    grpc.ready().await.map_err(|_| Code::Unavailable)?;
    let codec = DynamicCodec(target.response.clone());
    let request = tonic::Request::new(target.request.clone());
    if target.server_streaming {
        let mut stream = grpc
            .server_streaming(request, target.path.clone(), codec)
            .await
            .map_err(|status| status.code())?
            .into_inner();
        let mut messages = 0;
        while stream
            .message()
            .await
            .map_err(|status| status.code())?
            .is_some()
        {
            messages += 1;
        }
        Ok(messages)
    } else {
        grpc.unary(request, target.path.clone(), codec)
            .await
            .map_err(|status| status.code())?;
        Ok(1)
    }
}

/// One REST call: the request as JSON, POSTed to its binding; OK is a 200 with a body.
async fn rest(
    client: &Client<HttpConnector, http_body_util::Full<bytes::Bytes>>,
    target: &Target,
) -> Result<u64, Code> {
    use http_body_util::BodyExt as _;
    let request = http::Request::post(target.rest_uri.clone())
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(target.rest_body.clone()))
        .map_err(|_| Code::Internal)?;
    let response = client
        .request(request)
        .await
        .map_err(|_| Code::Unavailable)?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|_| Code::Unavailable)?
        .to_bytes();
    if status == http::StatusCode::OK && !body.is_empty() {
        Ok(1)
    } else {
        Err(Code::Unknown)
    }
}

fn report(args: &Args, target: &Target, tally: &Tally, elapsed: f64) {
    let Some(latencies) = &tally.latencies else {
        return;
    };
    let ok = latencies.len();
    let errors: u64 = tally.errors.values().sum();
    let ms = |quantile: f64| latencies.value_at_quantile(quantile) as f64 / 1000.0;
    println!(
        "{} {:?}, concurrency {}, {} connection(s), {:.1} s",
        target.path, args.transport, args.concurrency, args.connections, elapsed
    );
    println!(
        "  calls: {ok} ok, {errors} failed; {:.0} calls/s; {:.0} messages/s",
        ok as f64 / elapsed,
        tally.messages as f64 / elapsed
    );
    for (code, count) in &tally.errors {
        println!("  {code}: {count}");
    }
    println!(
        "  latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        latencies.max() as f64 / 1000.0
    );
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "method": target.path.to_string(),
                "transport": format!("{:?}", args.transport),
                "concurrency": args.concurrency,
                "connections": args.connections,
                "seconds": elapsed,
                "ok": ok,
                "errors": tally.errors,
                "calls_per_second": ok as f64 / elapsed,
                "messages_per_second": tally.messages as f64 / elapsed,
                "latency_ms": { "p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "max": latencies.max() as f64 / 1000.0 },
            })
        );
    }
}

//! A load tool for gRPC and gRPC-Web (think ghz): calls one method over native gRPC,
//! gRPC-Web on HTTP/1.1 or gRPC-Web on HTTP/2, as fast as possible or at a fixed rate,
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

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use proto::{
    demo::{PredictRequest, my_service_client::MyServiceClient},
    greeter::{HelloRequest, HelloStreamRequest, greeter_client::GreeterClient},
};
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
    #[arg(long, value_enum, default_value_t = Call::Predict)]
    call: Call,
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
        let call = args.call;
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(permits) = &permits
                    && permits.lock().await.recv().await.is_none()
                {
                    break;
                }
                let started = Instant::now();
                let outcome = match &channel {
                    Connection::Native(channel) => one(channel.clone(), call).await,
                    Connection::Web(channel) => one((**channel).clone(), call).await,
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
    report(&args, &tally, elapsed);
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
        });
    }
    // gRPC-Web clients need the origin in each request: give them the target.
    let origin: http::Uri = args.target.parse()?;
    ORIGIN.set(origin).ok();
    Ok(connections)
}

static ORIGIN: std::sync::OnceLock<http::Uri> = std::sync::OnceLock::new();

/// TCP without Nagle's delay, as browsers and tonic's own channel do: small requests go
/// out at once instead of waiting up to 40 ms for an acknowledgement.
fn connector() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector
}

/// One call; the number of response messages, or the failure's code.
async fn one<T>(transport: T, call: Call) -> Result<u64, Code>
where
    T: GrpcService<tonic::body::Body> + Send,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
    T::Future: Send,
{
    let origin = ORIGIN.get().cloned().unwrap_or_default();
    match call {
        Call::Predict => {
            MyServiceClient::with_origin(transport, origin)
                .predict(PredictRequest {
                    prompt: "World111".into(),
                })
                .await
                .map_err(|status| status.code())?;
            Ok(1)
        }
        Call::SayHello => {
            GreeterClient::with_origin(transport, origin)
                .say_hello(HelloRequest { name: "Ada".into() })
                .await
                .map_err(|status| status.code())?;
            Ok(1)
        }
        Call::Stream => {
            let mut stream = GreeterClient::with_origin(transport, origin)
                .say_hello_stream(HelloStreamRequest {
                    name: "Ada".into(),
                    count: 100,
                    interval_ms: 0,
                })
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
        }
    }
}

fn report(args: &Args, tally: &Tally, elapsed: f64) {
    let Some(latencies) = &tally.latencies else {
        return;
    };
    let ok = latencies.len();
    let errors: u64 = tally.errors.values().sum();
    let ms = |quantile: f64| latencies.value_at_quantile(quantile) as f64 / 1000.0;
    println!(
        "{:?} {:?}, concurrency {}, {} connection(s), {:.1} s",
        args.call, args.transport, args.concurrency, args.connections, elapsed
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
                "call": format!("{:?}", args.call),
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

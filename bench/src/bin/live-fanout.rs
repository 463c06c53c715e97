//! Live fan-out at scale: many concurrent Watch subscribers on one release server over
//! loopback, measuring the server's memory per subscriber, its CPU, and the fan-out
//! latency (from the moment a reading is taken to the moment each subscriber has it).
//!
//! ```sh
//! cargo build --release -p server
//! cargo run --release -p bench --bin live-fanout -- --subscribers 10000
//! ```

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bench::rss_bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use proto::weather::v1::{
    SearchCitiesRequest, WatchRequest, watch_event, weather_service_client::WeatherServiceClient,
};
use tokio::sync::Barrier;
use tonic::transport::{Channel, Endpoint};

/// Measures live-update fan-out on the release server.
#[derive(Debug, Parser)]
struct Args {
    /// The server binary to start.
    #[arg(long, default_value = "target/release/server")]
    server_bin: PathBuf,
    /// Concurrent Watch streams.
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// HTTP/2 connections they share (the server allows 200 streams on one).
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Distinct cities watched (the largest ones), subscribers spread evenly.
    #[arg(long, default_value_t = 100)]
    cities: u32,
    /// The server's live-update tick.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Settling time after every subscriber has its first reading.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// The measured window.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Print the result as JSON too.
    #[arg(long)]
    json: bool,
}

// One thread: the subscribers share the two cores with the server, and on one thread they
// take less of them (4.5-5.0 µs of CPU per update against 6.1-6.9 on two workers, no cross-
// thread wakes; BENCHMARKS.md, "A lighter subscriber tool").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // The server's database (unused here) in a directory of its own, removed after.
    let data = tempfile::tempdir()?;
    let interval = humantime::format_duration(args.interval).to_string();
    // Every subscriber comes from this one address: the per-client limit on calls in
    // flight (1,000 by default, against one client hogging the server) is raised to fit.
    let per_client = (args.subscribers + 100).to_string();
    let (mut server, address) = bench::start_server(
        &args.server_bin,
        data.path(),
        &[
            "--live-interval",
            &interval,
            "--max-in-flight-per-client",
            &per_client,
        ],
    )
    .await
    .map_err(|error| error.to_string())?;
    let pid = server.id().ok_or("the server exited")?;
    let outcome = measure(&args, &address, pid).await;
    server.kill().await?;
    outcome
}

async fn measure(args: &Args, address: &str, pid: u32) -> Result<(), Box<dyn std::error::Error>> {
    let mut channels = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        channels.push(Endpoint::from_shared(address.to_owned())?.connect().await?);
    }
    let cities = WeatherServiceClient::new(channels[0].clone())
        .search_cities(SearchCitiesRequest {
            query: String::new(),
            limit: args.cities.min(50),
        })
        .await?
        .into_inner()
        .cities;
    // More than 50: page through the catalog by letter, largest first within each.
    let mut city_ids: Vec<String> = cities.into_iter().map(|city| city.id).collect();
    let mut letter = b'a';
    while city_ids.len() < args.cities as usize && letter <= b'z' {
        let more = WeatherServiceClient::new(channels[0].clone())
            .search_cities(SearchCitiesRequest {
                query: (letter as char).to_string(),
                limit: 50,
            })
            .await?
            .into_inner()
            .cities;
        for city in more {
            if city_ids.len() < args.cities as usize && !city_ids.contains(&city.id) {
                city_ids.push(city.id);
            }
        }
        letter += 1;
    }

    let baseline_rss = rss_bytes(pid)?;
    let latencies = Arc::new(Latencies {
        measuring: AtomicBool::new(false),
        histogram: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        ended: AtomicUsize::new(0),
    });
    let ready = Arc::new(Barrier::new(args.subscribers + 1));
    let refused = Arc::new(AtomicUsize::new(0));
    for n in 0..args.subscribers {
        let channel: Channel = channels[n % channels.len()].clone();
        let city = city_ids[n % city_ids.len()].clone();
        let (latencies, ready, refused) = (
            Arc::clone(&latencies),
            Arc::clone(&ready),
            Arc::clone(&refused),
        );
        tokio::spawn(subscriber(channel, city, latencies, ready, refused));
    }
    ready.wait().await;
    // A refused subscriber would make every figure below a lie about 10,000.
    let refused = refused.load(Ordering::Relaxed);
    if refused > 0 {
        return Err(format!("{refused} of {} subscribers were refused", args.subscribers).into());
    }
    println!(
        "{} subscribers on {} connections, {} cities, tick {}: all have their first reading",
        args.subscribers,
        args.connections,
        city_ids.len(),
        humantime::format_duration(args.interval)
    );
    tokio::time::sleep(args.warmup).await;

    let loaded_rss = rss_bytes(pid)?;
    let cpu_before = cpu_ticks(pid)?;
    let own_cpu_before = cpu_ticks(std::process::id())?;
    latencies.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(args.duration).await;
    latencies.measuring.store(false, Ordering::Relaxed);
    let histogram = latencies.histogram.lock().expect("not poisoned").clone();
    let ended = latencies.ended.load(Ordering::Relaxed);
    if ended > 0 {
        return Err(format!(
            "{ended} of {} subscribers' streams ended during the run",
            args.subscribers
        )
        .into());
    }
    let cpu = (cpu_ticks(pid)? - cpu_before) as f64 / clock_ticks_per_second() as f64;
    // The tool's own share: it runs on the same cores, and its work is in the latency.
    let own_cpu =
        (cpu_ticks(std::process::id())? - own_cpu_before) as f64 / clock_ticks_per_second() as f64;
    let end_rss = rss_bytes(pid)?;

    let per_subscriber = (loaded_rss.max(end_rss) - baseline_rss) as f64 / args.subscribers as f64;
    let ms = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
    let cpu_percent = 100.0 * cpu / args.duration.as_secs_f64();
    let own_cpu_percent = 100.0 * own_cpu / args.duration.as_secs_f64();
    println!(
        "server memory: {:.1} MiB before, {:.1} MiB with subscribers: {:.1} KiB per subscriber",
        baseline_rss as f64 / 1048576.0,
        loaded_rss.max(end_rss) as f64 / 1048576.0,
        per_subscriber / 1024.0
    );
    println!(
        "updates delivered in {}: {} ({:.0}/s)",
        humantime::format_duration(args.duration),
        histogram.len(),
        histogram.len() as f64 / args.duration.as_secs_f64()
    );
    println!(
        "fan-out latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(0.5),
        ms(0.99),
        histogram.max() as f64 / 1000.0
    );
    println!("server CPU: {cpu_percent:.1}% of one core");
    println!("this tool's CPU (the subscribers): {own_cpu_percent:.1}% of one core");
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "subscribers": args.subscribers,
                "connections": args.connections,
                "cities": city_ids.len(),
                "interval_ms": args.interval.as_millis() as u64,
                "duration_s": args.duration.as_secs_f64(),
                "rss_baseline_bytes": baseline_rss,
                "rss_loaded_bytes": loaded_rss.max(end_rss),
                "bytes_per_subscriber": per_subscriber,
                "updates": histogram.len(),
                "latency_ms": { "p50": ms(0.5), "p99": ms(0.99), "max": histogram.max() as f64 / 1000.0 },
                "server_cpu_percent": cpu_percent,
                "tool_cpu_percent": own_cpu_percent,
            })
        );
    }
    Ok(())
}

/// The updates' latencies, recorded by the subscriber that receives each, under a lock
/// (never contended: the tool runs on one thread) rather than sent to a task that records
/// them: a message and a woken task per update were a third of this tool's CPU, on the cores
/// the server runs on (BENCHMARKS.md, "A lighter subscriber tool").
struct Latencies {
    /// Set for the measured window only.
    measuring: AtomicBool,
    histogram: Mutex<Histogram<u64>>,
    /// Streams that ended after their first reading: none should, while the server runs.
    ended: AtomicUsize,
}

/// One Watch stream: records the latency of every update after the first.
async fn subscriber(
    channel: Channel,
    city: String,
    latencies: Arc<Latencies>,
    ready: Arc<Barrier>,
    refused: Arc<AtomicUsize>,
) {
    let mut client = WeatherServiceClient::new(channel);
    let mut stream = match client
        .watch(WatchRequest {
            city_ids: vec![city],
        })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => {
            if refused.fetch_add(1, Ordering::Relaxed) == 0 {
                eprintln!("watch refused: {status}");
            }
            ready.wait().await;
            return;
        }
    };
    let mut first = true;
    while let Ok(Some(event)) = stream.message().await {
        if first {
            first = false;
            ready.wait().await;
            continue;
        }
        if let Some(watch_event::Event::Update(update)) = event.event {
            let observed = update
                .conditions
                .and_then(|c| c.observed_at)
                .map_or(0, |t| {
                    t.seconds as i128 * 1_000_000 + i128::from(t.nanos / 1000)
                });
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i128);
            if latencies.measuring.load(Ordering::Relaxed) {
                let micros = (now - observed).max(1) as u64;
                latencies
                    .histogram
                    .lock()
                    .expect("not poisoned")
                    .saturating_record(micros);
            }
        }
    }
    // Ended before its first reading: counted, so the run fails instead of waiting.
    if first {
        refused.fetch_add(1, Ordering::Relaxed);
        ready.wait().await;
    } else {
        latencies.ended.fetch_add(1, Ordering::Relaxed);
    }
}

/// User plus system CPU time of the process so far, in clock ticks (/proc, Linux).
fn cpu_ticks(pid: u32) -> Result<u64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces) start at state, field 3.
    let rest = stat.rsplit_once(')').ok_or("bad stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: u64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok(utime + stime)
}

/// Linux's USER_HZ, which /proc's CPU times count in: 100 on every mainstream platform.
fn clock_ticks_per_second() -> u64 {
    100
}

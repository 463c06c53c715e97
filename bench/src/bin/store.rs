//! The store under load, on the release server over loopback: chat posts committed per
//! second and their fan-out to live readers spread over replicas, upload and download
//! throughput of one large file, and the server's memory with many stored messages. Each on
//! SQLite (a file in a temporary directory) or PostgreSQL (a throw-away cluster, as the
//! tests make one, but with `fsync` on).
//!
//! ```sh
//! cargo build --release -p server -p bench
//! target/release/store chat --engine postgres --replicas 2 --subscribers 1000
//! target/release/store files --engine sqlite --size-mib 100
//! target/release/store memory --engine postgres --messages 1000000
//! ```

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bench::rss_bytes;
use clap::{Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use proto::{
    chat::v1::{PostRequest, SubscribeRequest, chat_event, chat_service_client::ChatServiceClient},
    files::v1::{
        DownloadRequest, FileHeader, UploadRequest, file_service_client::FileServiceClient,
        upload_request::Part,
    },
};
use testkit::postgres::Postgres;
use tokio::{process::Child, sync::Mutex};
use tonic::transport::{Channel, Endpoint};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Parser)]
struct Args {
    /// The server binary to start.
    #[arg(long, default_value = "target/release/server", global = true)]
    server_bin: PathBuf,
    #[arg(long, value_enum, default_value_t = Engine::Sqlite, global = true)]
    engine: Engine,
    #[command(subcommand)]
    command: Measure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, Subcommand)]
enum Measure {
    /// Posts as fast as `posters` clients can get them committed, with `subscribers` live
    /// readers of the room spread over `replicas`: posts/s and the fan-out latency, from
    /// the message's commit time (`posted_at`) to each reader having it.
    Chat {
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        #[arg(long, default_value_t = 4)]
        posters: usize,
        #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
        duration: Duration,
    },
    /// One upload of `size_mib` MiB in 1 MiB messages, then its download: MB/s each way.
    Files {
        #[arg(long, default_value_t = 100)]
        size_mib: usize,
    },
    /// Stores `messages` chat messages (100 rooms, through the server's own tables), then
    /// restarts the server and reads every room's history: its memory before and after.
    Memory {
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
    },
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    let data = tempfile::tempdir()?;
    // fsync on: the figures are those of a database that keeps what it acknowledged.
    let postgres = (args.engine == Engine::Postgres).then(Postgres::start_durable);
    let url = match &postgres {
        Some(cluster) => cluster.database(),
        None => format!("sqlite://{}", data.path().join("app.db").display()),
    };
    match args.command {
        Measure::Chat {
            replicas,
            subscribers,
            posters,
            duration,
        } => {
            if replicas > 1 && args.engine == Engine::Sqlite {
                return Err("several replicas share a database only on PostgreSQL".into());
            }
            chat(
                &args.server_bin,
                &url,
                data.path(),
                replicas,
                subscribers,
                posters,
                duration,
            )
            .await
        }
        Measure::Files { size_mib } => files(&args.server_bin, &url, data.path(), size_mib).await,
        Measure::Memory { messages } => {
            memory(&args.server_bin, &url, data.path(), messages, args.engine).await
        }
    }
}

/// A release server on 127.0.0.1:0 on the database at `url`: the process, its URL, and a
/// channel to it. Benchmarks are one client working flat out: no per-client budget.
async fn start(
    server_bin: &Path,
    url: &str,
    data: &Path,
) -> Result<(Child, String, Channel), Error> {
    let (server, address) = bench::start_server(
        server_bin,
        data,
        &[
            "--database-url",
            url,
            "--state-changes-per-minute",
            "100000000",
            "--max-in-flight-per-client",
            "50000",
            "--upload-max-mib",
            "4096",
        ],
    )
    .await?;
    let channel = Endpoint::from_shared(address.clone())?.connect().await?;
    Ok((server, address, channel))
}

async fn chat(
    server_bin: &Path,
    url: &str,
    data: &Path,
    replicas: usize,
    subscribers: usize,
    posters: usize,
    duration: Duration,
) -> Result<(), Error> {
    let mut servers = Vec::new();
    for _ in 0..replicas {
        servers.push(start(server_bin, url, data).await?);
    }
    // Readers on every replica, several HTTP/2 connections each (200 streams per one).
    let mut readers = Vec::new();
    let latencies = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let received = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let per_connection = 150;
    let mut connections = Vec::new();
    for n in 0..subscribers.div_ceil(per_connection) {
        let (_, url, _) = &servers[n % replicas];
        connections.push(Endpoint::from_shared(url.clone())?.connect().await?);
    }
    for n in 0..subscribers {
        let mut client = ChatServiceClient::new(connections[n / per_connection].clone());
        let (latencies, received, measuring) = (
            Arc::clone(&latencies),
            Arc::clone(&received),
            Arc::clone(&measuring),
        );
        let mut stream = client
            .subscribe(SubscribeRequest {
                room: "bench".into(),
                history: 0,
                after_id: None,
            })
            .await?
            .into_inner();
        readers.push(tokio::spawn(async move {
            while let Ok(Some(event)) = stream.message().await {
                if let Some(chat_event::Event::Message(message)) = event.event
                    && measuring.load(Ordering::Relaxed)
                {
                    let posted = message.posted_at.unwrap_or_default();
                    let posted_us = posted.seconds * 1_000_000 + i64::from(posted.nanos / 1000);
                    let now_us = i64::try_from(
                        SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .unwrap_or_default()
                            .as_micros(),
                    )
                    .unwrap_or(i64::MAX);
                    let _ = latencies
                        .lock()
                        .await
                        .record(u64::try_from(now_us - posted_us).unwrap_or(0));
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let posted = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for poster in 0..posters {
        let mut client = ChatServiceClient::new(servers[poster % replicas].2.clone());
        let posted = Arc::clone(&posted);
        tasks.push(tokio::spawn(async move {
            let mut n = 0_u64;
            while started.elapsed() < duration {
                n += 1;
                let request = PostRequest {
                    room: "bench".into(),
                    author: format!("poster-{poster}"),
                    text: format!("message {n} from poster {poster}"),
                };
                if client.post(request).await.is_ok() {
                    posted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed();
    // Let the last messages arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    measuring.store(false, Ordering::Relaxed);
    let posted = posted.load(Ordering::Relaxed);
    let expected = posted * subscribers as u64;
    let delivered = received.load(Ordering::Relaxed);
    let histogram = latencies.lock().await;
    let rss: Vec<String> = servers
        .iter()
        .filter_map(|(child, _, _)| child.id())
        .map(|pid| format!("{:.1} MiB", rss_bytes(pid).unwrap_or(0) as f64 / 1048576.0))
        .collect();
    println!(
        "chat: {posted} posts committed in {:.1} s = {:.0} posts/s by {posters} posters; \
         {subscribers} readers over {replicas} replica(s): {delivered} of {expected} deliveries; \
         fan-out from commit p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; server RSS {}",
        elapsed.as_secs_f64(),
        posted as f64 / elapsed.as_secs_f64(),
        histogram.value_at_quantile(0.5) as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / 1000.0,
        histogram.max() as f64 / 1000.0,
        rss.join(", ")
    );
    for reader in readers {
        reader.abort();
    }
    Ok(())
}

async fn files(server_bin: &Path, url: &str, data: &Path, size_mib: usize) -> Result<(), Error> {
    let (server, _, channel) = start(server_bin, url, data).await?;
    let mut client = FileServiceClient::new(channel)
        .max_decoding_message_size(8 << 20)
        .max_encoding_message_size(8 << 20);
    let size = size_mib << 20;
    let chunk: Vec<u8> = (0..1 << 20).map(|n: u32| (n % 251) as u8).collect();
    let parts = std::iter::once(UploadRequest {
        part: Some(Part::Header(FileHeader {
            name: "big.bin".into(),
            size: size as u64,
            ..Default::default()
        })),
    })
    .chain((0..size_mib).map(move |_| UploadRequest {
        part: Some(Part::Chunk(chunk.clone())),
    }));
    let started = Instant::now();
    client.upload(tokio_stream::iter(parts)).await?;
    let upload = started.elapsed();
    let started = Instant::now();
    let mut stream = client
        .download(DownloadRequest {
            name: "big.bin".into(),
        })
        .await?
        .into_inner();
    let mut downloaded = 0;
    while let Some(part) = stream.message().await? {
        downloaded += part.chunk.len();
    }
    let download = started.elapsed();
    if downloaded != size {
        return Err(format!("downloaded {downloaded} of {size} bytes").into());
    }
    let rss = server.id().map_or(0, |pid| rss_bytes(pid).unwrap_or(0));
    println!(
        "files: {size_mib} MiB upload {:.1} s = {:.1} MB/s, download {:.1} s = {:.1} MB/s; server RSS {:.1} MiB",
        upload.as_secs_f64(),
        size as f64 / 1e6 / upload.as_secs_f64(),
        download.as_secs_f64(),
        size as f64 / 1e6 / download.as_secs_f64(),
        rss as f64 / 1048576.0
    );
    Ok(())
}

async fn memory(
    server_bin: &Path,
    url: &str,
    data: &Path,
    messages: u64,
    engine: Engine,
) -> Result<(), Error> {
    // Once to make the schema, then the rows straight into the server's tables (posting a
    // million messages through the API would measure the API, not the memory).
    let (mut server, _, _) = start(server_bin, url, data).await?;
    server.kill().await?;
    fill(url, messages, engine).await?;
    let (server, _, channel) = start(server_bin, url, data).await?;
    let pid = server.id().ok_or("the server exited")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_bytes(pid)?;
    let mut client = ChatServiceClient::new(channel);
    let mut read = 0;
    for room in 0..100 {
        let mut stream = client
            .subscribe(SubscribeRequest {
                room: format!("room-{room}"),
                history: 100,
                after_id: None,
            })
            .await?
            .into_inner();
        for _ in 0..100.min(messages / 100) {
            if stream.message().await?.is_none() {
                break;
            }
            read += 1;
        }
    }
    // One reader resumes from the start of a room: every one of its messages, paged.
    let mut stream = client
        .subscribe(SubscribeRequest {
            room: "room-0".into(),
            history: 0,
            after_id: Some(0),
        })
        .await?
        .into_inner();
    let mut resumed = 0;
    while resumed < messages / 100 {
        if stream.message().await?.is_none() {
            break;
        }
        resumed += 1;
    }
    let after = rss_bytes(pid)?;
    println!(
        "memory: {messages} stored messages; server RSS {:.1} MiB at start, {:.1} MiB after \
         reading 100 rooms' history ({read} messages) and resuming one room from its start \
         ({resumed} messages)",
        idle as f64 / 1048576.0,
        after as f64 / 1048576.0
    );
    Ok(())
}

/// Inserts `messages` chat messages in 100 rooms, in the server's own tables.
async fn fill(url: &str, messages: u64, engine: Engine) -> Result<(), Error> {
    let per_room = i64::try_from(messages / 100)?;
    let text = "x".repeat(100);
    match engine {
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(url).await?;
            sqlx::query(
                "INSERT INTO chat_rooms (name, last_id, active_at_us) \
                 SELECT 'room-' || r, $1, 0 FROM generate_series(0, 99) AS r",
            )
            .bind(per_room)
            .execute(&pool)
            .await?;
            sqlx::query(
                "INSERT INTO chat_messages (room, id, author, text, posted_at_us) \
                 SELECT 'room-' || r, i, 'bench', $2, 0 \
                 FROM generate_series(0, 99) AS r, generate_series(1, $1) AS i",
            )
            .bind(per_room)
            .bind(&text)
            .execute(&pool)
            .await?;
        }
        Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await?;
            sqlx::query(
                "WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n < 99) \
                 INSERT INTO chat_rooms (name, last_id, active_at_us) \
                 SELECT 'room-' || n, $1, 0 FROM r",
            )
            .bind(per_room)
            .execute(&pool)
            .await?;
            sqlx::query(
                "WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n < 99), \
                 i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < $1) \
                 INSERT INTO chat_messages (room, id, author, text, posted_at_us) \
                 SELECT 'room-' || r.n, i.n, 'bench', $2, 0 FROM r, i",
            )
            .bind(per_room)
            .bind(&text)
            .execute(&pool)
            .await?;
        }
    }
    Ok(())
}

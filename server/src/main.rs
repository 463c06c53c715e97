//! The server binary: native gRPC, gRPC-Web and the web app on one port.
//!
//! Run with: `cargo run -p server -- --help`

use std::{
    io::{IsTerminal, Write as _},
    net::{IpAddr, SocketAddr},
    path::Path,
    process::ExitCode,
};

use clap::Parser;
use server::{
    App, Config,
    config::LogFormat,
    logs::{Fields, Lines, Rfc3339Micros},
    traces,
};
use tokio::net::TcpListener;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt as _, util::SubscriberInitExt as _};

/// Log lines queued for stderr at most (about 4 MiB of access lines); past it they are
/// dropped and counted.
const LOG_QUEUE_LINES: usize = 16 * 1024;

/// The calls' spans (`layers::access_log`), enabled when they are exported.
const CALL_SPANS: &str = "server::layers::access_log=info";

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = Config::parse();
    // Logs go to stderr: stdout carries only the lines scripts read (address, URL). Written
    // by a thread of their own from a bounded queue: a call only formats its line, and a
    // stderr that cannot keep up (a full pipe, a slow terminal) drops lines, counted on
    // /metrics, instead of blocking calls. The guard flushes the queue at exit. The thread
    // writes what has queued up in one go (it flushes each time the queue runs empty), not
    // a system call per line.
    let (writer, _flush) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let dropped_log_lines = writer.error_counter();
    // With --otlp-endpoint, each call's span is exported too: its target is enabled at
    // `info` whatever the log filter says, and the spans go to a layer of their own.
    // Without, that layer is `None` and costs nothing (the filter alone decides).
    let exporter = match config
        .otlp_endpoint
        .as_deref()
        .map(traces::Exporter::install)
    {
        None => None,
        Some(Ok(exporter)) => Some(exporter),
        Some(Err(error)) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut filter = EnvFilter::new(&config.log);
    if exporter.is_some() {
        filter = filter.add_directive(CALL_SPANS.parse().expect("a valid directive"));
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match config.log_format {
        LogFormat::Human => install(
            logs.with_ansi(std::io::stderr().is_terminal())
                .fmt_fields(Fields::default())
                .event_format(Lines::new(Rfc3339Micros))
                .finish(),
            exporter.as_ref(),
        ),
        LogFormat::Json => install(
            logs.json()
                .with_timer(Rfc3339Micros)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
            exporter.as_ref(),
        ),
    }
    if let Some(endpoint) = &config.otlp_endpoint {
        tracing::info!(%endpoint, "exporting traces over OTLP");
    }

    let embedded = server::has_embedded_frontend();
    if config.static_dir.is_none() && !embedded && Path::new("dist/index.html").is_file() {
        config.static_dir = Some("dist".into());
    }
    match &config.static_dir {
        Some(dir) => tracing::info!(dir = %dir.display(), "serving the web app"),
        None if embedded => tracing::info!("serving the web app built into this binary"),
        None => tracing::warn!("no frontend found (./dist or --static-dir): serving gRPC only"),
    }

    if config.auth_token.is_none() {
        tracing::warn!(
            "no --auth-token (SERVER_AUTH_TOKEN): methods that change state are open to anyone"
        );
    }

    let app = match App::build(&config).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    app.gauge_fn(
        "log_lines_dropped",
        "Log lines dropped because stderr did not keep up (logging never blocks a call)",
        move || i64::try_from(dropped_log_lines.dropped_lines()).unwrap_or(i64::MAX),
    );
    if let Some(address) = config.metrics_listen {
        match TcpListener::bind(address).await {
            Ok(listener) => {
                let metrics = app.metrics_router();
                // The bound address: with port 0, the one the system chose.
                let address = listener.local_addr().unwrap_or(address);
                tracing::info!(%address, "metrics at /metrics");
                tokio::spawn(async move { axum::serve(listener, metrics).await });
            }
            Err(error) => {
                tracing::error!(%error, %address, "cannot listen for metrics");
                return ExitCode::FAILURE;
            }
        }
    }
    let listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, address = %config.listen, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(address) => {
            // Scripts and tests read the chosen port from the first line. Written at once,
            // and a stdout closed by a reader that took its line and left is not an error
            // (`println!` would panic on it).
            let mut lines = format!("listening on {address}\n");
            if config.static_dir.is_some() || embedded {
                let tls = config.serves_tls();
                lines.push_str(&format!("web app: open {}\n", browser_url(address, tls)));
            }
            let mut stdout = std::io::stdout().lock();
            let _ = stdout
                .write_all(lines.as_bytes())
                .and_then(|()| stdout.flush());
        }
        Err(error) => tracing::warn!(%error, "cannot read the bound address"),
    }

    let served = app.serve(listener, server::shutdown_signal()).await;
    if let Some(exporter) = exporter {
        // The last spans, queued when the calls ended.
        exporter.shutdown();
    }
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Makes `logs` the process's subscriber, with the exporter's layer on top when there is
/// one.
fn install<S>(logs: S, exporter: Option<&traces::Exporter>)
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    S: Send + Sync + 'static,
{
    // Every span the log filter enables is exported: the calls' at least (`CALL_SPANS`),
    // more with `--log debug`. (A filter of the exporter's own would need a registry-based
    // subscriber; the formatting subscriber does not take per-layer filters.)
    logs.with(
        exporter.map(|exporter| tracing_opentelemetry::layer().with_tracer(exporter.tracer())),
    )
    .init();
}

/// The URL a person on this machine opens: a wildcard address becomes `localhost`.
fn browser_url(address: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    match address.ip() {
        ip if ip.is_unspecified() || ip.is_loopback() => {
            format!("{scheme}://localhost:{}/", address.port())
        }
        IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{}/", address.port()),
        IpAddr::V4(ip) => format!("{scheme}://{ip}:{}/", address.port()),
    }
}

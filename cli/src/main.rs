//! `client`: a command-line client for every method of every service.
//!
//! Run with: `cargo run -p cli -- --help`

mod args;
mod calls;
mod metadata;
mod output;

use std::{path::Path, process::ExitCode};

use clap::Parser;
use tonic::{
    Status,
    service::interceptor::InterceptedService,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};

use cli::discovery::{self, Source};

use crate::{
    args::{Cli, Options},
    calls::Calls,
    metadata::CallMetadata,
    output::Printer,
};

const USER_AGENT: &str = concat!("grpc-browser-client/", env!("CARGO_PKG_VERSION"));

#[tokio::main]
async fn main() -> ExitCode {
    let Cli { options, command } = Cli::parse();
    let channel = match channel(&options).await {
        Ok(channel) => channel,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let transport = InterceptedService::new(
        channel,
        CallMetadata::new(options.token, options.headers, options.deadline),
    );
    let calls = Calls::new(transport, Printer::new(options.output, options.verbose));

    let call = calls.run(command);
    let outcome = tokio::select! {
        outcome = async {
            match options.deadline {
                // The server also gets the deadline (grpc-timeout); this bounds the wait
                // here, for streams too.
                Some(deadline) => tokio::time::timeout(deadline, call).await.unwrap_or_else(|_| {
                    Err(Status::deadline_exceeded(format!(
                        "the {} deadline passed",
                        humantime::format_duration(deadline)
                    )))
                }),
                None => call.await,
            }
        } => outcome,
        // Dropping the call resets its HTTP/2 stream: the server sees it cancelled.
        _ = tokio::signal::ctrl_c() => {
            eprintln!("cancelled");
            return ExitCode::from(130);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => {
            calls.printer().error(&status);
            ExitCode::FAILURE
        }
    }
}

/// The one channel every call of the run shares: to `--server`, or balanced over the
/// replicas `--servers` or `--etcd` name.
async fn channel(options: &Options) -> Result<Channel, String> {
    let source = match (&options.etcd, options.servers.is_empty()) {
        (Some(url), _) => Source::Etcd {
            url: url.clone(),
            prefix: options.etcd_prefix.clone(),
        },
        (None, false) => Source::Static(options.servers.clone()),
        // Lazy: connecting happens on the first call, and a refused connection is that
        // call's UNAVAILABLE, reported like any other error.
        (None, true) => return Ok(endpoint(options)?.connect_lazy()),
    };
    let tls = options.ca_file.as_deref().map(tls_config).transpose()?;
    if tls.is_none() && options.token.is_some() && !options.insecure_discovery {
        return Err(
            "refusing to send the token in clear text to replicas found by \
                    discovery: give --ca-file to call them over TLS, or \
                    --insecure-discovery to send it anyway"
                .into(),
        );
    }
    discovery::balanced(source, USER_AGENT, tls).await
}

/// TLS trusting the CA in `ca_file`.
fn tls_config(ca_file: &Path) -> Result<ClientTlsConfig, String> {
    let pem = std::fs::read(ca_file)
        .map_err(|error| format!("--ca-file {}: {error}", ca_file.display()))?;
    Ok(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
}

fn endpoint(options: &Options) -> Result<Endpoint, String> {
    let bad_server = |error: &dyn std::fmt::Display| {
        format!(
            "--server '{}': {error}; expected http://HOST:PORT or https://HOST:PORT",
            options.server
        )
    };
    let endpoint = Endpoint::from_shared(options.server.clone())
        .map_err(|error| bad_server(&error))?
        .user_agent(USER_AGENT)
        .map_err(|error| bad_server(&error))?;
    match (options.server.starts_with("https://"), &options.ca_file) {
        (true, Some(ca_file)) => endpoint
            .tls_config(tls_config(ca_file)?)
            .map_err(|error| format!("--ca-file {}: {error}", ca_file.display())),
        (true, None) => Err(
            "an https:// server needs --ca-file (the CA that signed its \
                             certificate)"
                .into(),
        ),
        (false, Some(_)) => Err("--ca-file is for https:// servers".into()),
        (false, None) => Ok(endpoint),
    }
}

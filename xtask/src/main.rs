//! The project's commands, so a fresh machine needs nothing but cargo to start:
//!
//! - `cargo xtask run [-- SERVER FLAGS]`: install the build tools, build the web app and the
//!   server in release mode, start the server and print the URL to open.
//! - `cargo xtask test`: install the build and test tools, then run every check: formatting,
//!   clippy (native and wasm32), unit and integration tests, the seeds' Python clients, and
//!   the browser tests in headless Chromium.
//! - `cargo xtask setup [--test]`: only install what `run` (or `test`) needs.
//!
//! Every step says what it does; tools already installed at the right version are skipped.

mod steps;
mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => steps::run(&args[1..]),
        Some("test") => steps::test(),
        Some("setup") => tools::setup(args.iter().any(|arg| arg == "--test")).map(|_| ()),
        Some("frontend") => tools::setup(false)
            .and_then(|paths| steps::build_frontend(&paths))
            .map(|_| ()),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 run [-- FLAGS]   build everything and start the server (FLAGS go to the server)\n  \
                 test             install test tools and run every check\n  \
                 setup [--test]   only install the tools for run (or test)\n  \
                 frontend         only build the web app into dist/"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nxtask: {error}");
            ExitCode::FAILURE
        }
    }
}

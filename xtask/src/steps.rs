//! What `run` and `test` do, step by step.

use std::{path::PathBuf, process::Command, time::Instant};

use crate::tools::{self, Tools, cargo, run as run_command, say, target_dir};

/// Builds the web app into `dist/` with Trunk, in release mode, using only local tools.
pub fn build_frontend(tools: &Tools) -> Result<PathBuf, String> {
    say("building the web app (trunk build --release) into dist/");
    run_command(
        Command::new("trunk")
            .args(["build", "--release"])
            .env("PATH", &tools.path)
            .current_dir(&tools.root),
    )?;
    Ok(tools.root.join("dist"))
}

/// Builds the release server with the web app (just built into dist/) inside it.
fn build_server(tools: &Tools) -> Result<PathBuf, String> {
    say(
        "building the server with the web app built in, and the CLI \
         (cargo build --release -p server -p cli --features server/embed-frontend)",
    );
    run_command(cargo().args([
        "build",
        "--release",
        "-p",
        "server",
        "-p",
        "cli",
        "--features",
        "server/embed-frontend",
    ]))?;
    Ok(target_dir(&tools.root).join("release/server"))
}

/// `cargo xtask run`: everything a fresh machine needs, then the server in the foreground.
pub fn run(server_args: &[String]) -> Result<(), String> {
    let tools = tools::setup(false)?;
    build_frontend(&tools)?;
    let server = build_server(&tools)?;
    let server_args = server_args
        .strip_prefix(&["--".to_owned()])
        .unwrap_or(server_args);
    say("starting the server; it prints the URL to open (Ctrl-C stops it)");
    // The binary carries the web app just built: no --static-dir needed.
    run_command(
        Command::new(server)
            .args(server_args)
            .current_dir(&tools.root),
    )
}

/// `cargo xtask test`: every check, each reported; fails if any failed.
pub fn test() -> Result<(), String> {
    let started = Instant::now();
    let tools = tools::setup(true)?;
    let mut report = Report::default();

    report.step("formatting (cargo fmt --check)", || {
        run_command(cargo().args(["fmt", "--all", "--check"]))
    });
    report.step("clippy, native crates", || {
        // With the server's embedded web app too (it compiles without dist/ as well).
        run_command(cargo().args([
            "clippy",
            "--all-targets",
            "--features",
            "server/embed-frontend",
            "--",
            "-D",
            "warnings",
        ]))
    });
    report.step("clippy, frontend on wasm32", || {
        run_command(cargo().args([
            "clippy",
            "-p",
            "frontend",
            "--target",
            "wasm32-unknown-unknown",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    });
    report.step("unit and integration tests (cargo test)", || {
        run_command(cargo().args(["test", "--workspace"]))
    });
    report.step("the web build's own tools (node --test tools/)", || {
        run_command(
            Command::new("node")
                .args(["--test", "tools/"])
                .current_dir(&tools.root),
        )
    });

    // The remaining checks run the release builds, as a user would.
    let dist = build_frontend(&tools)?;
    let server = build_server(&tools)?;

    report.step("seed compatibility: the seeds' Python clients", || {
        run_command(
            Command::new(&tools.python)
                .arg(tools.root.join("tests/seeds/test_seed_clients.py"))
                .env("SERVER_BIN", &server)
                .current_dir(&tools.root),
        )
    });
    report.step("browser tests (headless Chromium)", || {
        run_command(
            Command::new("node")
                .args(["--test", "--test-concurrency=1", "e2e/"])
                // Trunk (for the `trunk serve` test) and its tools come from PATH.
                .env("PATH", &tools.path)
                .env("SERVER_BIN", &server)
                .env("CLIENT_BIN", server.with_file_name("client"))
                .env("DIST_DIR", &dist)
                // The Kubernetes manifests' test validates them with this venv's
                // kubernetes-validate.
                .env("PYTHON", &tools.python)
                .current_dir(&tools.root),
        )
    });

    println!("\nxtask test finished in {:.0?}", started.elapsed());
    report.finish()
}

#[derive(Default)]
struct Report {
    results: Vec<(&'static str, Result<(), String>)>,
}

impl Report {
    fn step(&mut self, name: &'static str, check: impl FnOnce() -> Result<(), String>) {
        say(name);
        let started = Instant::now();
        let result = check();
        match &result {
            Ok(()) => say(&format!("{name}: passed in {:.1?}", started.elapsed())),
            Err(error) => say(&format!("{name}: FAILED: {error}")),
        }
        self.results.push((name, result));
    }

    fn finish(self) -> Result<(), String> {
        let failed: Vec<_> = self
            .results
            .iter()
            .filter(|(_, result)| result.is_err())
            .map(|(name, _)| *name)
            .collect();
        let passed = self.results.len() - failed.len();
        for (name, result) in &self.results {
            println!("  {} {name}", if result.is_ok() { "ok  " } else { "FAIL" });
        }
        println!("checks: {passed} passed, {} failed", failed.len());
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!("failed: {}", failed.join("; ")))
        }
    }
}

//! A throw-away PostgreSQL for tests: Debian's `postgresql` binaries, a new cluster made
//! with `initdb` in a temporary directory, listening on a free loopback port (and its socket
//! in that directory), run as the `postgres` user when the tests run as root (PostgreSQL
//! refuses root). Dropping it stops the cluster (`immediate`: nothing to keep) and removes
//! the directory, also when the test fails. Not installed is a failure, never a skip:
//! `cargo xtask test` installs it.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
};

/// A running cluster with one database per [`Postgres::database`] call.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
    running: bool,
    /// `fsync` on: commits reach the disk, as in production (benchmarks); off for tests,
    /// which lose nothing by it (the cluster is thrown away, and a process crash of the
    /// server, not of PostgreSQL, is what they test).
    durable: bool,
}

impl Postgres {
    /// Makes and starts a cluster for tests (`fsync` off); panics with the reason when it
    /// cannot.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A cluster whose commits reach the disk, as in production: for benchmarks.
    pub fn start_durable() -> Self {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Self {
        let bin = binaries();
        let dir = tempfile::Builder::new()
            .prefix("testkit-postgres-")
            .tempdir()
            .expect("a temporary directory");
        // Run as root, the cluster must belong to (and run as) `postgres`.
        let as_postgres = run(Command::new("id").arg("-u")).stdout == b"0\n";
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "cannot give {:?} to postgres", dir.path());
        }
        let mut cluster = Self {
            bin,
            dir,
            port: 0,
            as_postgres,
            running: false,
            durable,
        };
        let data = cluster.data_dir();
        cluster.check(
            cluster.command("initdb").arg("-D").arg(&data).args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
            "initdb",
        );
        cluster.port = free_port();
        cluster.start_again();
        cluster
    }

    /// Starts the cluster again after [`Self::stop`], on the same port and data.
    pub fn start_again(&mut self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=200",
            self.port,
            self.dir.path().display(),
            if self.durable { "on" } else { "off" }
        );
        let log = self.dir.path().join("postgres.log");
        let data = self.data_dir();
        self.check(
            self.command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-o", &options, "-w", "start"]),
            "pg_ctl start",
        );
        self.running = true;
    }

    /// Stops the cluster at once, as a crash of the database server would.
    pub fn stop(&mut self) {
        if self.running {
            let data = self.data_dir();
            self.check(
                self.command("pg_ctl")
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "stop"]),
                "pg_ctl stop",
            );
            self.running = false;
        }
    }

    /// A new, empty database, as a URL for `--database-url`.
    pub fn database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.check(
            self.command("createdb").args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                &name,
            ]),
            "createdb",
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn check(&self, command: &mut Command, what: &str) {
        let output = run(command);
        assert!(
            output.status.success(),
            "{what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data_dir();
            // Best effort: a failure here must not hide the test's own.
            let _ = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

/// The newest `/usr/lib/postgresql/<version>/bin`, or `$PG_BIN`.
fn binaries() -> PathBuf {
    if let Some(bin) = std::env::var_os("PG_BIN") {
        return bin.into();
    }
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root).ok().and_then(|entries| {
        entries
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version: u32 = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .filter(|(_, bin)| bin.join("initdb").exists())
            .max_by_key(|(version, _)| *version)
    });
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed (no {}/<version>/bin/initdb): \
             `cargo xtask test` installs Debian's postgresql, or set PG_BIN",
            root.display()
        ),
    }
}

/// A loopback port that was free a moment ago (PostgreSQL cannot listen on port 0 and
/// report it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

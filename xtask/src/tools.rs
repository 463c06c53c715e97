//! Installing the tools, each only when missing or at the wrong version.

use std::{
    env,
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// Trunk 0.22 needs a newer rustc than the pinned 1.95 (see ../shared/TOOLCHAIN.md).
const TRUNK_VERSION: &str = "0.21.14";
/// wasm-opt from this npm package (tools/package.json); Debian's binaryen 108 miscompiles.
const WASM_OPT_VERSION: &str = "version 132";
const CHROMIUM: &str = "/usr/bin/chromium";
/// wasm-split-cli, which cuts the web app into its pages' chunks (tools/split.mjs). Its
/// version is the one whose format matches `wasm_split_helpers` in Cargo.lock.
const WASM_SPLIT_VERSION: &str = "0.2.4";

/// Where the installed tools are, for the steps that use them.
#[derive(Debug)]
pub struct Tools {
    pub root: PathBuf,
    /// `PATH` with the project's tools first, so Trunk finds the local wasm-bindgen and
    /// wasm-opt and never tries to download them.
    pub path: OsString,
    pub python: PathBuf,
}

pub fn say(message: &str) {
    println!("==> {message}");
}

/// Runs a command with the terminal attached; an error says which command failed.
pub fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|error| format!("cannot start {command:?}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

/// The first line a command prints on success, if it runs at all.
fn first_line(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    })
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

pub fn cargo() -> Command {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

pub fn target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Installs what `run` needs and, with `for_tests`, what `test` needs too.
pub fn setup(for_tests: bool) -> Result<Tools, String> {
    let root = root();
    let cargo_bin = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?
        .join("bin");
    let node_bin = root.join("tools/node_modules/.bin");
    let mut dirs = vec![node_bin.clone(), cargo_bin.clone()];
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    let path = env::join_paths(dirs).map_err(|error| error.to_string())?;

    ensure_wasm_target()?;
    let bindgen_version = locked_version(&root, "wasm-bindgen")?;
    ensure_cargo_tool(&cargo_bin.join("trunk"), "trunk", TRUNK_VERSION, true)?;
    ensure_cargo_tool(
        &cargo_bin.join("wasm-bindgen"),
        "wasm-bindgen-cli",
        &bindgen_version,
        // Its own lockfile pins a crate version the registry no longer serves.
        false,
    )?;
    ensure_wasm_split(&cargo_bin)?;
    ensure_npm(
        &root.join("tools"),
        &node_bin.join("wasm-opt"),
        &["--version"],
        WASM_OPT_VERSION,
    )?;

    let python = target_dir(&root).join("seed-venv/bin/python");
    if for_tests {
        ensure_debian_packages()?;
        ensure_python(&root, &python)?;
        // Probed by the package added last, so a machine with the older set installs again.
        ensure_npm(
            &root.join("e2e"),
            &root.join("e2e/node_modules/@seriousme/openapi-schema-validator/package.json"),
            &[],
            "",
        )?;
    }
    Ok(Tools { root, path, python })
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output()
        .map_err(|error| format!("cannot run rustup: {error}"))?;
    if String::from_utf8_lossy(&installed.stdout).contains("wasm32-unknown-unknown") {
        say("wasm32-unknown-unknown target: installed");
        return Ok(());
    }
    say("adding the wasm32-unknown-unknown target");
    run(Command::new("rustup")
        .args(["target", "add", "wasm32-unknown-unknown"])
        .current_dir(root()))
}

/// The version of `package` that Cargo.lock resolved, so the CLI matches the library.
fn locked_version(root: &Path, package: &str) -> Result<String, String> {
    let lock = fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|error| format!("cannot read Cargo.lock: {error}"))?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    lock.split_once(&needle)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(version, _)| version.to_owned())
        .ok_or_else(|| format!("Cargo.lock has no {package}"))
}

fn ensure_cargo_tool(
    binary: &Path,
    krate: &str,
    version: &str,
    locked: bool,
) -> Result<(), String> {
    if first_line(binary, &["--version"]).is_some_and(|line| line.ends_with(version)) {
        say(&format!("{krate} {version}: installed"));
        return Ok(());
    }
    say(&format!(
        "installing {krate} {version} with cargo install (takes minutes, once)"
    ));
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.args(["install", krate, "--version", version]);
    if locked {
        command.arg("--locked");
    }
    run(&mut command)
}

/// wasm-split-cli has no `--version`: cargo's record of what it installed says which.
fn ensure_wasm_split(cargo_bin: &Path) -> Result<(), String> {
    let krate = "wasm_split_cli_support";
    let record = cargo_bin
        .parent()
        .map(|home| home.join(".crates.toml"))
        .and_then(|path| fs::read_to_string(path).ok())
        .unwrap_or_default();
    if cargo_bin.join("wasm-split-cli").is_file()
        && record.contains(&format!("\"{krate} {WASM_SPLIT_VERSION} "))
    {
        say(&format!("{krate} {WASM_SPLIT_VERSION}: installed"));
        return Ok(());
    }
    say(&format!(
        "installing {krate} {WASM_SPLIT_VERSION} with cargo install (takes a minute, once)"
    ));
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.args(["install", krate, "--version", WASM_SPLIT_VERSION]);
    command.args(["--features", "build-binary", "--locked"]);
    run(&mut command)
}

/// `npm ci` in `dir` unless `probe` already runs (and prints `expect`, when given).
fn ensure_npm(dir: &Path, probe: &Path, args: &[&str], expect: &str) -> Result<(), String> {
    let name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ok = if args.is_empty() {
        probe.is_file()
    } else {
        first_line(probe, args).is_some_and(|line| line.contains(expect))
    };
    if ok {
        say(&format!("npm packages of {name}/: installed"));
        return Ok(());
    }
    say(&format!("installing the npm packages of {name}/ (npm ci)"));
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir))
}

/// Debian packages the tests use, each with a file that shows it is installed.
const TEST_PACKAGES: &[(&str, &str)] = &[
    ("chromium", CHROMIUM),
    ("chromium-driver", "/usr/bin/chromedriver"),
    // The load-balancer topology test runs nginx in front of three replicas.
    ("nginx", "/usr/sbin/nginx"),
    // The discovery tests register replicas in etcd.
    ("etcd-server", "/usr/bin/etcd"),
    // The store's tests make throw-away clusters (testkit/src/postgres.rs); Debian 12's is 15.
    ("postgresql", "/usr/lib/postgresql/15/bin/initdb"),
    // The dashboard's test scrapes the server with a Prometheus of its own.
    ("prometheus", "/usr/bin/prometheus"),
    // The Kubernetes manifests' test renders them with `kubectl kustomize` (any kubectl
    // already installed will do).
    ("kubernetes-client", "/usr/bin/kubectl"),
];

fn ensure_debian_packages() -> Result<(), String> {
    let missing: Vec<&str> = TEST_PACKAGES
        .iter()
        .filter(|(_, file)| !Path::new(file).is_file())
        .map(|(package, _)| *package)
        .collect();
    let names = TEST_PACKAGES
        .iter()
        .map(|(package, _)| *package)
        .collect::<Vec<_>>()
        .join(", ");
    if missing.is_empty() {
        say(&format!("Debian packages {names}: installed"));
        return Ok(());
    }
    say(&format!(
        "installing Debian's {} (apt-get)",
        missing.join(", ")
    ));
    let sudo = |args: &[&str]| {
        let is_root = first_line("id", &["-u"]).is_some_and(|uid| uid == "0");
        let mut command = Command::new(if is_root { "apt-get" } else { "sudo" });
        if !is_root {
            command.arg("apt-get");
        }
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    run(&mut sudo(&["update", "-qq"]))?;
    let mut install = sudo(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install)
}

fn ensure_python(root: &Path, python: &Path) -> Result<(), String> {
    let probe = Command::new(python)
        .args(["-c", "import grpc, grpc_tools, kubernetes_validate"])
        .stderr(Stdio::null())
        .status();
    if probe.is_ok_and(|status| status.success()) {
        say("Python grpcio, grpcio-tools and kubernetes-validate: installed");
        return Ok(());
    }
    say("installing Python grpcio, grpcio-tools and kubernetes-validate into a venv under target/");
    let venv = python
        .parent()
        .and_then(Path::parent)
        .ok_or("bad venv path")?;
    if !python.is_file() {
        run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    }
    run(Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(root.join("tests/seeds/requirements.txt"))
        .arg("-r")
        .arg(root.join("deploy/k8s/requirements.txt")))
}

//! The `client` binary against a real server on `127.0.0.1:0`: what it prints, how it
//! fails, and that leaving (deadline, Ctrl-C) stops the server's work.

use std::{process::Stdio, time::Duration};

use server::{Config, weather::LiveHub};
use testkit::TestServer;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt},
    process::Command,
};

const PATIENCE: Duration = Duration::from_secs(20);

async fn start_server() -> TestServer {
    start_server_with(|_| {}).await
}

async fn start_server_with(configure: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::spawn_with(|config| {
        config.live_interval = Duration::from_millis(200);
        configure(config);
    })
    .await
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `client --server URL ARGS...`, stdin, stdout and stderr piped, killed when dropped.
fn command(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    command
        .arg("--server")
        .arg(url)
        .args(args)
        // Only what a test sets: not the environment of whoever runs the tests.
        .env_remove("CLIENT_TOKEN")
        .env_remove("CLIENT_SERVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `client --server URL ARGS...` with `stdin` as its input.
async fn client_at(url: &str, args: &[&str], stdin: &str) -> Run {
    runclient(command(url, args), stdin).await
}

/// Runs a prepared `client` command with `stdin` as its input.
async fn runclient(mut command: Command, stdin: &str) -> Run {
    let mut child = command.spawn().expect("client starts");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the client finishes")
        .expect("output");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn client(server: &TestServer, args: &[&str], stdin: &str) -> Run {
    client_at(&server.url(), args, stdin).await
}

/// Fails with the whole of stderr when it lacks `text`.
fn assert_stderr_has(run: &Run, text: &str) {
    assert!(
        run.stderr.contains(text),
        "stderr lacks {text:?}:\n{}",
        run.stderr
    );
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[tokio::test]
async fn every_greeter_mode() {
    let server = start_server().await;

    let run = client(&server, &["greeter", "say-hello", "Ada"], "").await;
    assert_eq!(
        (run.code, lines(&run.stdout)),
        (Some(0), vec!["Hello, Ada!"])
    );

    let run = client(
        &server,
        &[
            "greeter",
            "stream",
            "Ada",
            "--count",
            "3",
            "--interval",
            "10ms",
        ],
        "",
    )
    .await;
    assert_eq!(
        lines(&run.stdout),
        [
            "Hello, Ada! (1/3)",
            "Hello, Ada! (2/3)",
            "Hello, Ada! (3/3)"
        ]
    );

    let run = client(&server, &["greeter", "to-all"], "Ada\nGrace\n\nAda\nAlan\n").await;
    assert_eq!(
        lines(&run.stdout),
        ["Hello, Ada, Grace and Alan! (4 names, 3 different)"]
    );

    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), "Edsger\nBarbara\n").expect("write");
    let path = file.path().to_str().expect("UTF-8 path");
    let run = client(&server, &["greeter", "to-all", path], "").await;
    assert_eq!(
        lines(&run.stdout),
        ["Hello, Edsger and Barbara! (2 names, 2 different)"]
    );

    let run = client(
        &server,
        &["greeter", "converse"],
        "Ada\nGrace\nbye\nnever read\n",
    )
    .await;
    assert_eq!(
        lines(&run.stdout),
        ["Hello, Ada!", "Hello, Grace!", "Goodbye!"]
    );
    assert_eq!(run.code, Some(0));
}

#[tokio::test]
async fn predict_weather_and_health() {
    let server = start_server().await;

    let run = client(&server, &["predict", "World111"], "").await;
    assert_eq!(lines(&run.stdout), ["Hello, World111!"]);

    let run = client(&server, &["weather", "current", "paris-fr", "tokyo-jp"], "").await;
    let printed = lines(&run.stdout);
    assert_eq!(printed.len(), 2, "{printed:?}");
    assert!(printed[0].starts_with("Paris, FR: ") && printed[1].starts_with("Tokyo, JP: "));

    let run = client(&server, &["weather", "forecast", "paris-fr"], "").await;
    let printed = lines(&run.stdout);
    assert_eq!(printed[0], "Paris, France (local times)");
    assert_eq!(
        printed.len(),
        1 + 16 + 7,
        "every third hour of 48, then 7 days: {printed:?}"
    );

    let run = client(&server, &["health"], "").await;
    assert_eq!(lines(&run.stdout), ["SERVING"]);
}

#[tokio::test]
async fn json_output_uses_the_protobuf_json_mapping() {
    let server = start_server().await;
    let run = client(
        &server,
        &["-o", "json", "weather", "search", "par", "--limit", "1"],
        "",
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("one JSON object");
    assert_eq!(json["cities"][0]["id"], "paris-fr");
    assert_eq!(json["cities"][0]["timeZone"], "Europe/Paris");

    let run = client(
        &server,
        &["-o", "json", "weather", "current", "oslo-no"],
        "",
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("one JSON object");
    assert!(
        json["observedAt"]
            .as_str()
            .expect("RFC 3339 timestamp")
            .ends_with('Z')
    );
    assert!(
        json["conditions"]["sky"]
            .as_str()
            .expect("enum name")
            .starts_with("SKY_")
    );
}

#[tokio::test]
async fn errors_print_code_message_and_details_and_exit_non_zero() {
    let server = start_server().await;

    let run = client(&server, &["greeter", "say-hello", " "], "").await;
    assert_eq!(run.code, Some(1));
    assert_eq!(
        lines(&run.stderr),
        [
            "error: INVALID_ARGUMENT: name: must not be empty",
            "  field name: must not be empty"
        ]
    );

    let run = client(&server, &["weather", "current", "lima-pe", "atlantis"], "").await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout.starts_with("Lima, PE: "),
        "the good answer still prints"
    );
    assert_stderr_has(&run, "error: NOT_FOUND: no city with id 'atlantis'");
    assert_stderr_has(&run, "city 'atlantis': not in the catalog");

    let run = client(
        &server,
        &["-o", "json", "greeter", "stream", "Ada", "--count", "0"],
        "",
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect("JSON error");
    assert_eq!(json["code"], "INVALID_ARGUMENT");
    assert_eq!(
        json["details"][0],
        "field count: must be between 1 and 100, got 0"
    );

    // Nothing listens on port 1: the connection is refused.
    let run = client_at("http://127.0.0.1:1", &["greeter", "say-hello", "Ada"], "").await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.starts_with("error: UNAVAILABLE"),
        "{}",
        run.stderr
    );

    let run = client_at("not a url", &["greeter", "say-hello", "Ada"], "").await;
    assert_eq!(run.code, Some(2));
    assert_stderr_has(&run, "expected http://HOST:PORT");
}

async fn wait_for_no_producers(hub: &LiveHub) {
    let mut producers = hub.producers();
    tokio::time::timeout(PATIENCE, producers.wait_for(|count| *count == 0))
        .await
        .expect("the server stops producing for a client that left")
        .expect("hub alive");
}

#[tokio::test]
async fn a_deadline_ends_a_stream_and_the_server_stops_its_work() {
    let server = start_server().await;
    let run = client(
        &server,
        &[
            "weather",
            "watch",
            "oslo-no",
            "lima-pe",
            "--deadline",
            "700ms",
        ],
        "",
    )
    .await;
    assert_eq!(run.code, Some(1));
    let printed = lines(&run.stdout);
    assert!(
        printed.iter().any(|line| line.starts_with("Oslo, NO: "))
            && printed.iter().any(|line| line.starts_with("Lima, PE: ")),
        "both cities at once, on one stream: {}",
        run.stdout
    );
    // Client and server both enforce it; whichever notices first words the message.
    assert!(
        run.stderr.starts_with("error: DEADLINE_EXCEEDED: "),
        "{}",
        run.stderr
    );
    wait_for_no_producers(&server.hub).await;
}

#[tokio::test]
async fn ctrl_c_cancels_the_call_on_the_server() {
    let server = start_server().await;
    let mut child = command(&server.url(), &["weather", "watch", "paris-fr"])
        .spawn()
        .expect("client starts");
    let mut subscribed = server.hub.producers();
    tokio::time::timeout(PATIENCE, subscribed.wait_for(|count| *count == 1))
        .await
        .expect("the watch reaches the server")
        .expect("hub alive");

    let pid = child.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("exits")
        .expect("status");
    assert_eq!(status.code(), Some(130));
    wait_for_no_producers(&server.hub).await;
}

#[tokio::test]
async fn verbose_shows_the_metadata_the_server_sent() {
    let server = start_server().await;
    let run = client(
        &server,
        &[
            "-v",
            "-H",
            "x-request-id:cli-7",
            "greeter",
            "say-hello",
            "Ada",
        ],
        "",
    )
    .await;
    assert_eq!(lines(&run.stdout), ["Hello, Ada!"]);
    assert_stderr_has(&run, "< x-request-id: cli-7");

    let run = client(
        &server,
        &["-v", "greeter", "stream", "Ada", "--count", "1"],
        "",
    )
    .await;
    assert_eq!(lines(&run.stdout), ["Hello, Ada! (1/1)"]);
    let stderr = lines(&run.stderr);
    assert!(stderr.contains(&"< (headers)"), "{}", run.stderr);
    assert!(stderr.contains(&"< (trailers)"), "{}", run.stderr);
    assert!(stderr.contains(&"< grpc-encoding: gzip"), "{}", run.stderr);

    let quiet = client(&server, &["greeter", "say-hello", "Ada"], "").await;
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

#[tokio::test]
async fn a_shell_session_runs_every_line_and_survives_failures() {
    let server = start_server().await;
    let session = "greeter say-hello \"Ada Lovelace\"\n\
                   \n\
                   weather current atlantis\n\
                   no-such-command\n\
                   predict Bob\n";
    let run = client(&server, &["shell"], session).await;
    assert_eq!(lines(&run.stdout), ["Hello, Ada Lovelace!", "Hello, Bob!"]);
    assert_stderr_has(&run, "error: NOT_FOUND: no city with id 'atlantis'");
    assert_stderr_has(&run, "unrecognized subcommand 'no-such-command'");
    assert_stderr_has(&run, "2 command(s) of the session failed");
    assert_eq!(run.code, Some(1));

    let run = client(&server, &["shell"], "predict a\npredict b\n").await;
    assert_eq!(
        (run.code, lines(&run.stdout)),
        (Some(0), vec!["Hello, a!", "Hello, b!"])
    );
}

#[tokio::test]
async fn chat_needs_the_token_to_post_and_join_and_shows_the_room() {
    const TOKEN: &str = "cli-test-token-42";
    let server = start_server_with(|config| config.auth_token = Some(TOKEN.into())).await;

    let run = client(&server, &["chat", "post", "lobby", "hi"], "").await;
    assert_eq!(run.code, Some(1));
    assert_stderr_has(&run, "error: UNAUTHENTICATED: ");
    let run = client(
        &server,
        &["--token", "wrong", "chat", "post", "lobby", "hi"],
        "",
    )
    .await;
    assert_eq!(run.code, Some(1));
    assert_stderr_has(&run, "error: PERMISSION_DENIED: ");

    // The token from the environment, as the help advises.
    let mut post = command(
        &server.url(),
        &["chat", "post", "lobby", "first!", "--author", "ada"],
    );
    post.env("CLIENT_TOKEN", TOKEN);
    let run = runclient(post, "").await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (Some(0), "posted #1 to lobby\n"),
        "{}",
        run.stderr
    );

    // An interactive join: a line typed, its message printed back as the room sends it.
    let mut join = command(
        &server.url(),
        &["--token", TOKEN, "chat", "join", "lobby", "--author", "bob"],
    );
    let mut child = join.spawn().expect("client starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next_line = async || {
        tokio::time::timeout(PATIENCE, stdout.next_line())
            .await
            .expect("a line in time")
            .expect("readable")
            .expect("not the end")
    };
    assert!(
        next_line().await.ends_with("] ada: first!"),
        "history first"
    );
    stdin.write_all(b"hello ada\n").await.expect("write");
    assert!(next_line().await.ends_with("] bob: hello ada"));
    drop(stdin);
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("leaves at end of input")
        .expect("status");
    assert_eq!(status.code(), Some(0));

    // Reading needs no token.
    let run = client(
        &server,
        &["chat", "watch", "lobby", "--deadline", "1s", "-o", "json"],
        "",
    )
    .await;
    let authors: Vec<String> = lines(&run.stdout)
        .iter()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("JSON");
            event["message"]["author"]
                .as_str()
                .expect("author")
                .to_owned()
        })
        .collect();
    assert_eq!(authors, ["ada", "bob"], "{}", run.stderr);
    assert_stderr_has(&run, "DEADLINE_EXCEEDED");
}

#[tokio::test]
async fn files_upload_list_and_download() {
    const TOKEN: &str = "cli-files-token";
    let work = tempfile::tempdir().expect("temp dir");
    let server = start_server_with(|config| config.auth_token = Some(TOKEN.into())).await;
    let original = work.path().join("report.bin");
    let content: Vec<u8> = (0..700_000_u32).map(|n| (n % 253) as u8).collect();
    std::fs::write(&original, &content).expect("write");
    let path = original.to_str().expect("utf-8 path");

    let run = client(&server, &["files", "upload", path], "").await;
    assert_eq!(run.code, Some(1));
    assert_stderr_has(&run, "error: UNAUTHENTICATED: ");

    let run = client(&server, &["--token", TOKEN, "files", "upload", path], "").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("stored report.bin (700000 bytes, sha256 "),
        "{}",
        run.stdout
    );

    let run = client(&server, &["files", "list", "-o", "json"], "").await;
    let listed: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
    assert_eq!(listed["files"][0]["name"], "report.bin");
    assert_eq!(
        listed["files"][0]["size"], "700000",
        "uint64 is a string in JSON"
    );

    let copy = work.path().join("copy.bin");
    let copy_path = copy.to_str().expect("utf-8 path");
    let run = client(
        &server,
        &["files", "download", "report.bin", "--to", copy_path],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(std::fs::read(&copy).expect("downloaded"), content);

    // Never over an existing file.
    std::fs::write(&copy, "mine").expect("write");
    let run = client(
        &server,
        &["files", "download", "report.bin", "--to", copy_path],
        "",
    )
    .await;
    assert_eq!(run.code, Some(1));
    assert_eq!(std::fs::read(&copy).expect("kept"), b"mine");

    let run = client(&server, &["files", "download", "nope"], "").await;
    assert_eq!(run.code, Some(1));
    assert_stderr_has(&run, "error: NOT_FOUND: no file with id 'nope'");
}

#[tokio::test]
async fn tls_with_the_servers_ca_file() {
    let work = tempfile::tempdir().expect("temp dir");
    let tls_dir = work.path().join("tls");
    let server = start_server_with(|config| {
        config.tls_self_signed = true;
        config.tls_dir = tls_dir.clone();
    })
    .await;
    let url = server
        .url()
        .replace("http://127.0.0.1", "https://localhost");
    let ca = tls_dir.join("localhost.pem");
    let ca = ca.to_str().expect("utf-8 path");

    let run = client_at(&url, &["--ca-file", ca, "greeter", "say-hello", "Ada"], "").await;
    assert_eq!(lines(&run.stdout), ["Hello, Ada!"], "{}", run.stderr);

    let run = client_at(&url, &["greeter", "say-hello", "Ada"], "").await;
    assert_eq!(run.code, Some(2));
    assert_stderr_has(&run, "needs --ca-file");

    // A CA that did not sign the server's certificate: the connection is refused.
    let other = work.path().join("other");
    let other_ca = server::dev_certificate(&other).expect("another CA").cert;
    let other_ca = other_ca.to_str().expect("utf-8 path");
    let run = client_at(
        &url,
        &["--ca-file", other_ca, "greeter", "say-hello", "Ada"],
        "",
    )
    .await;
    assert_eq!(run.code, Some(1));
    assert_stderr_has(&run, "error: UNAVAILABLE");
}

/// A TCP proxy on 127.0.0.1:0 to `target` that cuts every connection open at the moment
/// `cut_after` bytes have gone from clients to the server in all (once), as a network
/// failure would; later connections pass everything.
async fn cutting_proxy(target: std::net::SocketAddr, cut_after: usize) -> String {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let sent = Arc::new(AtomicUsize::new(0));
    let cut = tokio_util::sync::CancellationToken::new();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (sent, cut) = (Arc::clone(&sent), cut.clone());
            let cut_here = !cut.is_cancelled();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let (mut from_client, mut to_client) = inbound.split();
                let (mut from_server, mut to_server) = outbound.split();
                let upstream = async {
                    let mut buffer = vec![0; 64 * 1024];
                    loop {
                        let read = from_client.read(&mut buffer).await.unwrap_or(0);
                        if read == 0 {
                            return;
                        }
                        if to_server.write_all(&buffer[..read]).await.is_err() {
                            return;
                        }
                        if cut_here && sent.fetch_add(read, Ordering::SeqCst) + read >= cut_after {
                            cut.cancel();
                        }
                    }
                };
                let downstream = tokio::io::copy(&mut from_server, &mut to_client);
                tokio::select! {
                    () = upstream => {}
                    _ = downstream => {}
                    () = cut.cancelled(), if cut_here => {}
                }
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn an_upload_cut_by_the_network_resumes_where_the_server_left_off() {
    use sha2::Digest;
    let work = tempfile::tempdir().expect("temp dir");
    let server = start_server().await;
    let original = work.path().join("big.bin");
    let content: Vec<u8> = (0..5_000_000_u32).map(|n| (n * 13 % 251) as u8).collect();
    std::fs::write(&original, &content).expect("write");
    let path = original.to_str().expect("utf-8 path");

    // The connection breaks after about 3 MiB; the client resumes on a new one.
    let proxy = cutting_proxy(server.address, 3 << 20).await;
    let run = client_at(&proxy, &["files", "upload", "--resume", path], "").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_stderr_has(&run, "the upload broke");
    assert_stderr_has(&run, "resuming big.bin at byte ");
    let digest: String = sha2::Sha256::digest(&content)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(
        run.stdout.trim(),
        format!("stored big.bin (5000000 bytes, sha256 {digest})")
    );
    let copy = work.path().join("copy.bin");
    let run = client(
        &server,
        &[
            "files",
            "download",
            "big.bin",
            "--to",
            copy.to_str().expect("utf-8"),
        ],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        std::fs::read(&copy).expect("downloaded") == content,
        "byte-exact"
    );

    // The same command again: the file is there, nothing is uploaded twice.
    let run = client(&server, &["files", "upload", "--resume", path], "").await;
    assert_eq!(run.code, Some(1));
    assert_stderr_has(&run, "ALREADY_EXISTS");
}

#[tokio::test]
async fn blog_authors_and_posts_from_the_command_line() {
    let server = start_server().await;
    let run = client(&server, &["blog", "new-author", "Ada Lovelace"], "").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let author = run
        .stdout
        .split_whitespace()
        .next()
        .expect("an id")
        .to_owned();

    let run = client(
        &server,
        &["blog", "new-post", &author, "Notes"],
        "# On the Engine\n",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let fields: Vec<&str> = run.stdout.split_whitespace().collect();
    let (id, etag) = (fields[0].to_owned(), fields[1].to_owned());
    assert_eq!(etag, "r1");
    assert!(run.stdout.contains("  DRAFT  "), "{}", run.stdout);
    assert!(
        run.stdout.trim_end().ends_with("Notes (by Ada Lovelace)"),
        "{}",
        run.stdout
    );

    let run = client(&server, &["blog", "post", &id, "-o", "json"], "").await;
    let post: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
    assert_eq!(post["body"], "# On the Engine\n");

    let run = client(
        &server,
        &["blog", "retitle", &id, "r1", "Notes, edited"],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // The old etag again: someone else's change is not overwritten.
    let run = client(&server, &["blog", "retitle", &id, "r1", "Lost"], "").await;
    assert_eq!(run.code, Some(1));
    assert_stderr_has(&run, "error: ABORTED: ");
    let run = client(&server, &["blog", "publish", &id, "r2"], "").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("PUBLISHED"), "{}", run.stdout);

    let run = client(&server, &["blog", "posts", "--author", &author], "").await;
    assert_eq!(lines(&run.stdout).len(), 1, "{}", run.stdout);
    assert!(run.stdout.contains("Notes, edited"), "{}", run.stdout);
    let run = client(&server, &["blog", "new-post", "nobody", "x"], "").await;
    assert_eq!(run.code, Some(1));
    assert_stderr_has(
        &run,
        "error: INVALID_ARGUMENT: post.author_id: no author 'nobody'",
    );

    // Comments: added, listed, then followed live.
    let run = client(
        &server,
        &["blog", "comment", &id, "First!", "--author", "Grace"],
        "",
    )
    .await;
    assert_eq!(
        (run.code, lines(&run.stdout)),
        (Some(0), vec!["1  Grace: First!"]),
        "{}",
        run.stderr
    );
    let run = client(&server, &["blog", "comments", &id], "").await;
    assert_eq!(lines(&run.stdout), ["1  Grace: First!"]);
    let mut watch = command(&server.url(), &["blog", "comments", &id, "--watch"])
        .spawn()
        .expect("client starts");
    let mut followed = tokio::io::BufReader::new(watch.stdout.take().expect("stdout")).lines();
    let next = async |followed: &mut tokio::io::Lines<_>| {
        tokio::time::timeout(PATIENCE, followed.next_line())
            .await
            .expect("a line in time")
            .expect("readable")
            .expect("the stream goes on")
    };
    assert_eq!(next(&mut followed).await, "1  Grace: First!");
    let run = client(
        &server,
        &["blog", "comment", &id, "Live", "--author", "Ada"],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(next(&mut followed).await, "2  Ada: Live");
    watch.kill().await.expect("stopped");
}

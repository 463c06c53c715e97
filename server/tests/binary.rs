//! The server binary itself: what it prints at start and how it logs.

use std::process::Stdio;

use proto::greeter::{HelloRequest, greeter_client::GreeterClient};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

const PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

#[tokio::test]
async fn json_logs_carry_the_call_and_its_request_id() {
    let data = tempfile::tempdir().expect("temp dir");
    let (mut server, address) = start(
        data.path(),
        &["--log-format", "json", "--log", "info"],
        Stdio::piped(),
    )
    .await;

    let mut client = GreeterClient::connect(format!("http://{address}"))
        .await
        .expect("connects");
    let mut request = tonic::Request::new(HelloRequest {
        name: "Logs".into(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", "json-log-1".parse().expect("ascii"));
    client.say_hello(request).await.expect("call");

    let mut stderr = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let access = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stderr.next_line().await.expect("readable") {
            let entry: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            if entry["target"] == "access" {
                return entry;
            }
        }
        panic!("no access log line");
    })
    .await
    .expect("in time");
    assert_eq!(access["fields"]["method"], "/Greeter/SayHello");
    assert_eq!(access["fields"]["code"], "OK");
    assert_eq!(access["fields"]["request_id"], "json-log-1");
    assert_eq!(access["level"], "INFO");
    server.kill().await.expect("stopped");
}

/// A stderr nobody reads fills its pipe (64 KiB); the server's log writer then drops
/// lines and counts them, and calls go on being answered. With a blocking writer the calls
/// would stop at the first line that does not fit.
#[tokio::test]
async fn a_stderr_nobody_reads_drops_log_lines_and_blocks_no_call() {
    let data = tempfile::tempdir().expect("temp dir");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let metrics_listen = format!("127.0.0.1:{metrics_port}");
    let (mut server, address) = start(
        data.path(),
        &["--log", "info", "--metrics-listen", &metrics_listen],
        Stdio::piped(),
    )
    .await;
    // Held, never read.
    let _stderr = server.stderr.take().expect("stderr");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    // More access lines than the queue (16,384) and the pipe hold together.
    const CALLS: usize = 24_000;
    let answered = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        let mut calls = tokio::task::JoinSet::new();
        for worker in 0..16 {
            let mut client = GreeterClient::new(channel.clone());
            calls.spawn(async move {
                for n in 0..CALLS / 16 {
                    let name = format!("caller-{worker}-{n}");
                    client
                        .say_hello(HelloRequest { name })
                        .await
                        .expect("answered");
                }
            });
        }
        calls.join_all().await.len()
    })
    .await
    .expect("every call answered while stderr was full");
    assert_eq!(answered, 16);
    let metrics = reqwest::get(format!("http://{metrics_listen}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let dropped: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("log_lines_dropped "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no log_lines_dropped in {metrics}"));
    assert!(dropped > 0, "nothing dropped: the pipe never filled?");
    assert!(dropped < CALLS as u64, "dropped {dropped} of {CALLS}");
    server.kill().await.expect("stopped");
}

/// The server binary on 127.0.0.1:0 with its data in `data` and `args` (logging at `warn`
/// unless they say), its logs to `stderr`, and the address it printed.
async fn start(
    data: &std::path::Path,
    args: &[&str],
    stderr: Stdio,
) -> (tokio::process::Child, String) {
    start_with_env(data, args, &[], stderr).await
}

/// [`start`], with environment variables `env` set for the server.
async fn start_with_env(
    data: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stderr: Stdio,
) -> (tokio::process::Child, String) {
    let log = if args.contains(&"--log") {
        &[][..]
    } else {
        &["--log", "warn"][..]
    };
    let mut server = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data)
        .args(log)
        .args(args)
        // Not the developer's environment: only what this test sets.
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let mut stdout = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let address = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stdout.next_line().await.expect("readable") {
            if let Some(address) = line.strip_prefix("listening on ") {
                return address.to_owned();
            }
        }
        panic!("the server did not print its address");
    })
    .await
    .expect("in time");
    (server, address)
}

/// The peak resident memory of process `pid`, in MiB (Linux).
fn peak_resident_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .expect("VmHWM");
    kib / 1024
}

/// HalfDuplexCall holds every request until the client half-closes. 150 requests of 2 MiB
/// each, sent gzipped (a few KiB each on the wire), would hold 300 MiB once decompressed;
/// the server keeps only what answering needs, stays within a bound, and answers others.
#[tokio::test]
async fn a_half_duplex_call_of_gzipped_zeros_cannot_make_the_server_grow() {
    use std::io::Write as _;

    use bytes::Bytes;
    use http_body_util::{BodyExt, StreamBody};
    use hyper_util::{client::legacy::Client, rt::TokioExecutor};
    use prost::Message as _;
    use proto::grpc_testing::{Payload, StreamingOutputCallRequest};

    let data = tempfile::tempdir().expect("temp dir");
    let (server, address) = start(data.path(), &[], Stdio::null()).await;
    let pid = server.id().expect("running");
    let baseline = peak_resident_mib(pid);

    let request = StreamingOutputCallRequest {
        payload: Some(Payload {
            r#type: 0,
            body: vec![0; 2 * 1024 * 1024],
        }),
        ..Default::default()
    };
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&request.encode_to_vec()).expect("memory");
    let compressed = gzip.finish().expect("memory");
    let mut frame = vec![1];
    frame.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
    frame.extend_from_slice(&compressed);
    let frame = Bytes::from(frame);
    let frames = futures_util::stream::iter(
        (0..150).map(move |_| Ok::<_, std::io::Error>(http_body::Frame::data(frame.clone()))),
    );
    let attack = http::Request::post(format!(
        "http://{address}/grpc.testing.TestService/HalfDuplexCall"
    ))
    .header("content-type", "application/grpc")
    .header("grpc-encoding", "gzip")
    .header("te", "trailers")
    .body(StreamBody::new(frames))
    .expect("request");
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let response = tokio::time::timeout(PATIENCE * 3, client.request(attack))
        .await
        .expect("answered")
        .expect("an HTTP answer");
    let body = tokio::time::timeout(PATIENCE * 3, response.into_body().collect())
        .await
        .expect("the call ends")
        .expect("a body");
    let trailers = body.trailers().cloned().unwrap_or_default();
    assert!(
        trailers.contains_key("grpc-status"),
        "ended with a status: {trailers:?}"
    );

    let mut greeter = GreeterClient::connect(format!("http://{address}"))
        .await
        .expect("connects");
    greeter
        .say_hello(HelloRequest {
            name: "after".into(),
        })
        .await
        .expect("the server answers others");
    let peak = peak_resident_mib(pid);
    assert!(
        peak < baseline + 100,
        "peak resident memory {peak} MiB (from {baseline} MiB): bounded, not 300 MiB more"
    );
}

/// Nothing acknowledged is lost, and nothing half-written is visible: after a kill -9 in
/// the middle of two uploads, a restarted server has the file it had answered OK for,
/// lists neither cut upload, and the resumable one goes on from the offset the server
/// reports to a whole file with the right digest. On SQLite and on PostgreSQL.
async fn kill_mid_upload_then_resume(database_url: Option<&str>) {
    use proto::files::v1::{
        DownloadRequest, FileHeader, GetUploadRequest, ListFilesRequest, UploadRequest,
        file_service_client::FileServiceClient, upload_request::Part,
    };
    use sha2::{Digest, Sha256};
    use tokio_stream::wrappers::ReceiverStream;

    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec![];
    if let Some(url) = database_url {
        args.extend(["--database-url", url]);
    }
    let header = |name: &str, size: u64, upload_id: &str, offset: u64| UploadRequest {
        part: Some(Part::Header(FileHeader {
            name: name.into(),
            size,
            upload_id: upload_id.into(),
            offset,
            sha256: String::new(),
        })),
    };
    let chunk = |bytes: &[u8]| UploadRequest {
        part: Some(Part::Chunk(bytes.to_vec())),
    };
    let content: Vec<u8> = (0..3_500_000_u32).map(|n| (n * 31 % 253) as u8).collect();
    let digest: String = Sha256::digest(&content)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let id = "resume-test-0123456789";

    let (mut server, address) = start(dir.path(), &args, Stdio::null()).await;
    let mut files = FileServiceClient::connect(format!("http://{address}"))
        .await
        .expect("connects");
    let stored = files
        .upload(tokio_stream::iter([
            header("kept.txt", 5, "", 0),
            chunk(b"hello"),
        ]))
        .await
        .expect("acknowledged")
        .into_inner();

    // Two uploads cut off by a kill -9 after two of their 1 MiB chunks are committed: one
    // resumable, one not.
    let mut cut = Vec::new();
    for (name, upload_id) in [("big.bin", id), ("plain.bin", "")] {
        let (parts, receiver) = tokio::sync::mpsc::channel(8);
        parts
            .send(header(name, content.len() as u64, upload_id, 0))
            .await
            .expect("open");
        for piece in content[..2_500_000].chunks(500_000) {
            parts.send(chunk(piece)).await.expect("open");
        }
        let mut files = files.clone();
        cut.push((
            parts,
            tokio::spawn(async move { files.upload(ReceiverStream::new(receiver)).await }),
        ));
    }
    tokio::time::timeout(PATIENCE, async {
        loop {
            let status = files
                .get_upload(GetUploadRequest {
                    upload_id: id.into(),
                })
                .await;
            if status.is_ok_and(|status| status.into_inner().received >= 2 << 20) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the upload is under way");
    server.kill().await.expect("killed");
    for (parts, upload) in cut {
        assert!(upload.await.expect("joined").is_err(), "never acknowledged");
        drop(parts);
    }

    let (_server, address) = start(dir.path(), &args, Stdio::null()).await;
    let mut files = FileServiceClient::connect(format!("http://{address}"))
        .await
        .expect("connects");
    let listed = files
        .list_files(ListFilesRequest {})
        .await
        .expect("list")
        .into_inner()
        .files;
    assert_eq!(listed.len(), 1, "only the acknowledged file: {listed:?}");
    assert_eq!(
        (listed[0].name.as_str(), &listed[0].sha256),
        ("kept.txt", &stored.sha256)
    );

    // Where to resume: what the killed server had committed, whole chunks only.
    let status = files
        .get_upload(GetUploadRequest {
            upload_id: id.into(),
        })
        .await
        .expect("the upload waits to be resumed")
        .into_inner();
    assert_eq!(
        (status.name.as_str(), status.size),
        ("big.bin", content.len() as u64)
    );
    assert_eq!(status.received % (1 << 20), 0, "{status:?}");
    assert!(status.received >= 2 << 20, "{status:?}");
    // Resuming anywhere else is refused with the offset to use.
    let wrong = files
        .upload(tokio_stream::iter([header(
            "big.bin",
            content.len() as u64,
            id,
            7,
        )]))
        .await
        .expect_err("wrong offset");
    assert_eq!(wrong.code(), tonic::Code::FailedPrecondition);
    assert!(
        wrong
            .message()
            .contains(&format!("resume at offset {}", status.received)),
        "{}",
        wrong.message()
    );
    let from = usize::try_from(status.received).expect("small");
    let rest = std::iter::once(header("big.bin", content.len() as u64, id, status.received))
        .chain(content[from..].chunks(300_000).map(chunk));
    let finished = files
        .upload(tokio_stream::iter(rest.collect::<Vec<_>>()))
        .await
        .expect("the resumed upload completes")
        .into_inner();
    assert_eq!(finished.sha256, digest);
    assert_eq!(finished.size, content.len() as u64);
    let mut downloaded = Vec::new();
    let mut stream = files
        .download(DownloadRequest {
            name: "big.bin".into(),
        })
        .await
        .expect("download")
        .into_inner();
    while let Some(part) = stream.message().await.expect("no error") {
        downloaded.extend_from_slice(&part.chunk);
    }
    assert!(downloaded == content, "byte-exact");
}

#[tokio::test]
async fn a_kill_mid_upload_loses_nothing_acknowledged_and_the_upload_resumes_on_sqlite() {
    kill_mid_upload_then_resume(None).await;
}

#[tokio::test]
async fn a_kill_mid_upload_loses_nothing_acknowledged_and_the_upload_resumes_on_postgres() {
    let cluster = testkit::postgres::Postgres::start();
    kill_mid_upload_then_resume(Some(&cluster.database())).await;
}

/// Nothing acknowledged is lost by a kill -9 in the middle of a chat: posts keep coming on
/// several connections, the process is killed, and the restarted server has every message
/// it answered OK for, whole and with its id; a post it never answered may or may not be
/// there, but nothing is there twice. On SQLite (its file under --data-dir) and on
/// PostgreSQL.
async fn kill_mid_chat_loses_nothing_acknowledged(database_url: Option<&str>) {
    use proto::chat::v1::{
        PostRequest, SubscribeRequest, chat_event, chat_service_client::ChatServiceClient,
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["--state-changes-per-minute", "1000000"];
    if let Some(url) = database_url {
        args.extend(["--database-url", url]);
    }
    let (mut server, address) = start(dir.path(), &args, Stdio::null()).await;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut posters = Vec::new();
    for poster in 0..4 {
        let mut chat = ChatServiceClient::connect(format!("http://{address}"))
            .await
            .expect("connects");
        let acknowledged = std::sync::Arc::clone(&acknowledged);
        posters.push(tokio::spawn(async move {
            for n in 0.. {
                let text = format!("poster {poster} message {n}");
                let request = PostRequest {
                    room: "crash".into(),
                    author: format!("poster-{poster}"),
                    text: text.clone(),
                };
                match chat.post(request).await {
                    Ok(reply) => acknowledged
                        .lock()
                        .expect("not poisoned")
                        .push(reply.into_inner()),
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::timeout(PATIENCE, async {
        while acknowledged.lock().expect("not poisoned").len() < 200 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("posts are acknowledged");
    server.kill().await.expect("killed");
    for poster in posters {
        poster
            .await
            .expect("the poster stopped at the first refused post");
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().expect("not poisoned"));

    let (_server, address) = start(dir.path(), &args, Stdio::null()).await;
    let mut chat = ChatServiceClient::connect(format!("http://{address}"))
        .await
        .expect("connects");
    let mut stream = chat
        .subscribe(SubscribeRequest {
            room: "crash".into(),
            history: 0,
            after_id: Some(0),
        })
        .await
        .expect("subscribe")
        .into_inner();
    let last = acknowledged.iter().map(|m| m.id).max().expect("some");
    let mut stored = std::collections::BTreeMap::new();
    while stored.len() < usize::try_from(last).expect("small") {
        let event = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .expect("in time")
            .expect("no error")
            .expect("more");
        if let Some(chat_event::Event::Message(message)) = event.event {
            assert!(
                stored.insert(message.id, message.clone()).is_none(),
                "#{} twice",
                message.id
            );
        }
    }
    for message in &acknowledged {
        assert_eq!(
            stored.get(&message.id),
            Some(message),
            "acknowledged #{} kept as answered",
            message.id
        );
    }
}

#[tokio::test]
async fn a_kill_mid_chat_loses_nothing_acknowledged_on_sqlite() {
    kill_mid_chat_loses_nothing_acknowledged(None).await;
}

#[tokio::test]
async fn a_kill_mid_chat_loses_nothing_acknowledged_on_postgres() {
    let cluster = testkit::postgres::Postgres::start();
    kill_mid_chat_loses_nothing_acknowledged(Some(&cluster.database())).await;
}

/// The blog split across two servers on one PostgreSQL: one runs the author and post
/// services, the other the comment service, reaching posts at `--blog-peer`. A comment
/// added on the second checks its post on the first with the caller's request id and what
/// is left of its deadline (seen in the first's access log); with the first gone, the
/// caller gets UNAVAILABLE naming the post service.
#[tokio::test]
async fn the_blog_split_across_two_servers_carries_the_call_and_names_a_missing_service() {
    use proto::blog::v1::{
        AddCommentRequest, Comment, GetPostRequest, comment_service_client::CommentServiceClient,
        post_service_client::PostServiceClient,
    };
    use tonic::{Code, Request, transport::Channel};

    const TOKEN: &str = "split-deployment-token";
    let authorized = |mut request: Request<()>| {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {TOKEN}").parse().expect("ascii"),
        );
        Ok(request)
    };
    // Held to the end: dropping it stops both servers and the database.
    let mut blog = SplitBlog::start(&["--auth-token", TOKEN], [&[], &[]]).await;
    let connect = |address: &str| {
        Channel::from_shared(format!("http://{address}"))
            .expect("uri")
            .connect_lazy()
    };
    let (on_posts, on_comments) = (
        connect(&blog.posts_address),
        connect(&blog.comments_address),
    );

    let post = publish_a_post(on_posts.clone(), authorized, "Split").await;
    let not_here = PostServiceClient::new(on_comments.clone())
        .get_post(GetPostRequest {
            id: post.id.clone(),
        })
        .await
        .expect_err("the second server does not run the post service");
    assert_eq!(not_here.code(), Code::Unimplemented);

    let mut comments = CommentServiceClient::with_interceptor(on_comments, authorized);
    let add = |text: &str| {
        let mut request = Request::new(AddCommentRequest {
            post_id: post.id.clone(),
            comment: Some(Comment {
                author: "Grace".into(),
                text: text.into(),
                ..Default::default()
            }),
        });
        request
            .metadata_mut()
            .insert("x-request-id", "split-call-1".parse().expect("ascii"));
        request.set_timeout(std::time::Duration::from_secs(5));
        request
    };
    let added = comments.add_comment(add("across")).await.expect("added");
    assert_eq!(added.get_ref().id, 1);

    let mut stderr = BufReader::new(blog.posts_server.stderr.take().expect("stderr")).lines();
    let callee = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stderr.next_line().await.expect("readable") {
            let entry: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            if entry["target"] == "access"
                && entry["fields"]["method"] == "/blog.v1.PostService/GetPost"
                && entry["fields"]["request_id"] == "split-call-1"
            {
                return entry;
            }
        }
        panic!("the post service saw no GetPost with the caller's request id");
    })
    .await
    .expect("in time");
    let timeout_ms = callee["fields"]["timeout_ms"].as_u64().expect("a deadline");
    assert!(
        (1..=5000).contains(&timeout_ms),
        "what is left of the caller's 5 s: {timeout_ms} ms"
    );

    blog.posts_server.kill().await.expect("killed");
    let down = comments
        .add_comment(add("after"))
        .await
        .expect_err("the post service is gone");
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    assert!(
        down.message().contains("the post service"),
        "names the service: {}",
        down.message()
    );
    blog.comments_server.kill().await.expect("killed");
}

/// Traces across services: the blog split over two servers, both exporting to an OTLP
/// collector (a real OTLP/gRPC trace service, run by the test). A comment added on the
/// second with the caller's `traceparent` makes one trace: the comment call's span is the
/// caller's child, the post check it makes on the first server is that span's child, each
/// exported by its own server, and the first server's access log names the trace.
#[tokio::test]
async fn one_trace_spans_the_blog_across_two_servers_and_reaches_the_collector() {
    use opentelemetry_proto::tonic::{
        collector::trace::v1::trace_service_server::TraceServiceServer, trace::v1::Span,
    };
    use proto::blog::v1::{
        AddCommentRequest, Comment, comment_service_client::CommentServiceClient,
    };
    use tonic::{Request, transport::Channel};

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER_SPAN: &str = "00f067aa0ba902b7";

    let (collector, mut spans) = Collector::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let collector_url = format!("http://{}", listener.local_addr().expect("address"));
    let collecting = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    // Batches sent every 100 ms instead of every 5 s.
    let exporting = |name: &'static str| {
        [
            ("OTEL_SERVICE_NAME", name),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ]
    };
    // Held to the end: dropping it stops both servers and the database.
    let mut blog = SplitBlog::start(
        &["--otlp-endpoint", &collector_url],
        [&exporting("blog-posts"), &exporting("blog-comments")],
    )
    .await;
    let connect = |address: &str| {
        Channel::from_shared(format!("http://{address}"))
            .expect("uri")
            .connect_lazy()
    };
    let on_posts = connect(&blog.posts_address);
    let post = publish_a_post(on_posts, Ok, "Traced").await;

    let mut request = Request::new(AddCommentRequest {
        post_id: post.id.clone(),
        comment: Some(Comment {
            author: "Grace".into(),
            text: "traced".into(),
            ..Default::default()
        }),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE}-{CALLER_SPAN}-01")
            .parse()
            .expect("ascii"),
    );
    CommentServiceClient::new(connect(&blog.comments_address))
        .add_comment(request)
        .await
        .expect("added");

    // The trace's spans, as the two servers export them.
    let mut traced: Vec<(String, Span)> = Vec::new();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let find = |traced: &[(String, Span)], service: &str, name: &str| {
        traced
            .iter()
            .find(|(from, span)| from == service && span.name == name)
            .map(|(_, span)| span.clone())
    };
    let (comment_span, check_span) = tokio::time::timeout(PATIENCE, async {
        loop {
            let (service, span) = spans.recv().await.expect("the collector runs");
            if hex(&span.trace_id) == TRACE {
                traced.push((service, span));
            }
            if let (Some(comment), Some(check)) = (
                find(
                    &traced,
                    "blog-comments",
                    "blog.v1.CommentService/AddComment",
                ),
                find(&traced, "blog-posts", "blog.v1.PostService/GetPost"),
            ) {
                return (comment, check);
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("not both spans of the trace in time: {traced:?}"));
    assert_eq!(
        hex(&comment_span.parent_span_id),
        CALLER_SPAN,
        "the caller's child"
    );
    assert_eq!(
        check_span.parent_span_id, comment_span.span_id,
        "the post check is the comment call's child, across the two servers"
    );
    // SPAN_KIND_SERVER, and the gRPC code as the span's attribute.
    assert_eq!(comment_span.kind, 2);
    let code = comment_span
        .attributes
        .iter()
        .find(|attribute| attribute.key == "rpc.grpc.status_code")
        .and_then(|attribute| attribute.value.clone())
        .and_then(|value| value.value);
    assert_eq!(
        code,
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(0)),
        "{comment_span:?}"
    );

    let mut stderr = BufReader::new(blog.posts_server.stderr.take().expect("stderr")).lines();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stderr.next_line().await.expect("readable") {
            let entry: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            if entry["target"] == "access"
                && entry["fields"]["method"] == "/blog.v1.PostService/GetPost"
            {
                assert_eq!(entry["fields"]["trace_id"], TRACE, "{line}");
                return;
            }
        }
        panic!("no GetPost in the post server's access log");
    })
    .await
    .expect("in time");

    blog.posts_server.kill().await.expect("killed");
    blog.comments_server.kill().await.expect("killed");
    collecting.abort();
}

/// The blog split over two servers on one throw-away PostgreSQL: authors and posts on the
/// first (JSON access lines at `info` on its piped stderr), comments on the second, which
/// reaches the first as its `--blog-peer`. `args` go to both, `env[0]` and `env[1]` to
/// each. Dropping it stops both servers and the database.
struct SplitBlog {
    posts_server: tokio::process::Child,
    posts_address: String,
    comments_server: tokio::process::Child,
    comments_address: String,
    _data: [tempfile::TempDir; 2],
    _cluster: testkit::postgres::Postgres,
}

impl SplitBlog {
    async fn start(args: &[&str], env: [&[(&str, &str)]; 2]) -> Self {
        let cluster = testkit::postgres::Postgres::start();
        let url = cluster.database();
        let data = [(); 2].map(|()| tempfile::tempdir().expect("dir"));
        let with = |own: &[&str]| -> Vec<String> {
            ["--database-url", &url]
                .iter()
                .chain(own)
                .chain(args)
                .map(|arg| (*arg).to_owned())
                .collect()
        };
        let posts_args = with(&[
            "--services",
            "authors,posts",
            "--log-format",
            "json",
            "--log",
            "info",
        ]);
        let (posts_server, posts_address) = start_with_env(
            data[0].path(),
            &posts_args.iter().map(String::as_str).collect::<Vec<_>>(),
            env[0],
            Stdio::piped(),
        )
        .await;
        let peer = format!("http://{posts_address}");
        let comments_args = with(&["--services", "comments", "--blog-peer", &peer]);
        let (comments_server, comments_address) = start_with_env(
            data[1].path(),
            &comments_args.iter().map(String::as_str).collect::<Vec<_>>(),
            env[1],
            Stdio::null(),
        )
        .await;
        Self {
            posts_server,
            posts_address,
            comments_server,
            comments_address,
            _data: data,
            _cluster: cluster,
        }
    }
}

/// A published post titled `title`, by a new author, made through the author and post
/// services at `on_posts` with `interceptor` on each call.
async fn publish_a_post<I>(
    on_posts: tonic::transport::Channel,
    interceptor: I,
    title: &str,
) -> proto::blog::v1::Post
where
    I: tonic::service::Interceptor + Clone,
{
    use proto::blog::v1::{
        Author, CreateAuthorRequest, CreatePostRequest, Post, PublishPostRequest,
        author_service_client::AuthorServiceClient, post_service_client::PostServiceClient,
    };
    let author = AuthorServiceClient::with_interceptor(on_posts.clone(), interceptor.clone())
        .create_author(CreateAuthorRequest {
            author: Some(Author {
                display_name: "Ada".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("author")
        .into_inner();
    let mut posts = PostServiceClient::with_interceptor(on_posts, interceptor);
    let draft = posts
        .create_post(CreatePostRequest {
            post: Some(Post {
                author_id: author.id,
                title: title.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("post")
        .into_inner();
    posts
        .publish_post(PublishPostRequest {
            id: draft.id.clone(),
            etag: draft.etag,
        })
        .await
        .expect("publish")
        .into_inner()
}

/// An OTLP/gRPC trace collector: every span it is sent, with the service that sent it.
#[derive(Debug)]
struct Collector {
    spans:
        tokio::sync::mpsc::UnboundedSender<(String, opentelemetry_proto::tonic::trace::v1::Span)>,
}

impl Collector {
    fn new() -> (
        Self,
        tokio::sync::mpsc::UnboundedReceiver<(String, opentelemetry_proto::tonic::trace::v1::Span)>,
    ) {
        let (spans, received) = tokio::sync::mpsc::unbounded_channel();
        (Self { spans }, received)
    }
}

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService
    for Collector
{
    async fn export(
        &self,
        request: tonic::Request<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse,
        >,
        tonic::Status,
    > {
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
                .map(|value| match value {
                    opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(name) => {
                        name.clone()
                    }
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    let _ = self.spans.send((service.clone(), span));
                }
            }
        }
        Ok(tonic::Response::new(Default::default()))
    }
}

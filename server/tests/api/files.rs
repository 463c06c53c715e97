//! `files.v1.FileService`: uploads (client streaming) that appear whole or not at all,
//! listing, download (server streaming), the token on Upload, and internal faults that
//! reach the log but not the client.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use proto::files::v1::{
    DownloadRequest, FileHeader, ListFilesRequest, UploadRequest,
    file_service_client::FileServiceClient, upload_request,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request};

use crate::helpers::{PATIENCE, over_both_transports, spawn_app_with};

const TOKEN: &str = "files-test-token";

/// A fresh data directory for one test's database, under Cargo's scratch space for tests.
fn scratch_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("data-{}", uuid::Uuid::new_v4()))
}

/// The test's own connection to the server's SQLite database in `dir`.
async fn database(dir: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("app.db").display()))
        .await
        .expect("the server's database")
}

fn header(name: &str, size: u64) -> UploadRequest {
    UploadRequest {
        part: Some(upload_request::Part::Header(FileHeader {
            name: name.into(),
            size,
            ..Default::default()
        })),
    }
}

fn chunk(bytes: &[u8]) -> UploadRequest {
    UploadRequest {
        part: Some(upload_request::Part::Chunk(bytes.to_vec())),
    }
}

/// An upload of `content` in `pieces` chunks, as one finite client stream.
fn upload_of(name: &str, content: &[u8], pieces: usize) -> Vec<UploadRequest> {
    let size = content.len().div_ceil(pieces).max(1);
    std::iter::once(header(name, content.len() as u64))
        .chain(content.chunks(size).map(chunk))
        .collect()
}

fn hex_sha256(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

over_both_transports! {
    async fn an_upload_is_listed_and_downloads_byte_for_byte(app, channel)
    {
        let mut client = FileServiceClient::with_origin(channel, app.uri());
        let content: Vec<u8> = (0..300_000_u32).map(|n| (n * 7 % 251) as u8).collect();
        let stored = client
            .upload(tokio_stream::iter(upload_of("data.bin", &content, 3)))
            .await
            .expect("upload")
            .into_inner();
        assert_eq!((stored.name.as_str(), stored.size), ("data.bin", 300_000));
        assert_eq!(stored.sha256, hex_sha256(&content));

        let listed = client.list_files(ListFilesRequest {}).await.expect("list").into_inner();
        assert_eq!(listed.files.len(), 1);
        assert_eq!(listed.files[0].sha256, stored.sha256);

        let mut chunks = client
            .download(DownloadRequest { name: "data.bin".into() })
            .await
            .expect("download")
            .into_inner();
        let mut downloaded = Vec::new();
        let mut messages = 0;
        while let Some(part) = chunks.message().await.expect("no error") {
            assert!(part.chunk.len() <= 64 * 1024);
            downloaded.extend_from_slice(&part.chunk);
            messages += 1;
        }
        assert_eq!(downloaded, content);
        assert!(messages >= 5, "streamed in pieces, got {messages}");
    }
}

over_both_transports! {
    async fn bad_uploads_get_the_right_status(app, channel)
    configured |config| config.upload_max_mib = 1;
    {
        let mut client = FileServiceClient::with_origin(channel, app.uri());
        let mut refused = async |parts: Vec<UploadRequest>| {
            client.upload(tokio_stream::iter(parts)).await.expect_err("refused")
        };

        let status = refused(vec![chunk(b"no header")]).await;
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with("header: "), "{}", status.message());

        let status = refused(vec![header("short", 10), chunk(b"12345")]).await;
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "size: declared 10 bytes, but the upload ended after 5");

        let status = refused(vec![header("long", 2), chunk(b"1"), chunk(b"23")]).await;
        assert_eq!(
            status.message(),
            "chunk: more bytes than the declared size of 2 (3 so far) (message 3)"
        );

        let status = refused(vec![header("../escape", 1), chunk(b"1")]).await;
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with("name: "), "{}", status.message());

        let status = refused(vec![header("huge", 2 * 1024 * 1024)]).await;
        assert_eq!(status.code(), Code::ResourceExhausted);

        client
            .upload(tokio_stream::iter(upload_of("once", b"x", 1)))
            .await
            .expect("first upload");
        let status = client
            .upload(tokio_stream::iter(upload_of("once", b"y", 1)))
            .await
            .expect_err("name taken");
        assert_eq!(status.code(), Code::AlreadyExists);

        let status = client
            .download(DownloadRequest { name: "missing".into() })
            .await
            .expect_err("no such file");
        assert_eq!(status.code(), Code::NotFound);

        // Only the one good upload is there; nothing half-written is listed.
        let listed = client.list_files(ListFilesRequest {}).await.expect("list").into_inner();
        let names: Vec<_> = listed.files.iter().map(|file| file.name.as_str()).collect();
        assert_eq!(names, ["once"]);
    }
}

over_both_transports! {
    async fn uploading_needs_the_token_and_reading_does_not(app, channel)
    configured |config| config.auth_token = Some(TOKEN.into());
    {
        let mut client = FileServiceClient::with_origin(channel, app.uri());
        let status = client
            .upload(tokio_stream::iter(upload_of("f", b"abc", 1)))
            .await
            .expect_err("no token");
        assert_eq!(status.code(), Code::Unauthenticated);

        let mut request = Request::new(tokio_stream::iter(upload_of("f", b"abc", 1)));
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {TOKEN}").parse().expect("ascii"));
        client.upload(request).await.expect("with the token");

        let listed = client.list_files(ListFilesRequest {}).await.expect("open").into_inner();
        assert_eq!(listed.files.len(), 1);
    }
}

/// Everything the server logs while it lives, for reading back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// What this test binary's servers log, from now on. The subscriber is the global one:
    /// tracing caches per call site whether anyone listens, and a thread-local subscriber
    /// can miss what other tests' threads made it cache.
    fn global() -> &'static Captured {
        static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
        LOG.get_or_init(|| {
            let log = Captured::default();
            let writer = log.clone();
            tracing::subscriber::set_global_default(
                tracing_subscriber::fmt()
                    .with_writer(move || writer.clone())
                    .with_ansi(false)
                    .finish(),
            )
            .expect("no other global subscriber in this test binary");
            log
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }

    /// The first line with every one of `parts`, waited for: an access line is written as
    /// its call's response ends, after the client has the answer.
    async fn line_with(&self, parts: &[&str]) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let logged = self.text();
            if let Some(line) = logged
                .lines()
                .find(|line| parts.iter().all(|part| line.contains(part)))
            {
                return line.to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no line with {parts:?}:\n{logged}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_call_s_access_line_names_its_peer() {
    let log = Captured::global();
    let app = spawn_app_with(|_| {}).await;
    let mut client = FileServiceClient::new(app.native_channel().await);
    let mut request = Request::new(ListFilesRequest {});
    request
        .metadata_mut()
        .insert("x-request-id", "peer-7".parse().expect("ascii"));
    client.list_files(request).await.expect("listed");

    let line = log.line_with(&[" access: ", "request_id=peer-7"]).await;
    assert!(line.contains("code=OK"), "{line}");
    assert!(line.contains(" peer=127.0.0.1:"), "{line}");
}

#[tokio::test]
async fn an_internal_fault_is_generic_for_the_client_and_whole_in_the_log() {
    let log = Captured::global();

    // The files table is gone from under the server (a botched manual change, say).
    let dir = scratch_dir();
    let app = spawn_app_with(|config| config.data_dir = dir.clone()).await;
    sqlx::query("DROP TABLE files")
        .execute(&database(&dir).await)
        .await
        .expect("dropped");
    let mut client = FileServiceClient::new(app.native_channel().await);

    let mut request = Request::new(ListFilesRequest {});
    request
        .metadata_mut()
        .insert("x-request-id", "fault-42".parse().expect("ascii"));
    let status = client
        .list_files(request)
        .await
        .expect_err("the server's fault");
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(
        status.message(),
        "internal error; the server logged the cause"
    );
    assert!(!status.message().contains("files"));

    let logged = log.text();
    let line = logged
        .lines()
        .find(|line| line.contains("internal error") && line.contains("fault-42"))
        .unwrap_or_else(|| panic!("no internal error logged:\n{logged}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("request_id=fault-42"), "{line}");
    assert!(
        line.contains("no such table: files"),
        "the whole cause: {line}"
    );

    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_client_that_leaves_mid_upload_leaves_nothing_behind() {
    let dir = scratch_dir();
    let app = spawn_app_with(|config| config.data_dir = dir.clone()).await;
    let mut client = FileServiceClient::new(app.native_channel().await);
    let (parts, receiver) = mpsc::channel(4);
    parts
        .send(header("partial.bin", 2 << 20))
        .await
        .expect("open");
    // More than one stored chunk (1 MiB), so some of it is committed before the client
    // leaves.
    for _ in 0..3 {
        parts.send(chunk(&[1; 512 * 1024])).await.expect("open");
    }
    let call = tokio::spawn(async move { client.upload(ReceiverStream::new(receiver)).await });

    let pool = database(&dir).await;
    let count = |table: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    // The server has committed part of it.
    tokio::time::timeout(PATIENCE, async {
        while count("file_chunks").await == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the upload reaches the store");

    // The client goes away mid-upload (its call, and stream, dropped).
    call.abort();
    drop(parts);
    tokio::time::timeout(PATIENCE, async {
        while count("file_chunks").await + count("uploads").await > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("what it had sent is removed: it was not resumable");
    assert_eq!(count("files").await, 0, "nothing listed");
    drop(app);
    let _ = std::fs::remove_dir_all(dir);
}

//! Files on the store, on both engines: whole or not at all, never clobbered, the right
//! digest, kept across a restart, and what resumable uploads promise; on PostgreSQL, every
//! replica serves what another stored.

use std::time::Duration;

use proto::files::v1::{
    DownloadRequest, FileHeader, GetUploadRequest, ListFilesRequest, UploadRequest,
    file_service_client::FileServiceClient, upload_request::Part,
};
use sha2::{Digest, Sha256};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, transport::Channel};

use crate::{Database, on_both_engines};

on_both_engines!(
    a_file_survives_a_restart_byte_for_byte,
    two_uploads_of_one_name_never_clobber_each_other,
    a_digest_that_does_not_match_stores_nothing,
    two_calls_cannot_write_one_upload_at_once,
    an_unfinished_resumable_upload_expires,
);

fn header(name: &str, size: u64) -> FileHeader {
    FileHeader {
        name: name.into(),
        size,
        ..Default::default()
    }
}

fn parts(header: FileHeader, content: &[u8], piece: usize) -> Vec<UploadRequest> {
    std::iter::once(UploadRequest {
        part: Some(Part::Header(header)),
    })
    .chain(content.chunks(piece).map(|chunk| UploadRequest {
        part: Some(Part::Chunk(chunk.to_vec())),
    }))
    .collect()
}

fn content(size: usize, seed: u32) -> Vec<u8> {
    (0..size as u32)
        .map(|n| (n.wrapping_mul(seed) % 251) as u8)
        .collect()
}

fn hex_sha256(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

async fn download(client: &mut FileServiceClient<Channel>, name: &str) -> Vec<u8> {
    let mut stream = client
        .download(DownloadRequest { name: name.into() })
        .await
        .expect("download")
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(part) = stream.message().await.expect("no error") {
        assert!(part.chunk.len() <= 64 * 1024);
        bytes.extend_from_slice(&part.chunk);
    }
    bytes
}

async fn a_file_survives_a_restart_byte_for_byte(database: Database) {
    // Over several stored chunks, not a multiple of one.
    let bytes = content(2_600_000, 7);
    let app = database.server().await;
    let mut files = FileServiceClient::new(app.native_channel().await);
    let stored = files
        .upload(tokio_stream::iter(parts(
            header("data.bin", bytes.len() as u64),
            &bytes,
            300_000,
        )))
        .await
        .expect("upload")
        .into_inner();
    assert_eq!(stored.sha256, hex_sha256(&bytes));
    app.shutdown().await.expect("clean exit");

    let app = database.server().await;
    let mut files = FileServiceClient::new(app.native_channel().await);
    let listed = files
        .list_files(ListFilesRequest {})
        .await
        .expect("list")
        .into_inner()
        .files;
    assert_eq!(listed, [stored]);
    assert!(
        download(&mut files, "data.bin").await == bytes,
        "byte-exact"
    );
}

async fn two_uploads_of_one_name_never_clobber_each_other(database: Database) {
    let app = database.server().await;
    let channel = app.native_channel().await;
    let (first, second) = (content(1_500_000, 3), content(1_500_000, 5));
    // Both begin before either finishes.
    let mut senders = Vec::new();
    let mut calls = Vec::new();
    for bytes in [&first, &second] {
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        for part in parts(header("same.bin", bytes.len() as u64), bytes, 500_000) {
            sender.send(part).await.expect("open");
        }
        let mut files = FileServiceClient::new(channel.clone());
        calls.push(tokio::spawn(async move {
            files.upload(ReceiverStream::new(receiver)).await
        }));
        senders.push(sender);
    }
    drop(senders);
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.expect("joined"));
    }
    let won: Vec<_> = outcomes.iter().filter(|outcome| outcome.is_ok()).collect();
    assert_eq!(won.len(), 1, "one wins: {outcomes:?}");
    let lost = outcomes
        .iter()
        .find_map(|outcome| outcome.as_ref().err())
        .expect("one lost");
    assert_eq!(lost.code(), Code::AlreadyExists, "{lost:?}");
    let winner = won[0].as_ref().expect("ok").get_ref();
    let expected = if winner.sha256 == hex_sha256(&first) {
        &first
    } else {
        &second
    };
    assert_eq!(winner.sha256, hex_sha256(expected));
    let mut files = FileServiceClient::new(channel);
    assert!(
        download(&mut files, "same.bin").await == *expected,
        "the winner's bytes, whole"
    );
}

async fn a_digest_that_does_not_match_stores_nothing(database: Database) {
    let app = database.server().await;
    let mut files = FileServiceClient::new(app.native_channel().await);
    let bytes = content(10_000, 11);
    let mut wrong = header("checked.bin", bytes.len() as u64);
    wrong.sha256 = hex_sha256(b"something else");
    let refused = files
        .upload(tokio_stream::iter(parts(wrong, &bytes, 4096)))
        .await
        .expect_err("digest mismatch");
    assert_eq!(refused.code(), Code::DataLoss, "{refused:?}");
    assert!(
        refused.message().contains(&hex_sha256(&bytes)),
        "{}",
        refused.message()
    );
    assert!(
        files
            .list_files(ListFilesRequest {})
            .await
            .expect("list")
            .into_inner()
            .files
            .is_empty()
    );
    // The right digest is accepted.
    let mut right = header("checked.bin", bytes.len() as u64);
    right.sha256 = hex_sha256(&bytes);
    files
        .upload(tokio_stream::iter(parts(right, &bytes, 4096)))
        .await
        .expect("matching digest");
}

async fn two_calls_cannot_write_one_upload_at_once(database: Database) {
    let app = database.server().await;
    let channel = app.native_channel().await;
    let bytes = content(3_000_000, 13);
    let mut resumable = header("shared.bin", bytes.len() as u64);
    resumable.upload_id = "two-calls-0123456789".into();
    // The first call commits its first MiB and stalls.
    let (first, receiver) = tokio::sync::mpsc::channel(8);
    for part in parts(resumable.clone(), &bytes[..1_200_000], 600_000) {
        first.send(part).await.expect("open");
    }
    let mut files = FileServiceClient::new(channel.clone());
    let stalled = tokio::spawn(async move { files.upload(ReceiverStream::new(receiver)).await });
    let mut files = FileServiceClient::new(channel.clone());
    let received = tokio::time::timeout(testkit::PATIENCE, async {
        loop {
            if let Ok(status) = files
                .get_upload(GetUploadRequest {
                    upload_id: resumable.upload_id.clone(),
                })
                .await
                && status.get_ref().received > 0
            {
                return status.into_inner().received;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the first call commits");
    assert_eq!(received, 1 << 20);

    // A second call resumes from there and finishes the file...
    let mut second = resumable.clone();
    second.offset = received;
    let finished = files
        .upload(tokio_stream::iter(parts(
            second,
            &bytes[1 << 20..],
            500_000,
        )))
        .await
        .expect("the second call completes the upload")
        .into_inner();
    assert_eq!(finished.sha256, hex_sha256(&bytes));
    // ...so the first one's next commit is refused instead of writing over it.
    for part in parts(resumable, &bytes[1_200_000..], 900_000)
        .into_iter()
        .skip(1)
    {
        if first.send(part).await.is_err() {
            break;
        }
    }
    drop(first);
    let refused = stalled
        .await
        .expect("joined")
        .expect_err("the stale call loses");
    assert_eq!(refused.code(), Code::Aborted, "{refused:?}");
    assert!(
        download(&mut files, "shared.bin").await == bytes,
        "whole and right"
    );
}

async fn an_unfinished_resumable_upload_expires(database: Database) {
    let app = database
        .server_with(|config| config.upload_expiry = Duration::from_secs(1))
        .await;
    let mut files = FileServiceClient::new(app.native_channel().await);
    let bytes = content(1_100_000, 17);
    let mut resumable = header("later.bin", 5_000_000);
    resumable.upload_id = "expiring-0123456789".into();
    // The call ends early (its stream is finite and short): refused, but kept to resume.
    let short = files
        .upload(tokio_stream::iter(parts(
            resumable.clone(),
            &bytes,
            1 << 20,
        )))
        .await
        .expect_err("short");
    assert_eq!(short.code(), Code::InvalidArgument);
    let status = files
        .get_upload(GetUploadRequest {
            upload_id: resumable.upload_id.clone(),
        })
        .await
        .expect("kept")
        .into_inner();
    assert_eq!(status.received, 1 << 20, "whole chunks are kept");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The next upload to begin sweeps it away.
    files
        .upload(tokio_stream::iter(parts(header("other.bin", 3), b"abc", 3)))
        .await
        .expect("upload");
    let gone = files
        .get_upload(GetUploadRequest {
            upload_id: resumable.upload_id,
        })
        .await
        .expect_err("expired");
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn an_upload_on_one_replica_is_listed_and_served_by_another() {
    let database = Database::postgres();
    let (a, b) = (database.server().await, database.server().await);
    let bytes = content(2_200_000, 19);
    let mut on_a = FileServiceClient::new(a.native_channel().await);
    let stored = on_a
        .upload(tokio_stream::iter(parts(
            header("shared.bin", bytes.len() as u64),
            &bytes,
            256 * 1024,
        )))
        .await
        .expect("upload on A")
        .into_inner();
    let mut on_b = FileServiceClient::new(b.native_channel().await);
    let listed = on_b
        .list_files(ListFilesRequest {})
        .await
        .expect("list on B")
        .into_inner()
        .files;
    assert_eq!(listed, [stored]);
    assert!(
        download(&mut on_b, "shared.bin").await == bytes,
        "byte-equal on B"
    );
    // Resumed on B what began on A.
    let mut resumable = header("moved.bin", bytes.len() as u64);
    resumable.upload_id = "across-replicas-0123".into();
    on_a.upload(tokio_stream::iter(parts(
        resumable.clone(),
        &bytes[..1 << 20],
        1 << 20,
    )))
    .await
    .expect_err("short on A");
    resumable.offset = 1 << 20;
    let finished = on_b
        .upload(tokio_stream::iter(parts(
            resumable,
            &bytes[1 << 20..],
            1 << 20,
        )))
        .await
        .expect("finished on B")
        .into_inner();
    assert_eq!(finished.sha256, hex_sha256(&bytes));
}

//! The files commands: upload (client streaming, sent as the file is read; resumable with
//! `--resume`), list, and download (server streaming, written as it arrives, never over an
//! existing file).

use std::{
    path::Path,
    pin::Pin,
    sync::{Arc, Mutex},
};

use futures_util::{Stream, StreamExt};
use proto::files::v1::{
    DownloadRequest, FileHeader, FileInfo, GetUploadRequest, ListFilesRequest, UploadRequest,
    file_service_client::FileServiceClient, upload_request,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;
use tonic::{Code, Status, Streaming};

use super::{Calls, GZIP};
use crate::args::FilesCommand;

impl Calls {
    pub(super) async fn files(&self, command: FilesCommand) -> Result<(), Status> {
        let mut client = FileServiceClient::new(self.transport.clone()).accept_compressed(GZIP);
        match command {
            FilesCommand::Upload {
                file,
                name,
                resume: true,
            } => {
                let stored = self.resumable_upload(&mut client, &file, name).await?;
                self.printer.reply("files.v1.FileInfo", &stored, |f| {
                    format!("stored {} ({} bytes, sha256 {})", f.name, f.size, f.sha256)
                });
            }
            FilesCommand::Upload {
                file,
                name,
                resume: false,
            } => {
                let (parts, read_error) = upload_parts(&file, name, None).await?;
                let outcome = client.upload(parts).await;
                // A file that could not be read to the end: that, not the server's view of a
                // short upload, is the error to report.
                if let Some(error) = read_error.lock().ok().and_then(|mut slot| slot.take()) {
                    return Err(Status::aborted(format!(
                        "cannot read {}: {error}; the server kept nothing",
                        file.display()
                    )));
                }
                let stored = self.unary(outcome?);
                self.printer.reply("files.v1.FileInfo", &stored, |f| {
                    format!("stored {} ({} bytes, sha256 {})", f.name, f.size, f.sha256)
                });
            }
            FilesCommand::List => {
                let listed = self.unary(client.list_files(ListFilesRequest {}).await?);
                self.printer
                    .reply("files.v1.ListFilesResponse", &listed, |listed| {
                        listed
                            .files
                            .iter()
                            .map(|f: &FileInfo| format!("{:>12}  {}  {}", f.size, f.sha256, f.name))
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
            }
            FilesCommand::Download { name, to } => {
                let to = to.unwrap_or_else(|| name.clone().into());
                let mut chunks = self.streaming(client.download(DownloadRequest { name }).await?);
                let written = if to.as_os_str() == "-" {
                    let mut stdout = tokio::io::stdout();
                    while let Some(part) = chunks.message().await? {
                        stdout
                            .write_all(&part.chunk)
                            .await
                            .map_err(|e| local_io("stdout", e))?;
                    }
                    stdout.flush().await.map_err(|e| local_io("stdout", e))?;
                    None
                } else {
                    Some(download_to(&mut chunks, &to).await?)
                };
                self.finished(&mut chunks).await?;
                if let Some(written) = written {
                    eprintln!("saved {} ({written} bytes)", to.display());
                }
            }
        }
        Ok(())
    }
}

impl Calls {
    /// `files upload --resume`: asks the server how much of this upload it has, sends the
    /// rest, and on a broken stream asks again and goes on (5 times at most).
    async fn resumable_upload(
        &self,
        client: &mut FileServiceClient<super::Transport>,
        path: &Path,
        name: Option<String>,
    ) -> Result<FileInfo, Status> {
        let digest = file_digest(path).await?;
        let name = name_of(path, name)?;
        let upload_id = upload_id(&name, &digest);
        let mut backoff = std::time::Duration::from_millis(500);
        let mut attempts = 0;
        loop {
            let offset = match client
                .get_upload(GetUploadRequest {
                    upload_id: upload_id.clone(),
                })
                .await
            {
                Ok(status) => status.into_inner().received,
                Err(status) if status.code() == Code::NotFound => 0,
                Err(status) => return Err(status),
            };
            if offset > 0 {
                eprintln!("resuming {name} at byte {offset}");
            }
            let resume = Resume {
                upload_id: upload_id.clone(),
                offset,
                sha256: digest.clone(),
            };
            let (parts, read_error) = upload_parts(path, Some(name.clone()), Some(resume)).await?;
            let outcome = client.upload(parts).await;
            if let Some(error) = read_error.lock().ok().and_then(|mut slot| slot.take()) {
                return Err(Status::aborted(format!(
                    "cannot read {}: {error}; run the command again to resume",
                    path.display()
                )));
            }
            match outcome {
                Ok(stored) => return Ok(self.unary(stored)),
                // A broken connection (UNAVAILABLE, or UNKNOWN for a transport error), the
                // server ending the call, or another call on the upload: ask again.
                Err(status)
                    if attempts < 5
                        && matches!(
                            status.code(),
                            Code::Unavailable
                                | Code::Unknown
                                | Code::Cancelled
                                | Code::Aborted
                                | Code::FailedPrecondition
                        ) =>
                {
                    attempts += 1;
                    eprintln!(
                        "the upload broke ({}); resuming in {backoff:?}",
                        status.message()
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
                }
                Err(status) => return Err(status),
            }
        }
    }
}

/// A resumable upload's id: the same for the same name and content, on every run.
fn upload_id(name: &str, digest: &str) -> String {
    let key = Sha256::digest(format!("{name}\0{digest}").as_bytes());
    let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("cli-{}", &hex[..40])
}

/// The lowercase hex SHA-256 of the file at `path`.
async fn file_digest(path: &Path) -> Result<String, Status> {
    let cannot = |error: std::io::Error| {
        Status::invalid_argument(format!("cannot read {}: {error}", path.display()))
    };
    let file = tokio::fs::File::open(path).await.map_err(cannot)?;
    let mut hasher = Sha256::new();
    let mut chunks = ReaderStream::with_capacity(file, UPLOAD_CHUNK_BYTES);
    while let Some(chunk) = chunks.next().await {
        hasher.update(chunk.map_err(cannot)?);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

fn name_of(path: &Path, name: Option<String>) -> Result<String, Status> {
    match name {
        Some(name) => Ok(name),
        None => path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| Status::invalid_argument(format!("{} is not a file", path.display()))),
    }
}

/// Where a resumable upload goes on.
struct Resume {
    upload_id: String,
    offset: u64,
    sha256: String,
}

/// Bytes per upload message (the server takes up to 1 MiB).
const UPLOAD_CHUNK_BYTES: usize = 256 * 1024;

type Parts = Pin<Box<dyn Stream<Item = UploadRequest> + Send>>;
type ReadError = Arc<Mutex<Option<std::io::Error>>>;

/// An upload of `path` as it is read (from `resume`'s offset when resuming): the header,
/// then chunks. A read error ends the stream early (so the server refuses the short
/// upload) and is kept for the caller.
async fn upload_parts(
    path: &Path,
    name: Option<String>,
    resume: Option<Resume>,
) -> Result<(Parts, ReadError), Status> {
    let cannot = |error: std::io::Error| {
        Status::invalid_argument(format!("cannot read {}: {error}", path.display()))
    };
    let mut file = tokio::fs::File::open(path).await.map_err(cannot)?;
    let size = file.metadata().await.map_err(cannot)?.len();
    let name = name_of(path, name)?;
    let mut header = FileHeader {
        name,
        size,
        ..Default::default()
    };
    if let Some(resume) = resume {
        file.seek(std::io::SeekFrom::Start(resume.offset))
            .await
            .map_err(cannot)?;
        header.upload_id = resume.upload_id;
        header.offset = resume.offset;
        header.sha256 = resume.sha256;
    }
    let header = UploadRequest {
        part: Some(upload_request::Part::Header(header)),
    };
    let read_error = ReadError::default();
    let slot = Arc::clone(&read_error);
    let chunks = ReaderStream::with_capacity(file, UPLOAD_CHUNK_BYTES).scan((), move |(), read| {
        std::future::ready(match read {
            Ok(chunk) => Some(UploadRequest {
                part: Some(upload_request::Part::Chunk(chunk.to_vec())),
            }),
            Err(error) => {
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(error);
                }
                None
            }
        })
    });
    Ok((
        Box::pin(futures_util::stream::once(std::future::ready(header)).chain(chunks)),
        read_error,
    ))
}

/// Writes a download to a new file at `to` (never over an existing one); a download that
/// fails part-way removes what it wrote.
async fn download_to(
    chunks: &mut Streaming<proto::files::v1::DownloadResponse>,
    to: &Path,
) -> Result<usize, Status> {
    let shown = to.display().to_string();
    let mut file = tokio::fs::File::create_new(to)
        .await
        .map_err(|error| local_io(&shown, error))?;
    let mut written = 0;
    let outcome = async {
        while let Some(part) = chunks.message().await? {
            file.write_all(&part.chunk)
                .await
                .map_err(|error| local_io(&shown, error))?;
            written += part.chunk.len();
        }
        file.flush().await.map_err(|error| local_io(&shown, error))
    }
    .await;
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(to).await;
    }
    outcome.map(|()| written)
}

/// A local file problem, reported like a call's error.
fn local_io(what: &str, error: std::io::Error) -> Status {
    Status::aborted(format!("cannot write {what}: {error}"))
}

//! The files commands: upload (client streaming, sent as the file is read), list, and
//! download (server streaming, written as it arrives, never over an existing file).

use std::{
    path::Path,
    pin::Pin,
    sync::{Arc, Mutex},
};

use futures_util::{Stream, StreamExt};
use proto::files::v1::{
    DownloadRequest, FileHeader, FileInfo, ListFilesRequest, UploadRequest,
    file_service_client::FileServiceClient, upload_request,
};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;
use tonic::{Status, Streaming};

use super::{Calls, GZIP};
use crate::args::FilesCommand;

impl Calls {
    pub(super) async fn files(&self, command: FilesCommand) -> Result<(), Status> {
        let mut client = FileServiceClient::new(self.transport.clone()).accept_compressed(GZIP);
        match command {
            FilesCommand::Upload { file, name } => {
                let (parts, read_error) = upload_parts(&file, name).await?;
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

/// Bytes per upload message (the server takes up to 1 MiB).
const UPLOAD_CHUNK_BYTES: usize = 256 * 1024;

type Parts = Pin<Box<dyn Stream<Item = UploadRequest> + Send>>;
type ReadError = Arc<Mutex<Option<std::io::Error>>>;

/// An upload of `path` as it is read: the header, then chunks. A read error ends the
/// stream early (so the server refuses the short upload) and is kept for the caller.
async fn upload_parts(path: &Path, name: Option<String>) -> Result<(Parts, ReadError), Status> {
    let cannot = |error: std::io::Error| {
        Status::invalid_argument(format!("cannot read {}: {error}", path.display()))
    };
    let file = tokio::fs::File::open(path).await.map_err(cannot)?;
    let size = file.metadata().await.map_err(cannot)?.len();
    let name = match name {
        Some(name) => name,
        None => path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| Status::invalid_argument(format!("{} is not a file", path.display())))?,
    };
    let header = UploadRequest {
        part: Some(upload_request::Part::Header(FileHeader { name, size })),
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

//! `files.v1.FileService`: upload (client streaming), list, download (server streaming).

use futures_util::StreamExt;
use proto::files::v1::{
    DownloadRequest, DownloadResponse, FileInfo, ListFilesRequest, ListFilesResponse,
    UploadRequest, file_service_server, upload_request,
};
use tokio_util::io::ReaderStream;
use tonic::{Request, Response, Status, Streaming};

use crate::{
    convert::timestamp,
    error::ApiError,
    files::store::{FileStore, StoredFile},
    ops::shutdown::ResponseStream,
};

/// Bytes per Download message.
const DOWNLOAD_CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct FileService {
    store: FileStore,
}

impl FileService {
    pub fn new(store: FileStore) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl file_service_server::FileService for FileService {
    async fn upload(
        &self,
        request: Request<Streaming<UploadRequest>>,
    ) -> Result<Response<FileInfo>, Status> {
        let mut parts = request.into_inner();
        let header = match parts.message().await? {
            Some(UploadRequest {
                part: Some(upload_request::Part::Header(header)),
            }) => header,
            _ => {
                return Err(ApiError::invalid(
                    "header",
                    "the first message must be the header (name and size)",
                )
                .into());
            }
        };
        let mut upload = self.store.begin(&header.name, header.size).await?;
        let mut number = 1;
        // An error (or the client leaving) drops `upload`, which removes what was written.
        while let Some(part) = parts.message().await? {
            number += 1;
            match part.part {
                Some(upload_request::Part::Chunk(chunk)) => {
                    upload.write(&chunk).await.map_err(|error| match error {
                        ApiError::InvalidArgument { field, description } => {
                            ApiError::invalid(field, format!("{description} (message {number})"))
                        }
                        other => other,
                    })?;
                }
                _ => {
                    return Err(ApiError::invalid(
                        "chunk",
                        format!(
                            "after the header, every message must be a chunk (message {number})"
                        ),
                    )
                    .into());
                }
            }
        }
        Ok(Response::new(to_proto(upload.finish().await?)))
    }

    async fn list_files(
        &self,
        _request: Request<ListFilesRequest>,
    ) -> Result<Response<ListFilesResponse>, Status> {
        let files = self.store.list().await?.into_iter().map(to_proto).collect();
        Ok(Response::new(ListFilesResponse { files }))
    }

    type DownloadStream = ResponseStream<DownloadResponse>;

    async fn download(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<Self::DownloadStream>, Status> {
        let name = request.into_inner().name;
        let file = self.store.open(&name).await?;
        let chunks = ReaderStream::with_capacity(file, DOWNLOAD_CHUNK_BYTES).map(move |read| {
            read.map(|chunk| DownloadResponse {
                chunk: chunk.to_vec(),
            })
            .map_err(|error| {
                ApiError::internal(format!("cannot read stored file {name}: {error}")).into()
            })
        });
        // Not ended by a shutdown: a download in progress may finish within the grace.
        Ok(Response::new(Box::pin(chunks)))
    }
}

fn to_proto(file: StoredFile) -> FileInfo {
    FileInfo {
        name: file.name,
        size: file.size,
        sha256: file.sha256,
        uploaded_at: Some(timestamp(file.uploaded_at)),
    }
}

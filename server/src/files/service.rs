//! `files.v1.FileService`: upload (client streaming, resumable), list, download (server
//! streaming).

use futures_util::StreamExt;
use proto::files::v1::{
    DownloadRequest, DownloadResponse, FileInfo, GetUploadRequest, ListFilesRequest,
    ListFilesResponse, UploadRequest, UploadStatus, file_service_server, upload_request,
};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    error::ApiError,
    files::store::{FileStore, Header},
    ops::shutdown::ResponseStream,
};

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
        let mut upload = self
            .store
            .begin(Header {
                name: header.name,
                size: header.size,
                upload_id: Some(header.upload_id).filter(|id| !id.is_empty()),
                offset: header.offset,
                sha256: Some(header.sha256).filter(|digest| !digest.is_empty()),
            })
            .await?;
        let mut number = 1;
        // A refused part drops `upload`: a non-resumable one is removed, a resumable one
        // keeps what it committed. A broken request stream keeps what arrived whole.
        loop {
            let part = match parts.message().await {
                Ok(Some(part)) => part,
                Ok(None) => break,
                Err(status) => {
                    upload.interrupted().await;
                    return Err(status);
                }
            };
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
        Ok(Response::new(upload.finish().await?))
    }

    async fn get_upload(
        &self,
        request: Request<GetUploadRequest>,
    ) -> Result<Response<UploadStatus>, Status> {
        let status = self.store.status(&request.into_inner().upload_id).await?;
        Ok(Response::new(status))
    }

    async fn list_files(
        &self,
        _request: Request<ListFilesRequest>,
    ) -> Result<Response<ListFilesResponse>, Status> {
        let files = self.store.list().await?;
        Ok(Response::new(ListFilesResponse { files }))
    }

    type DownloadStream = ResponseStream<DownloadResponse>;

    async fn download(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<Self::DownloadStream>, Status> {
        let name = request.into_inner().name;
        let chunks = self.store.download(&name).await?.map(|read| {
            read.map(|chunk| DownloadResponse { chunk })
                .map_err(Status::from)
        });
        // Not ended by a shutdown: a download in progress may finish within the grace.
        Ok(Response::new(Box::pin(chunks)))
    }
}

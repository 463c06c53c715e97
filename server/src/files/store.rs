//! Uploaded files, in the store: every replica on one database lists and serves every file.
//!
//! **Whole or not at all.** An upload's bytes go to `file_chunks` under a content id of its
//! own, in chunks of at most [`MAX_CHUNK_BYTES`], each committed with the upload's
//! `received` count; the file appears under its name only in the transaction that finishes
//! the upload, after its SHA-256 has been computed from what the store holds. The name is
//! the `files` table's key, so of two uploads of one name the second to finish gets
//! ALREADY_EXISTS and its chunks are removed: neither clobbers the other.
//!
//! **Resumable.** With a client-chosen `upload_id`, what was committed stays when the call
//! breaks; `GetUpload` says how much, and an Upload with the same id and that `offset` goes
//! on. Each commit moves `received` only from the value this call expects, so two calls on
//! one upload cannot interleave their bytes: the later one is ABORTED. Without an id, an
//! upload that ends early is removed at once.
//!
//! **Bounds.** At most [`MAX_FILES`] files and uploads in progress together (checked and
//! reserved in one write transaction); each at most `--upload-max-mib`; an upload untouched
//! for `--upload-expiry` (resumable) or [`ABANDONED_AFTER`] (not resumable: its call is
//! long gone) is deleted when the next upload begins. Memory: one chunk per upload and per
//! download in progress.

use std::time::Duration;

use chrono::Utc;
use futures_util::{Stream, stream};
use proto::files::v1::{FileInfo, UploadStatus};
use sha2::{Digest, Sha256};

use crate::{
    error::ApiError,
    store::{
        Engine, Store, database_error,
        rows::{FileRow, UploadRow, id_to_row, micros},
    },
};

pub const MAX_NAME_CHARS: usize = 100;
/// Bytes of a name in UTF-8.
pub const MAX_NAME_BYTES: usize = 200;
/// Bytes of one upload message, and of one stored chunk.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// Files stored and uploads in progress, together.
pub const MAX_FILES: usize = 1000;
/// A non-resumable upload untouched this long was cut off (its call would have ended on the
/// request idle timeout long before).
pub const ABANDONED_AFTER: Duration = Duration::from_secs(10 * 60);
/// Bytes per Download message.
pub const DOWNLOAD_CHUNK_BYTES: usize = 64 * 1024;

/// What the first message of an Upload asks for.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub name: String,
    pub size: u64,
    /// Resumable when set.
    pub upload_id: Option<String>,
    pub offset: u64,
    /// Lowercase hex the content must match, when the client gives it.
    pub sha256: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FileStore {
    store: Store,
    max_size: u64,
    expiry: Duration,
}

impl FileStore {
    pub fn new(store: Store, max_size: u64, expiry: Duration) -> Self {
        Self {
            store,
            max_size,
            expiry,
        }
    }

    /// Begins an upload, or resumes one at `header.offset`.
    pub async fn begin(&self, header: Header) -> Result<Upload, ApiError> {
        validate_name(&header.name)?;
        if let Some(id) = &header.upload_id {
            validate_upload_id(id)?;
        }
        if let Some(digest) = &header.sha256 {
            validate_digest(digest)?;
        }
        if header.size > self.max_size {
            return Err(ApiError::LimitExceeded {
                subject: "size (bytes)",
                limit: u32::try_from(self.max_size).unwrap_or(u32::MAX),
            });
        }
        let _writer = self.store.write_lock().await;
        let mut tx = self.store.pool().begin().await.map_err(database_error)?;
        if self.store.engine() == Engine::Postgres {
            // Replicas admitting uploads count one after the other (held to commit).
            sqlx::query("SELECT pg_advisory_xact_lock(7402)")
                .execute(&mut *tx)
                .await
                .map_err(database_error)?;
        }
        let taken: Option<String> = sqlx::query_scalar("SELECT name FROM files WHERE name = $1")
            .bind(&header.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(database_error)?;
        if taken.is_some() {
            return Err(already_exists(&header.name));
        }
        let existing = match &header.upload_id {
            Some(id) => sqlx::query_as::<_, UploadRow>(
                "SELECT id, name, size, received, content_id, resumable FROM uploads \
                 WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(database_error)?,
            None => None,
        };
        let row = match existing {
            Some(row) => {
                if row.name != header.name || row.size != id_to_row(header.size) {
                    return Err(ApiError::FailedPrecondition {
                        kind: "upload",
                        subject: row.id.clone(),
                        description: format!(
                            "upload {} is of '{}' ({} bytes), not of '{}' ({} bytes)",
                            row.id, row.name, row.size, header.name, header.size
                        ),
                    });
                }
                sqlx::query("UPDATE uploads SET touched_at_us = $1 WHERE id = $2")
                    .bind(micros(Utc::now()))
                    .bind(&row.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(database_error)?;
                row
            }
            None => {
                self.expire(&mut tx).await?;
                let count: i64 = sqlx::query_scalar(
                    "SELECT (SELECT COUNT(*) FROM files) + (SELECT COUNT(*) FROM uploads)",
                )
                .fetch_one(&mut *tx)
                .await
                .map_err(database_error)?;
                if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_FILES {
                    return Err(ApiError::LimitExceeded {
                        subject: "files",
                        limit: MAX_FILES as u32,
                    });
                }
                let row = UploadRow {
                    id: header
                        .upload_id
                        .clone()
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    name: header.name.clone(),
                    size: id_to_row(header.size),
                    received: 0,
                    content_id: uuid::Uuid::new_v4().to_string(),
                    resumable: i64::from(header.upload_id.is_some()),
                };
                sqlx::query(
                    "INSERT INTO uploads \
                     (id, name, size, received, content_id, resumable, touched_at_us) \
                     VALUES ($1, $2, $3, 0, $4, $5, $6)",
                )
                .bind(&row.id)
                .bind(&row.name)
                .bind(row.size)
                .bind(&row.content_id)
                .bind(row.resumable)
                .bind(micros(Utc::now()))
                .execute(&mut *tx)
                .await
                .map_err(database_error)?;
                row
            }
        };
        if id_to_row(header.offset) != row.received {
            return Err(ApiError::FailedPrecondition {
                kind: "offset",
                subject: row.id.clone(),
                description: format!(
                    "upload {} has {} bytes: resume at offset {}, not {}",
                    row.id, row.received, row.received, header.offset
                ),
            });
        }
        tx.commit().await.map_err(database_error)?;
        Ok(Upload {
            files: self.clone(),
            committed: header.offset,
            declared: header.size,
            row,
            buffer: Vec::new(),
            expected_sha256: header.sha256,
            done: false,
        })
    }

    /// Deletes the uploads nobody will finish (inside an admission transaction).
    async fn expire(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<(), ApiError> {
        let now = Utc::now();
        let stale = |after: Duration| {
            micros(now) - i64::try_from(after.as_micros()).unwrap_or(i64::MAX / 2)
        };
        let expired: Vec<String> = sqlx::query_scalar(
            "SELECT content_id FROM uploads \
             WHERE (resumable = 1 AND touched_at_us < $1) OR (resumable = 0 AND touched_at_us < $2)",
        )
        .bind(stale(self.expiry))
        .bind(stale(ABANDONED_AFTER))
        .fetch_all(&mut **tx)
        .await
        .map_err(database_error)?;
        for content in &expired {
            for statement in [
                "DELETE FROM file_chunks WHERE content_id = $1",
                "DELETE FROM uploads WHERE content_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(content)
                    .execute(&mut **tx)
                    .await
                    .map_err(database_error)?;
            }
        }
        if !expired.is_empty() {
            tracing::info!(count = expired.len(), "files: removed expired uploads");
        }
        Ok(())
    }

    /// Where a resumable upload stands.
    pub async fn status(&self, upload_id: &str) -> Result<UploadStatus, ApiError> {
        validate_upload_id(upload_id)?;
        sqlx::query_as::<_, UploadRow>(
            "SELECT id, name, size, received, content_id, resumable FROM uploads \
             WHERE id = $1 AND resumable = 1",
        )
        .bind(upload_id)
        .fetch_optional(self.store.pool())
        .await
        .map_err(database_error)?
        .map(UploadStatus::from)
        .ok_or_else(|| ApiError::NotFound {
            kind: "upload",
            id: upload_id.to_owned(),
        })
    }

    /// Every stored file, by name.
    pub async fn list(&self) -> Result<Vec<FileInfo>, ApiError> {
        let rows: Vec<FileRow> = sqlx::query_as(
            "SELECT name, size, sha256, uploaded_at_us FROM files ORDER BY name LIMIT $1",
        )
        .bind(i64::try_from(MAX_FILES).unwrap_or(i64::MAX))
        .fetch_all(self.store.pool())
        .await
        .map_err(database_error)?;
        Ok(rows.into_iter().map(FileInfo::from).collect())
    }

    /// A stored file's content in messages of at most [`DOWNLOAD_CHUNK_BYTES`], read from
    /// the store one chunk at a time as the client takes them.
    pub async fn download(
        &self,
        name: &str,
    ) -> Result<impl Stream<Item = Result<Vec<u8>, ApiError>> + Send + use<>, ApiError> {
        validate_name(name)?;
        let content: String = sqlx::query_scalar("SELECT content_id FROM files WHERE name = $1")
            .bind(name)
            .fetch_optional(self.store.pool())
            .await
            .map_err(database_error)?
            .ok_or_else(|| not_found(name))?;
        let chunks = Chunks::new(self.store.clone(), content);
        Ok(stream::try_unfold(
            (chunks, Vec::<u8>::new(), 0_usize),
            |(mut chunks, mut chunk, mut at)| async move {
                if at == chunk.len() {
                    match chunks.next().await? {
                        Some(next) => (chunk, at) = (next, 0),
                        None => return Ok(None),
                    }
                }
                let end = (at + DOWNLOAD_CHUNK_BYTES).min(chunk.len());
                let part = chunk[at..end].to_vec();
                at = end;
                Ok(Some((part, (chunks, chunk, at))))
            },
        ))
    }
}

/// The chunks of one content, in order, read one at a time.
struct Chunks {
    store: Store,
    content: String,
    next: i64,
}

impl Chunks {
    fn new(store: Store, content: String) -> Self {
        Self {
            store,
            content,
            next: 0,
        }
    }

    async fn next(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        let data: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT data FROM file_chunks WHERE content_id = $1 AND position = $2",
        )
        .bind(&self.content)
        .bind(self.next)
        .fetch_optional(self.store.pool())
        .await
        .map_err(database_error)?;
        if let Some(data) = &data {
            self.next += data.len() as i64;
        }
        Ok(data)
    }
}

/// An upload under way. Dropped unfinished, a non-resumable one is removed (in the
/// background); a resumable one keeps what it committed.
#[derive(Debug)]
pub struct Upload {
    files: FileStore,
    row: UploadRow,
    declared: u64,
    /// Bytes in the store.
    committed: u64,
    /// Received, not yet committed (less than one chunk).
    buffer: Vec<u8>,
    expected_sha256: Option<String>,
    /// Finished or removed: nothing to clean up.
    done: bool,
}

impl Upload {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        if chunk.len() > MAX_CHUNK_BYTES {
            return Err(ApiError::invalid(
                "chunk",
                format!(
                    "must be at most {MAX_CHUNK_BYTES} bytes, got {}",
                    chunk.len()
                ),
            ));
        }
        let received = self.committed + (self.buffer.len() + chunk.len()) as u64;
        if received > self.declared {
            return Err(ApiError::invalid(
                "chunk",
                format!(
                    "more bytes than the declared size of {} ({received} so far)",
                    self.declared
                ),
            ));
        }
        let room = MAX_CHUNK_BYTES - self.buffer.len();
        let (now, later) = chunk.split_at(room.min(chunk.len()));
        self.buffer.extend_from_slice(now);
        if self.buffer.len() == MAX_CHUNK_BYTES {
            self.commit().await?;
            self.buffer.extend_from_slice(later);
        }
        Ok(())
    }

    /// Stores the buffered bytes as the next chunk, moving `received` on in the same
    /// transaction, only from where this call expects it.
    async fn commit(&mut self) -> Result<(), ApiError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let store = &self.files.store;
        let _writer = store.write_lock().await;
        let mut tx = store.pool().begin().await.map_err(database_error)?;
        let length = self.buffer.len() as i64;
        let moved = sqlx::query(
            "UPDATE uploads SET received = received + $1, touched_at_us = $2 \
             WHERE id = $3 AND content_id = $4 AND received = $5",
        )
        .bind(length)
        .bind(micros(Utc::now()))
        .bind(&self.row.id)
        .bind(&self.row.content_id)
        .bind(id_to_row(self.committed))
        .execute(&mut *tx)
        .await
        .map_err(database_error)?;
        if moved.rows_affected() != 1 {
            // Expired and removed, or another call on the same upload got there first.
            self.done = true;
            return Err(ApiError::Aborted(format!(
                "upload {} was changed by another call (or expired): ask GetUpload where it stands",
                self.row.id
            )));
        }
        sqlx::query("INSERT INTO file_chunks (content_id, position, data) VALUES ($1, $2, $3)")
            .bind(&self.row.content_id)
            .bind(id_to_row(self.committed))
            .bind(std::mem::take(&mut self.buffer))
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
        tx.commit().await.map_err(database_error)?;
        self.committed += length as u64;
        Ok(())
    }

    /// The call's request stream broke: a resumable upload keeps what arrived whole.
    pub async fn interrupted(mut self) {
        if self.row.resumable == 1 {
            if let Err(error) = self.commit().await {
                tracing::debug!(%error, upload = %self.row.id, "could not keep the last bytes");
            }
            self.done = true;
        }
    }

    /// Checks that everything arrived and its digest, then makes the file visible under
    /// its name.
    pub async fn finish(mut self) -> Result<FileInfo, ApiError> {
        let received = self.committed + self.buffer.len() as u64;
        if received != self.declared {
            return Err(ApiError::invalid(
                "size",
                format!(
                    "declared {} bytes, but the upload ended after {received}",
                    self.declared
                ),
            ));
        }
        self.commit().await?;
        // The digest of what the store holds, not of what passed through this call: a
        // resumed upload's earlier bytes were received by another.
        let mut hasher = Sha256::new();
        let mut chunks = Chunks::new(self.files.store.clone(), self.row.content_id.clone());
        while let Some(chunk) = chunks.next().await? {
            hasher.update(&chunk);
        }
        let sha256 = hex(&hasher.finalize());
        if let Some(expected) = self.expected_sha256.clone()
            && expected != sha256
        {
            self.remove().await;
            return Err(ApiError::DataLoss(format!(
                "the content's SHA-256 is {sha256}, not the {expected} the header gave: \
                 nothing was stored"
            )));
        }
        let store = &self.files.store;
        let now = micros(Utc::now());
        let outcome = async {
            let _writer = store.write_lock().await;
            let mut tx = store.pool().begin().await.map_err(database_error)?;
            let inserted = sqlx::query(
                "INSERT INTO files (name, size, sha256, uploaded_at_us, content_id) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
            )
            .bind(&self.row.name)
            .bind(self.row.size)
            .bind(&sha256)
            .bind(now)
            .bind(&self.row.content_id)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
            if inserted.rows_affected() != 1 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM uploads WHERE id = $1 AND content_id = $2")
                .bind(&self.row.id)
                .bind(&self.row.content_id)
                .execute(&mut *tx)
                .await
                .map_err(database_error)?;
            tx.commit().await.map_err(database_error)?;
            Ok::<_, ApiError>(true)
        }
        .await?;
        if !outcome {
            // Another upload of the name finished first.
            self.remove().await;
            return Err(already_exists(&self.row.name));
        }
        self.done = true;
        Ok(FileInfo::from(FileRow {
            name: self.row.name.clone(),
            size: self.row.size,
            sha256,
            uploaded_at_us: now,
        }))
    }

    /// Removes the upload and its chunks.
    async fn remove(&mut self) {
        self.done = true;
        if let Err(error) = remove_upload(&self.files.store, &self.row).await {
            tracing::warn!(%error, upload = %self.row.id, "could not remove an upload; it will expire");
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.done && self.row.resumable == 0 {
            let (store, row) = (self.files.store.clone(), self.row.clone());
            // Dropped where no await is possible (the call was cancelled): in the
            // background; if even that fails, it expires.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(error) = remove_upload(&store, &row).await {
                        tracing::warn!(%error, upload = %row.id, "could not remove an upload; it will expire");
                    }
                });
            }
        }
    }
}

async fn remove_upload(store: &Store, row: &UploadRow) -> Result<(), ApiError> {
    let _writer = store.write_lock().await;
    let mut tx = store.pool().begin().await.map_err(database_error)?;
    for statement in [
        "DELETE FROM file_chunks WHERE content_id = $1",
        "DELETE FROM uploads WHERE content_id = $1",
    ] {
        sqlx::query(statement)
            .bind(&row.content_id)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
    }
    tx.commit().await.map_err(database_error)
}

fn validate_name(name: &str) -> Result<(), ApiError> {
    let chars = name.chars().count();
    let problem = if name.is_empty() {
        "must not be empty".to_owned()
    } else if chars > MAX_NAME_CHARS {
        format!("must be at most {MAX_NAME_CHARS} characters, got {chars}")
    } else if name.len() > MAX_NAME_BYTES {
        format!(
            "must be at most {MAX_NAME_BYTES} bytes in UTF-8, got {}",
            name.len()
        )
    } else if name.starts_with('.') {
        "must not start with `.`".to_owned()
    } else if name.contains(['/', '\\']) || name.chars().any(char::is_control) {
        "must be a plain file name: no `/`, `\\` or control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(ApiError::invalid("name", problem))
}

fn validate_upload_id(id: &str) -> Result<(), ApiError> {
    let valid = (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "upload_id",
            "must be 16 to 64 characters of A-Z, a-z, 0-9, `-` and `_`",
        ))
    }
}

fn validate_digest(digest: &str) -> Result<(), ApiError> {
    if digest.len() == 64
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "sha256",
            "must be 64 lowercase hex digits, or empty",
        ))
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound {
        kind: "file",
        id: name.to_owned(),
    }
}

fn already_exists(name: &str) -> ApiError {
    ApiError::AlreadyExists {
        kind: "file",
        id: name.to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

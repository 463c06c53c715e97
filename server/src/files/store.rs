//! Uploaded files, kept in one directory.
//!
//! An upload is written to a hidden partial file and becomes visible under its name only
//! when every declared byte has arrived, by a hard link that fails if the name is taken (so
//! two uploads of one name cannot overwrite each other). An upload that ends early (the
//! client leaves, or sends a bad part) removes its partial file: nothing half-written is
//! ever listed or downloaded. Each file's SHA-256 is kept beside it in a hidden file.
//!
//! The directory is created on the first upload. Failing file-system operations are the
//! server's problem, not the client's: they become INTERNAL, with the cause in the log.
//!
//! Durable once acknowledged: the file's data, its digest record and the directory entries
//! are synced to disk before the upload is answered OK. Partial files left by a process
//! that was killed are removed when the store opens. Uploads in progress count against
//! the file limit, checked and reserved in one step, so concurrent uploads cannot pass it.

use std::{
    io,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::SystemTime,
};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::{fs, io::AsyncWriteExt};

use crate::error::ApiError;

pub const MAX_NAME_CHARS: usize = 100;
/// Bytes of a name in UTF-8, as the file system counts them (a 100-character CJK name is
/// 300): with the digest record's prefix and the pending record's suffix it stays under the
/// 255 bytes most file systems allow.
pub const MAX_NAME_BYTES: usize = 200;
/// Bytes of one upload chunk; the message as a whole stays under tonic's 4 MiB default.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// Files the directory may hold.
pub const MAX_FILES: usize = 1000;

const PARTIAL_PREFIX: &str = ".partial-";
const SHA256_PREFIX: &str = ".sha256-";

/// A stored file, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub name: String,
    pub size: u64,
    /// Lowercase hex; empty if its record is missing.
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    max_size: u64,
    max_files: usize,
    /// Uploads begun and not yet finished or abandoned.
    uploading: Arc<AtomicUsize>,
    /// Held while an upload checks the file limit and takes its place, so two cannot both
    /// take the last one.
    admission: Arc<tokio::sync::Mutex<()>>,
}

impl FileStore {
    /// The store in `dir`, rid of partial files an earlier process left (killed mid-upload).
    pub fn new(dir: PathBuf, max_size: u64) -> Self {
        let removed = remove_partials(&dir);
        if removed > 0 {
            tracing::info!(dir = %dir.display(), removed, "removed unfinished uploads of an earlier run");
        }
        Self {
            dir,
            max_size,
            max_files: MAX_FILES,
            uploading: Arc::default(),
            admission: Arc::default(),
        }
    }

    /// Starts an upload of `size` bytes named `name`.
    pub async fn begin(&self, name: &str, size: u64) -> Result<Upload, ApiError> {
        validate_name(name)?;
        if size > self.max_size {
            return Err(ApiError::LimitExceeded {
                subject: "size (bytes)",
                limit: u32::try_from(self.max_size).unwrap_or(u32::MAX),
            });
        }
        fs::create_dir_all(&self.dir)
            .await
            .map_err(|error| internal("create the upload directory", &self.dir, error))?;
        let target = self.dir.join(name);
        if fs::try_exists(&target)
            .await
            .map_err(|error| internal("look for", &target, error))?
        {
            return Err(already_exists(name));
        }
        let admitted = self.admission.lock().await;
        if self.list().await?.len() + self.uploading.load(Ordering::SeqCst) >= self.max_files {
            return Err(ApiError::LimitExceeded {
                subject: "files",
                limit: self.max_files as u32,
            });
        }
        let place = Place::take(&self.uploading);
        drop(admitted);
        let partial = self
            .dir
            .join(format!("{PARTIAL_PREFIX}{}", uuid::Uuid::new_v4()));
        let file = fs::File::create_new(&partial)
            .await
            .map_err(|error| internal("create", &partial, error))?;
        Ok(Upload {
            _place: place,
            dir: self.dir.clone(),
            file,
            partial: Some(partial),
            target,
            name: name.to_owned(),
            declared: size,
            received: 0,
            hasher: Sha256::new(),
        })
    }

    /// Every stored file, by name.
    pub async fn list(&self) -> Result<Vec<StoredFile>, ApiError> {
        let mut entries = match fs::read_dir(&self.dir).await {
            Ok(entries) => entries,
            // Nothing uploaded yet.
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(internal("read", &self.dir, error)),
        };
        let mut files = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|error| internal("read", &self.dir, error))?
        {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let metadata = entry
                .metadata()
                .await
                .map_err(|error| internal("read", &entry.path(), error))?;
            if !metadata.is_file() {
                continue;
            }
            files.push(StoredFile {
                sha256: fs::read_to_string(self.dir.join(format!("{SHA256_PREFIX}{name}")))
                    .await
                    .unwrap_or_default(),
                size: metadata.len(),
                uploaded_at: metadata
                    .modified()
                    .map_or(DateTime::UNIX_EPOCH, DateTime::from),
                name,
            });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// Opens a stored file to read. A symbolic link in the directory is not followed: it is
    /// not listed, and not found here either.
    pub async fn open(&self, name: &str) -> Result<fs::File, ApiError> {
        validate_name(name)?;
        let path = self.dir.join(name);
        let mut options = fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        options.custom_flags(libc::O_NOFOLLOW);
        let file = options.open(&path).await;
        let is_symlink = |error: &io::Error| error.raw_os_error() == Some(libc::ELOOP);
        file.map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => not_found(name),
            _ if is_symlink(&error) => not_found(name),
            _ => internal("open", &path, error),
        })
    }
}

/// An upload under way. Dropped before [`Upload::finish`], it removes its partial file.
#[derive(Debug)]
pub struct Upload {
    /// Its place under the file limit, until it is stored or abandoned.
    _place: Place,
    dir: PathBuf,
    file: fs::File,
    /// `None` once finished: nothing left to clean up.
    partial: Option<PathBuf>,
    target: PathBuf,
    name: String,
    declared: u64,
    received: u64,
    hasher: Sha256,
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
        let received = self.received + chunk.len() as u64;
        if received > self.declared {
            return Err(ApiError::invalid(
                "chunk",
                format!(
                    "more bytes than the declared size of {} ({received} so far)",
                    self.declared
                ),
            ));
        }
        self.file
            .write_all(chunk)
            .await
            .map_err(|error| internal("write", self.partial_path(), error))?;
        self.hasher.update(chunk);
        self.received = received;
        Ok(())
    }

    /// Checks that everything arrived, then makes the file visible under its name.
    pub async fn finish(mut self) -> Result<StoredFile, ApiError> {
        if self.received != self.declared {
            return Err(ApiError::invalid(
                "size",
                format!(
                    "declared {} bytes, but the upload ended after {}",
                    self.declared, self.received
                ),
            ));
        }
        let partial = self.partial_path().to_owned();
        self.file
            .sync_all()
            .await
            .map_err(|error| internal("write", &partial, error))?;
        let sha256 = hex(&std::mem::take(&mut self.hasher).finalize());
        // The digest goes to a record of this upload's own first, and takes the name's
        // record only once this upload has taken the name: a losing upload of the same name
        // never touches the winner's record.
        let record = self
            .target
            .with_file_name(format!("{SHA256_PREFIX}{}", self.name));
        let pending = partial.with_extension("sha256");
        write_synced(&pending, sha256.as_bytes())
            .await
            .map_err(|error| internal("write", &pending, error))?;
        // The moment the file appears; fails if another upload of the name got there first.
        let linked = fs::hard_link(&partial, &self.target).await;
        if let Err(error) = linked {
            let _ = fs::remove_file(&pending).await;
            return Err(match error.kind() {
                io::ErrorKind::AlreadyExists => already_exists(&self.name),
                _ => internal("store", &self.target, error),
            });
        }
        // Done: from here on the partial file is only a second name for the stored one.
        self.partial = None;
        let _ = fs::remove_file(&partial).await;
        fs::rename(&pending, &record)
            .await
            .map_err(|error| internal("write", &record, error))?;
        // The new names (the file, its record) and the partial's removal, on disk.
        sync_dir(&self.dir)
            .await
            .map_err(|error| internal("sync", &self.dir, error))?;
        Ok(StoredFile {
            name: self.name.clone(),
            size: self.received,
            sha256,
            uploaded_at: SystemTime::now().into(),
        })
    }

    fn partial_path(&self) -> &Path {
        self.partial.as_deref().unwrap_or(&self.target)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(partial) = self.partial.take() {
            // Quick and local; a leftover would be hidden from listings anyway.
            let _ = std::fs::remove_file(partial);
        }
    }
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

/// One upload's place under the file limit; given back when dropped.
#[derive(Debug)]
struct Place(Arc<AtomicUsize>);

impl Place {
    fn take(uploading: &Arc<AtomicUsize>) -> Self {
        uploading.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(uploading))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Removes the partial files (and pending records) in `dir`; how many there were.
fn remove_partials(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(PARTIAL_PREFIX)
        })
        .filter(|entry| std::fs::remove_file(entry.path()).is_ok())
        .count()
}

/// Writes `contents` to a new file at `path`, on disk before it returns.
async fn write_synced(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path).await?;
    file.write_all(contents).await?;
    file.sync_all().await
}

/// Syncs a directory, so the names made or removed in it are on disk.
async fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir).await?.sync_all().await
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

/// A file-system failure: the server's fault, with what it was doing and where.
fn internal(action: &str, path: &Path, error: io::Error) -> ApiError {
    ApiError::internal(format!("cannot {action} {}: {error}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> FileStore {
        FileStore::new(dir.join("uploads"), 100)
    }

    #[tokio::test]
    async fn a_file_appears_only_when_complete_and_has_its_digest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path());
        assert!(store.list().await.expect("empty").is_empty());

        let mut upload = store.begin("hello.txt", 5).await.expect("begin");
        upload.write(b"hel").await.expect("write");
        assert!(store.list().await.expect("list").is_empty(), "not yet");
        upload.write(b"lo").await.expect("write");
        let stored = upload.finish().await.expect("finish");
        assert_eq!(
            stored.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );

        let listed = store.list().await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].name.as_str(), listed[0].size), ("hello.txt", 5));
        assert_eq!(listed[0].sha256, stored.sha256);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("uploads"))
            .expect("dir")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(
            names.len(),
            2,
            "the file and its digest, no partial: {names:?}"
        );
    }

    #[tokio::test]
    async fn an_unfinished_upload_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path());
        let mut upload = store.begin("a", 10).await.expect("begin");
        upload.write(b"12345").await.expect("write");
        drop(upload);
        let short = store.begin("b", 10).await.expect("begin");
        let error = short.finish().await.expect_err("short");
        assert!(matches!(
            error,
            ApiError::InvalidArgument { field: "size", .. }
        ));
        let left = std::fs::read_dir(dir.path().join("uploads"))
            .expect("dir")
            .count();
        assert_eq!(left, 0);
    }

    /// Two uploads of one name with different contents, finishing in either order: the
    /// loser gets ALREADY_EXISTS and the listed digest is always that of the stored bytes.
    #[tokio::test]
    async fn a_losing_upload_of_a_name_leaves_the_winners_digest() {
        use tokio::io::AsyncReadExt;
        for winner_first in [true, false] {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = store(dir.path());
            let mut first = store.begin("same.txt", 5).await.expect("begin");
            let mut second = store.begin("same.txt", 5).await.expect("begin");
            first.write(b"first").await.expect("write");
            second.write(b"other").await.expect("write");
            let (winner, loser) = if winner_first {
                (first, second)
            } else {
                (second, first)
            };
            let stored = winner.finish().await.expect("the first to finish wins");
            let error = loser.finish().await.expect_err("the name is taken");
            assert!(matches!(error, ApiError::AlreadyExists { .. }), "{error:?}");

            let listed = store.list().await.expect("list");
            assert_eq!(listed.len(), 1);
            let mut bytes = Vec::new();
            store
                .open("same.txt")
                .await
                .expect("open")
                .read_to_end(&mut bytes)
                .await
                .expect("read");
            assert_eq!(listed[0].sha256, hex(&Sha256::digest(&bytes)));
            assert_eq!(listed[0].sha256, stored.sha256);
            let hidden = std::fs::read_dir(dir.path().join("uploads"))
                .expect("dir")
                .count();
            assert_eq!(hidden, 2, "the file and its record, nothing pending");
        }
    }

    /// A name is as long as its bytes: 100 CJK characters are 300 bytes, refused before any
    /// byte is stored.
    #[tokio::test]
    async fn names_are_limited_by_their_bytes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path());
        let error = store
            .begin(&"語".repeat(MAX_NAME_CHARS), 1)
            .await
            .expect_err("300 bytes");
        let ApiError::InvalidArgument { field, description } = error else {
            panic!("expected INVALID_ARGUMENT, got {error:?}");
        };
        assert_eq!(field, "name");
        assert!(description.contains("bytes"), "{description}");
        assert!(!dir.path().join("uploads").exists(), "nothing stored");
        store
            .begin(&"語".repeat(MAX_NAME_BYTES / 3), 1)
            .await
            .expect("within the limit");
    }

    /// A symbolic link in the upload directory is neither listed nor opened.
    #[cfg(unix)]
    #[tokio::test]
    async fn symbolic_links_are_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path());
        let mut upload = store.begin("real.txt", 2).await.expect("begin");
        upload.write(b"ok").await.expect("write");
        upload.finish().await.expect("finish");
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, "outside the upload directory").expect("write");
        std::os::unix::fs::symlink(&secret, dir.path().join("uploads/link.txt")).expect("link");

        let names: Vec<_> = store
            .list()
            .await
            .expect("list")
            .into_iter()
            .map(|file| file.name)
            .collect();
        assert_eq!(names, ["real.txt"]);
        let error = store.open("link.txt").await.expect_err("not followed");
        assert!(matches!(error, ApiError::NotFound { .. }), "{error:?}");
        store.open("real.txt").await.expect("a real file opens");
    }

    #[tokio::test]
    async fn sizes_names_and_duplicates_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path());
        let error = store.begin("big", 101).await.expect_err("too big");
        assert!(matches!(error, ApiError::LimitExceeded { .. }));
        for bad in ["", ".hidden", "a/b", "..", "a\\b", "tab\there"] {
            let error = store.begin(bad, 1).await.expect_err(bad);
            assert!(
                matches!(error, ApiError::InvalidArgument { field: "name", .. }),
                "{bad:?}"
            );
        }
        let mut upload = store.begin("x", 2).await.expect("begin");
        let error = upload
            .write(b"123")
            .await
            .expect_err("over the declared size");
        assert!(matches!(
            error,
            ApiError::InvalidArgument { field: "chunk", .. }
        ));

        // Two uploads of one name: the first to finish wins, the other is refused.
        let first = store.begin("same", 0).await.expect("begin");
        let second = store
            .begin("same", 0)
            .await
            .expect("begin too: not stored yet");
        first.finish().await.expect("first");
        let error = second.finish().await.expect_err("taken");
        assert!(matches!(error, ApiError::AlreadyExists { .. }));
        let error = store.begin("same", 0).await.expect_err("taken");
        assert!(matches!(error, ApiError::AlreadyExists { .. }));
    }

    /// What a killed process left (partial files, a pending record) is gone when the store
    /// opens again; the files it had stored are all there.
    #[tokio::test]
    async fn partial_files_of_an_earlier_run_are_removed_at_start() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = store(dir.path());
        let mut done = first.begin("kept.txt", 2).await.expect("begin");
        done.write(b"ok").await.expect("write");
        done.finish().await.expect("finish");
        let mut killed = first.begin("lost.txt", 10).await.expect("begin");
        killed.write(b"12345").await.expect("write");
        let uploads = dir.path().join("uploads");
        std::fs::write(uploads.join(format!("{PARTIAL_PREFIX}old.sha256")), "x").expect("write");
        // A kill -9 runs no destructor.
        std::mem::forget(killed);
        let partials = || {
            std::fs::read_dir(&uploads)
                .expect("dir")
                .filter(|entry| {
                    let name = entry.as_ref().expect("entry").file_name();
                    name.to_string_lossy().starts_with(PARTIAL_PREFIX)
                })
                .count()
        };
        assert_eq!(partials(), 2, "what the killed process left");

        let again = store(dir.path());
        assert_eq!(partials(), 0);
        let names: Vec<_> = again
            .list()
            .await
            .expect("list")
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["kept.txt"]);
    }

    /// Uploads in progress count against the file limit, and checking and taking a place are
    /// one step: concurrent uploads cannot pass it.
    #[tokio::test]
    async fn uploads_in_progress_count_against_the_file_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore {
            max_files: 2,
            ..store(dir.path())
        };
        let begun =
            futures_util::future::join_all(["a", "b", "c", "d"].map(|name| store.begin(name, 1)))
                .await;
        let refused = begun
            .iter()
            .filter(|outcome| {
                matches!(
                    outcome,
                    Err(ApiError::LimitExceeded {
                        subject: "files",
                        ..
                    })
                )
            })
            .count();
        assert_eq!(refused, 2, "two places for four uploads");
        // An abandoned upload gives its place back.
        drop(begun);
        let mut upload = store.begin("e", 1).await.expect("a place again");
        upload.write(b"1").await.expect("write");
        upload.finish().await.expect("finish");
        store.begin("f", 1).await.expect("the second place");
    }

    #[tokio::test]
    async fn a_broken_directory_is_an_internal_error_naming_the_cause() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "a file").expect("write");
        let store = FileStore::new(blocker.join("uploads"), 100);
        match store.begin("a", 1).await {
            Err(ApiError::Internal(cause)) => {
                let cause = cause.to_string();
                assert!(cause.contains("not-a-dir/uploads"), "{cause}");
            }
            other => panic!("expected an internal error, got {other:?}"),
        }
    }
}

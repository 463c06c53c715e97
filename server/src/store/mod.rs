//! The store: what the server keeps, in SQLite (the embedded default: one file under
//! `--data-dir`, nothing to install) or PostgreSQL (one database shared by every replica),
//! chosen by `--database-url`. Both run the same queries through sqlx's `Any` driver (the
//! SQL is the subset both engines speak: `$1` parameters, `ON CONFLICT … DO UPDATE`,
//! `RETURNING`); only the schema's migrations are written once per engine, in
//! `server/migrations/{sqlite,postgres}`, and applied at start.
//!
//! What an engine does differently stays here: SQLite has one writer at a time, so its
//! writes queue on one lock in this process (rather than on `SQLITE_BUSY`); PostgreSQL tells
//! every replica about a new chat message with `NOTIFY` (see `chat::rooms`).

pub mod changes;
pub mod rows;

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::ApiError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How to reach the database, and how much of it the server may hold.
#[derive(Clone)]
pub struct StoreSettings {
    /// `sqlite://PATH` or `postgres://…` (may carry a password: never logged whole).
    pub url: String,
    /// Connections the pool keeps open at most.
    pub max_connections: u32,
    /// How long a query waits for a free connection before the call fails.
    pub acquire_timeout: Duration,
    /// How long one statement may run (PostgreSQL `statement_timeout`; SQLite's wait for
    /// the write lock).
    pub statement_timeout: Duration,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &redacted(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// The database engines the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a URL names, or why it names none.
    pub fn of(url: &str) -> Result<Self, String> {
        match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            _ => Err(format!(
                "the database URL must start with sqlite:// or postgres://, got '{}'",
                redacted(url)
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    pub fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// A URL with its password (if any) replaced, for logs and errors.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Url(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot migrate the database {url}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
}

/// The database, shared by the services that keep state.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    settings: Arc<StoreSettings>,
    /// SQLite's single writer, taken by [`Store::write_lock`].
    writer: Arc<Mutex<()>>,
}

impl Store {
    /// Connects (making the SQLite file and its directory if needed) and brings the schema
    /// up to date.
    pub async fn open(settings: StoreSettings) -> Result<Self, StoreError> {
        let store = Self::connect(settings).await?;
        store
            .engine
            .migrator()
            .run(&store.pool)
            .await
            .map_err(|source| StoreError::Migrate {
                url: redacted(&store.settings.url),
                source,
            })?;
        Ok(store)
    }

    /// Connects without migrating (the migration tests apply their own steps).
    pub async fn connect(settings: StoreSettings) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let engine = Engine::of(&settings.url).map_err(StoreError::Url)?;
        let mut url = settings.url.clone();
        if engine == Engine::Sqlite {
            let path = url
                .trim_start_matches("sqlite:")
                .trim_start_matches("//")
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            if let Some(dir) = Path::new(&path)
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') { "&" } else { "?" });
                url.push_str("mode=rwc");
            }
        }
        let options = AnyConnectOptions::from_str(&url).map_err(|source| StoreError::Connect {
            url: redacted(&settings.url),
            source,
        })?;
        let statement_ms = settings.statement_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    match engine {
                        // WAL: readers never wait for the writer; FULL sync: a commit is
                        // on disk before it returns. Foreign keys are off by default.
                        Engine::Sqlite => {
                            connection
                                .execute(
                                    format!(
                                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                         PRAGMA foreign_keys = ON; \
                                         PRAGMA busy_timeout = {statement_ms}"
                                    )
                                    .as_str(),
                                )
                                .await?;
                        }
                        Engine::Postgres => {
                            connection
                                .execute(format!("SET statement_timeout = {statement_ms}").as_str())
                                .await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect {
                url: redacted(&settings.url),
                source,
            })?;
        tracing::info!(
            engine = engine.name(),
            url = %redacted(&settings.url),
            max_connections = settings.max_connections,
            "store open"
        );
        Ok(Self {
            pool,
            engine,
            settings: Arc::new(settings),
            writer: Arc::new(Mutex::new(())),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The URL as configured (PostgreSQL's notifications need their own connection).
    pub fn url(&self) -> &str {
        &self.settings.url
    }

    /// Held around a write transaction on SQLite, which has one writer at a time: the
    /// writes of this process queue here instead of failing busy. `None` on PostgreSQL.
    pub async fn write_lock(&self) -> Option<MutexGuard<'_, ()>> {
        match self.engine {
            Engine::Sqlite => Some(self.writer.lock().await),
            Engine::Postgres => None,
        }
    }

    /// One round trip, for the health check.
    pub async fn ping(&self) -> Result<(), ApiError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(database_error)
    }

    /// Closes every connection (at the end of a drain).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database failure as the client sees it: UNAVAILABLE with what failed when the database
/// cannot be reached or is too slow (the client may retry), INTERNAL otherwise (logged).
pub fn database_error(error: sqlx::Error) -> ApiError {
    let reason = match &error {
        sqlx::Error::PoolTimedOut => "no connection to it within the acquire timeout".to_owned(),
        sqlx::Error::Io(error) => error.to_string(),
        sqlx::Error::Tls(error) => error.to_string(),
        sqlx::Error::PoolClosed => "the server is closing it".to_owned(),
        sqlx::Error::WorkerCrashed => "its connection worker stopped".to_owned(),
        // 57014: PostgreSQL cancelled the statement (statement_timeout); 57P01..03: the
        // server is shutting down or cannot accept connections; SQLite 5/6: busy, locked.
        sqlx::Error::Database(database)
            if matches!(
                database.code().as_deref(),
                Some("57014" | "57P01" | "57P02" | "57P03" | "5" | "6")
            ) =>
        {
            database.message().to_owned()
        }
        // Logged with the call's request id where the status is made.
        _ => return ApiError::internal(error),
    };
    ApiError::DependencyFailed {
        dependency: "the database",
        reason,
    }
}

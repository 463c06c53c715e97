//! The store on both engines: the same tests on SQLite (a file in a temporary directory)
//! and on a real PostgreSQL (a throw-away cluster per test, `testkit::postgres`), through
//! the real server and its gRPC clients. Then what only several replicas on one PostgreSQL
//! can show: fan-out across replicas, files served by every replica, and the database
//! going away and coming back.

mod blog;
mod chat;
mod comments;
mod files;
mod migrations;
mod replicas;

use testkit::{TestServer, postgres::Postgres};

/// One database for a test, on one engine; servers started on it share it.
#[derive(Debug)]
pub struct Database {
    pub url: String,
    /// Holds the SQLite file, or the PostgreSQL cluster (stopped when dropped).
    _sqlite: Option<tempfile::TempDir>,
    pub postgres: Option<Postgres>,
}

impl Database {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            url: format!("sqlite://{}", dir.path().join("app.db").display()),
            _sqlite: Some(dir),
            postgres: None,
        }
    }

    pub fn postgres() -> Self {
        let cluster = Postgres::start();
        Self {
            url: cluster.database(),
            _sqlite: None,
            postgres: Some(cluster),
        }
    }

    /// Another empty database on the same engine (a new file; a new database in the same
    /// cluster), as a URL.
    pub fn another(&self) -> String {
        match (&self._sqlite, &self.postgres) {
            (Some(dir), _) => format!(
                "sqlite://{}",
                dir.path()
                    .join(format!("other-{}.db", next_number()))
                    .display()
            ),
            (None, Some(cluster)) => cluster.database(),
            (None, None) => unreachable!("a database is on one engine"),
        }
    }

    /// A server (a replica) on this database.
    pub async fn server(&self) -> TestServer {
        self.server_with(|_| {}).await
    }

    pub async fn server_with(&self, configure: impl FnOnce(&mut server::Config)) -> TestServer {
        let url = self.url.clone();
        TestServer::spawn_with(|config| {
            config.database_url = Some(url);
            configure(config);
        })
        .await
    }
}

fn next_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A server on the database at `url`.
pub async fn server_on(url: &str) -> TestServer {
    let url = url.to_owned();
    TestServer::spawn_with(|config| config.database_url = Some(url)).await
}

/// Runs each listed `async fn(Database)` once per engine: `sqlite::NAME`, `postgres::NAME`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Database::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Database::postgres()).await;
                }
            )*
        }
    };
}

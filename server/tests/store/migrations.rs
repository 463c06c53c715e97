//! Migrations: from an empty database, and from every earlier schema (the database as each
//! earlier version of the server left it, with data in it), up to the current one; applying
//! them again changes nothing.

use std::{path::PathBuf, time::Duration};

use proto::chat::v1::{PostRequest, SubscribeRequest, chat_service_client::ChatServiceClient};
use server::store::{Engine, Store, StoreSettings};
use sqlx::migrate::Migrator;

use crate::{Database, on_both_engines};

on_both_engines!(from_empty_to_current, from_each_earlier_schema_to_current);

fn settings(url: &str) -> StoreSettings {
    StoreSettings {
        url: url.to_owned(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(5),
    }
}

/// The engine's migration files, in order.
fn files(engine: Engine) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(engine.name());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the migrations directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no migrations in {}", dir.display());
    files
}

async fn applied(store: &Store) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(store.pool())
        .await
        .expect("the migrations table")
}

async fn from_empty_to_current(database: Database) {
    let store = Store::open(settings(&database.url))
        .await
        .expect("migrates");
    let engine = store.engine();
    let expected: Vec<i64> = engine.migrator().iter().map(|m| m.version).collect();
    assert_eq!(
        expected.len(),
        files(engine).len(),
        "every file is embedded"
    );
    assert_eq!(applied(&store).await, expected);
    // Again: nothing to do, nothing changes.
    engine.migrator().run(store.pool()).await.expect("no-op");
    assert_eq!(applied(&store).await, expected);
    store.close().await;

    // And the server works on it.
    let app = database.server().await;
    let mut chat = ChatServiceClient::new(app.native_channel().await);
    let posted = chat
        .post(PostRequest {
            room: "lobby".into(),
            author: "ada".into(),
            text: "on a fresh schema".into(),
        })
        .await
        .expect("post")
        .into_inner();
    assert_eq!(posted.id, 1);
}

/// For each earlier schema: apply the migrations up to it (from the files, as that version
/// shipped them), then start the current server on it, which migrates the rest.
async fn from_each_earlier_schema_to_current(database: Database) {
    let engine = Engine::of(&database.url).expect("engine");
    let all = files(engine);
    for earlier in 0..all.len() {
        let url = database.another();
        let step = tempfile::tempdir().expect("temp dir");
        for file in &all[..earlier] {
            std::fs::copy(file, step.path().join(file.file_name().expect("name"))).expect("copy");
        }
        let store = Store::connect(settings(&url)).await.expect("connects");
        Migrator::new(step.path())
            .await
            .expect("the earlier migrations")
            .run(store.pool())
            .await
            .expect("the earlier schema");
        assert_eq!(applied(&store).await.len(), earlier);
        // What a server of that version had stored: it must survive the upgrade.
        let kept = earlier >= 1;
        if kept {
            sqlx::query(
                "INSERT INTO chat_rooms (name, last_id, active_at_us) VALUES ('old', 1, 0)",
            )
            .execute(store.pool())
            .await
            .expect("the earlier chat schema");
            sqlx::query(
                "INSERT INTO chat_messages (room, id, author, text, posted_at_us) \
                 VALUES ('old', 1, 'ada', 'from before the upgrade', 1700000000000000)",
            )
            .execute(store.pool())
            .await
            .expect("the earlier chat schema");
        }
        store.close().await;

        let app = crate::server_on(&url).await;
        let mut chat = ChatServiceClient::new(app.native_channel().await);
        chat.post(PostRequest {
            room: format!("after-{earlier}"),
            author: "ada".into(),
            text: "upgraded".into(),
        })
        .await
        .expect("the upgraded schema takes a post");
        let mut events = chat
            .subscribe(SubscribeRequest {
                room: format!("after-{earlier}"),
                history: 10,
                after_id: None,
            })
            .await
            .expect("subscribe")
            .into_inner();
        let first = events.message().await.expect("no error").expect("history");
        assert!(format!("{first:?}").contains("upgraded"), "{first:?}");
        if kept {
            let mut old = chat
                .subscribe(SubscribeRequest {
                    room: "old".into(),
                    history: 10,
                    after_id: None,
                })
                .await
                .expect("subscribe")
                .into_inner();
            let message = old.message().await.expect("no error").expect("kept");
            assert!(
                format!("{message:?}").contains("from before the upgrade"),
                "{message:?}"
            );
        }
        app.shutdown().await.expect("clean exit");
        let store = Store::connect(settings(&url)).await.expect("connects");
        assert_eq!(applied(&store).await.len(), all.len());
        store.close().await;
    }
}

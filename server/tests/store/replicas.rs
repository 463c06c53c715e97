//! Several replicas on one PostgreSQL: a post on one reaches live readers on every other
//! (LISTEN/NOTIFY), a cursor taken on one resumes on another, and the database going away
//! gives UNAVAILABLE and NOT_SERVING, then the replicas recover by themselves.

use std::time::Duration;

use proto::{
    chat::v1::chat_service_client::ChatServiceClient,
    files::v1::{ListFilesRequest, file_service_client::FileServiceClient},
};
use testkit::PATIENCE;
use tonic::{Code, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{
    Database,
    chat::{next_message, post, quiet, subscribe},
};

#[tokio::test]
async fn a_post_on_one_replica_reaches_readers_on_the_others() {
    let database = Database::postgres();
    let (a, b) = (database.server().await, database.server().await);
    let mut on_a = ChatServiceClient::new(a.native_channel().await);
    let mut on_b = ChatServiceClient::new(b.native_channel().await);
    let mut readers = Vec::new();
    for client in [&mut on_a, &mut on_b] {
        readers.push(
            client
                .subscribe(subscribe("lobby", 0, None))
                .await
                .expect("subscribe")
                .into_inner(),
        );
    }
    let from_a = on_a
        .post(post("lobby", "from a"))
        .await
        .expect("post")
        .into_inner();
    let from_b = on_b
        .post(post("lobby", "from b"))
        .await
        .expect("post")
        .into_inner();
    assert_eq!(
        (from_a.id, from_b.id),
        (1, 2),
        "one numbering across replicas"
    );
    for reader in &mut readers {
        let started = std::time::Instant::now();
        assert_eq!(next_message(reader).await, from_a);
        assert_eq!(next_message(reader).await, from_b);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "within a second"
        );
        quiet(reader).await;
    }
}

#[tokio::test]
async fn a_cursor_from_one_replica_resumes_on_another() {
    let database = Database::postgres();
    let (a, b) = (database.server().await, database.server().await);
    let mut on_a = ChatServiceClient::new(a.native_channel().await);
    let mut reader = on_a
        .subscribe(subscribe("r", 0, None))
        .await
        .expect("subscribe")
        .into_inner();
    for n in 1..=3 {
        on_a.post(post("r", &format!("m{n}"))).await.expect("post");
    }
    let mut last = 0;
    for _ in 0..2 {
        last = next_message(&mut reader).await.id;
    }
    // Replica A goes away; the reader moves to B with its cursor, and posts went on.
    drop(reader);
    a.shutdown().await.expect("clean exit");
    let mut on_b = ChatServiceClient::new(b.native_channel().await);
    on_b.post(post("r", "m4")).await.expect("post");
    let mut resumed = on_b
        .subscribe(subscribe("r", 0, Some(last)))
        .await
        .expect("subscribe")
        .into_inner();
    for n in 3..=4 {
        assert_eq!(next_message(&mut resumed).await.id, n);
    }
    quiet(&mut resumed).await;
}

#[tokio::test]
async fn the_database_going_away_is_unavailable_and_not_serving_until_it_is_back() {
    let mut database = Database::postgres();
    let app = database
        .server_with(|config| {
            config.readiness_interval = Duration::from_millis(200);
            config.db_acquire_timeout = Duration::from_secs(1);
        })
        .await;
    let mut chat = ChatServiceClient::new(app.native_channel().await);
    let mut health = HealthClient::new(app.native_channel().await);
    chat.post(post("r", "before")).await.expect("post");
    let mut reader = chat
        .subscribe(subscribe("r", 10, None))
        .await
        .expect("subscribe")
        .into_inner();
    assert_eq!(next_message(&mut reader).await.text, "before");

    database.postgres.as_mut().expect("postgres").stop();
    let refused = tokio::time::timeout(PATIENCE, chat.post(post("r", "while down")))
        .await
        .expect("no hang")
        .expect_err("the database is down");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("the database is unavailable"),
        "{}",
        refused.message()
    );
    app.wait_until(|| {
        let mut health = health.clone();
        async move { status(&mut health, "chat.v1.ChatService").await == ServingStatus::NotServing }
    })
    .await;
    app.wait_until(|| {
        let mut health = health.clone();
        async move { status(&mut health, "files.v1.FileService").await == ServingStatus::NotServing }
    })
    .await;
    let mut files = FileServiceClient::new(app.native_channel().await);
    let refused = tokio::time::timeout(PATIENCE, files.list_files(ListFilesRequest {}))
        .await
        .expect("no hang")
        .expect_err("the database is down");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    // The rest of the server is not affected.
    assert_eq!(status(&mut health, "Greeter").await, ServingStatus::Serving);

    database.postgres.as_mut().expect("postgres").start_again();
    app.wait_until(|| {
        let mut health = health.clone();
        async move { status(&mut health, "chat.v1.ChatService").await == ServingStatus::Serving }
    })
    .await;
    files
        .list_files(ListFilesRequest {})
        .await
        .expect("files recovered");
    let after = chat
        .post(post("r", "after"))
        .await
        .expect("recovered")
        .into_inner();
    // The reader that stayed gets it: the notification listener came back too.
    assert_eq!(next_message(&mut reader).await, after);
}

async fn status(health: &mut HealthClient<Channel>, service: &str) -> ServingStatus {
    health
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health answers")
        .into_inner()
        .status()
}

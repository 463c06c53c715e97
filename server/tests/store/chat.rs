//! The chat on the store, on both engines: what was acknowledged survives a restart, a
//! reader resumes with its cursor getting exactly what it missed, and the rooms' bound.

use std::{num::NonZeroU32, time::Duration};

use proto::chat::v1::{
    ChatEvent, ChatMessage, PostRequest, SubscribeRequest, chat_event,
    chat_service_client::ChatServiceClient,
};
use testkit::PATIENCE;
use tonic::{Code, Streaming, transport::Channel};

use crate::{Database, on_both_engines};

on_both_engines!(
    history_survives_a_restart,
    a_cursor_resumes_with_exactly_what_was_missed,
    readers_joining_while_posts_race_miss_nothing_and_get_nothing_twice,
    rooms_are_bounded_and_the_least_active_unread_one_makes_way,
);

pub fn post(room: &str, text: &str) -> PostRequest {
    PostRequest {
        room: room.into(),
        author: "ada".into(),
        text: text.into(),
    }
}

pub fn subscribe(room: &str, history: u32, after_id: Option<u64>) -> SubscribeRequest {
    SubscribeRequest {
        room: room.into(),
        history,
        after_id,
    }
}

/// The next chat message of a stream, failing on anything else or on a stall.
pub async fn next_message(stream: &mut Streaming<ChatEvent>) -> ChatMessage {
    let event = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("an event within the test's patience")
        .expect("no error")
        .expect("the stream goes on");
    match event.event {
        Some(chat_event::Event::Message(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Nothing more arrives for a moment.
pub async fn quiet(stream: &mut Streaming<ChatEvent>) {
    let next = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    assert!(next.is_err(), "nothing more, got {next:?}");
}

async fn client(app: &testkit::TestServer) -> ChatServiceClient<Channel> {
    ChatServiceClient::new(app.native_channel().await)
}

async fn history_survives_a_restart(database: Database) {
    let app = database.server().await;
    let mut chat = client(&app).await;
    let mut posted = Vec::new();
    for text in ["one", "two", "three"] {
        posted.push(
            chat.post(post("lobby", text))
                .await
                .expect("post")
                .into_inner(),
        );
    }
    chat.post(post("kitchen", "tea?")).await.expect("post");
    app.shutdown().await.expect("clean exit");

    let app = database.server().await;
    let mut chat = client(&app).await;
    let mut stream = chat
        .subscribe(subscribe("lobby", 10, None))
        .await
        .expect("subscribe")
        .into_inner();
    for expected in &posted {
        // The same message: id, author, text and time (to the microsecond).
        assert_eq!(&next_message(&mut stream).await, expected);
    }
    quiet(&mut stream).await;
    // Numbering goes on where it was.
    let next = chat
        .post(post("lobby", "four"))
        .await
        .expect("post")
        .into_inner();
    assert_eq!(next.id, 4);
    assert_eq!(next_message(&mut stream).await, next);
}

async fn a_cursor_resumes_with_exactly_what_was_missed(database: Database) {
    let app = database.server().await;
    let mut chat = client(&app).await;
    for n in 1..=5 {
        chat.post(post("r", &format!("m{n}"))).await.expect("post");
    }
    // Saw up to #2: gets 3, 4, 5, then live ones; `history` does not apply.
    let mut stream = chat
        .subscribe(subscribe("r", 1, Some(2)))
        .await
        .expect("subscribe")
        .into_inner();
    for n in 3..=5 {
        assert_eq!(next_message(&mut stream).await.id, n);
    }
    let six = chat.post(post("r", "m6")).await.expect("post").into_inner();
    assert_eq!(next_message(&mut stream).await, six);
    drop(stream);
    app.shutdown().await.expect("clean exit");

    // Across a restart, with more missed than one page of the store (100).
    let app = database
        .server_with(|config| {
            config.state_changes_per_minute = NonZeroU32::new(100_000).expect("non-zero")
        })
        .await;
    let mut chat = client(&app).await;
    for n in 7..=260 {
        chat.post(post("r", &format!("m{n}"))).await.expect("post");
    }
    let mut stream = chat
        .subscribe(subscribe("r", 0, Some(6)))
        .await
        .expect("subscribe")
        .into_inner();
    for n in 7..=260 {
        let message = next_message(&mut stream).await;
        assert_eq!((message.id, message.text), (n, format!("m{n}")));
    }
    quiet(&mut stream).await;
    // A cursor at the end: only what comes next.
    let mut caught_up = chat
        .subscribe(subscribe("r", 0, Some(260)))
        .await
        .expect("subscribe")
        .into_inner();
    quiet(&mut caught_up).await;
    let next = chat
        .post(post("r", "m261"))
        .await
        .expect("post")
        .into_inner();
    assert_eq!(next_message(&mut caught_up).await, next);
    assert_eq!(next_message(&mut stream).await, next);
}

/// Posts keep coming while readers join, each with a different cursor: every reader sees
/// the ids after its cursor in order, with no gap and no repeat, up to the last post.
async fn readers_joining_while_posts_race_miss_nothing_and_get_nothing_twice(database: Database) {
    let app = database
        .server_with(|config| {
            config.state_changes_per_minute = NonZeroU32::new(100_000).expect("non-zero")
        })
        .await;
    let channel = app.native_channel().await;
    let total = 200u64;
    let poster = {
        let mut chat = ChatServiceClient::new(channel.clone());
        tokio::spawn(async move {
            for n in 1..=total {
                chat.post(post("race", &format!("m{n}")))
                    .await
                    .expect("post");
            }
        })
    };
    let mut readers = Vec::new();
    for cursor in (0..total).step_by(20) {
        let mut chat = ChatServiceClient::new(channel.clone());
        readers.push(tokio::spawn(async move {
            let mut stream = chat
                .subscribe(subscribe("race", 0, Some(cursor)))
                .await
                .expect("subscribe")
                .into_inner();
            for expected in cursor + 1..=total {
                assert_eq!(
                    next_message(&mut stream).await.id,
                    expected,
                    "cursor {cursor}"
                );
            }
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    poster.await.expect("poster");
    for reader in readers {
        reader
            .await
            .expect("every reader saw every id once, in order");
    }
}

async fn rooms_are_bounded_and_the_least_active_unread_one_makes_way(database: Database) {
    const MAX_ROOMS: usize = 100;
    let app = database
        .server_with(|config| {
            config.state_changes_per_minute = NonZeroU32::new(100_000).expect("non-zero")
        })
        .await;
    let mut chat = client(&app).await;
    let mut readers = Vec::new();
    for n in 0..MAX_ROOMS {
        chat.post(post(&format!("r{n}"), "x")).await.expect("post");
        readers.push(
            chat.subscribe(subscribe(&format!("r{n}"), 0, None))
                .await
                .expect("subscribe")
                .into_inner(),
        );
    }
    let refused = chat
        .post(post("one-too-many", "x"))
        .await
        .expect_err("every room is read");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // Once r7's reader leaves, r7 is the least recently active room nobody reads.
    drop(readers.swap_remove(7));
    app.wait_until(|| {
        let mut chat = chat.clone();
        async move { chat.post(post("one-too-many", "x")).await.is_ok() }
    })
    .await;
    let mut gone = chat
        .subscribe(subscribe("r7", 10, None))
        .await
        .expect("subscribe")
        .into_inner();
    quiet(&mut gone).await;
    // Read rooms keep their messages.
    let mut kept = chat
        .subscribe(subscribe("r8", 10, None))
        .await
        .expect("subscribe")
        .into_inner();
    assert_eq!(next_message(&mut kept).await.text, "x");
}

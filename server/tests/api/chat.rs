//! `chat.v1.ChatService`: posting, subscribing, the bidi Join, and the bearer token that
//! guards the methods that change state.

use proto::chat::v1::{
    ChatEvent, ChatMessage, JoinRequest, JoinRoom, PostRequest, SubscribeRequest, chat_event,
    chat_service_client::ChatServiceClient, join_request,
};
use proto::greeter::{HelloRequest, greeter_client::GreeterClient};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Streaming};
use tonic_types::StatusExt;

use crate::helpers::{PATIENCE, over_both_transports, spawn_app_with};

const TOKEN: &str = "test-token-0123456789";

fn post(room: &str, author: &str, text: &str) -> PostRequest {
    PostRequest {
        room: room.into(),
        author: author.into(),
        text: text.into(),
    }
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request
}

/// The next chat message of a stream, failing on anything else or on a stall.
async fn next_message(stream: &mut Streaming<ChatEvent>) -> ChatMessage {
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

over_both_transports! {
    async fn subscribers_get_the_history_then_each_new_message(app, channel) {
        let mut client = ChatServiceClient::with_origin(channel, app.uri());
        let first = client.post(post("lobby", "ada", "hello")).await.expect("post").into_inner();
        assert_eq!((first.id, first.author.as_str()), (1, "ada"));
        client.post(post("lobby", "", "hi ada")).await.expect("post");

        let mut stream = client
            .subscribe(SubscribeRequest { room: "lobby".into(), history: 10, ..Default::default() })
            .await
            .expect("subscribe")
            .into_inner();
        let past = [next_message(&mut stream).await, next_message(&mut stream).await];
        assert_eq!(past[0], first);
        assert_eq!((past[1].id, past[1].author.as_str()), (2, "anonymous"));

        let posted = client.post(post("lobby", "bob", "new")).await.expect("post").into_inner();
        let live = next_message(&mut stream).await;
        assert_eq!(live, posted);
        assert_eq!(live.id, 3);
    }
}

over_both_transports! {
    async fn bad_posts_name_the_field(app, channel) {
        let mut client = ChatServiceClient::with_origin(channel, app.uri());
        for (request, field) in [
            (post("Lobby!", "a", "x"), "room"),
            (post("lobby", "a", " "), "text"),
            (post("lobby", "a", &"x".repeat(1001)), "text"),
        ] {
            let status = client.post(request).await.expect_err("refused");
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            let violations = status.get_details_bad_request().expect("BadRequest").field_violations;
            assert_eq!(violations[0].field, field);
        }
        let status = client
            .subscribe(SubscribeRequest { room: "lobby".into(), history: 101, ..Default::default() })
            .await
            .expect_err("too much history");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "history: must be at most 100, got 101");
    }
}

over_both_transports! {
    async fn with_a_token_posting_needs_it_and_reading_does_not(app, channel)
    configured |config| config.auth_token = Some(TOKEN.into());
    {
        let mut client = ChatServiceClient::with_origin(channel.clone(), app.uri());

        let status = client.post(post("r", "a", "x")).await.expect_err("no token");
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert!(status.message().contains("authorization: Bearer"), "{}", status.message());

        let status = client
            .post(with_token(post("r", "a", "x"), "not-the-token"))
            .await
            .expect_err("wrong token");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

        let mut stream = client
            .subscribe(SubscribeRequest { room: "r".into(), history: 10, ..Default::default() })
            .await
            .expect("reading is open")
            .into_inner();
        let posted = client
            .post(with_token(post("r", "a", "x"), TOKEN))
            .await
            .expect("the right token")
            .into_inner();
        // Only the accepted post reached the room.
        assert_eq!(posted.id, 1);
        assert_eq!(next_message(&mut stream).await, posted);

        // The seeds' methods stay open.
        GreeterClient::with_origin(channel, app.uri())
            .say_hello(HelloRequest { name: "Ada".into() })
            .await
            .expect("SayHello needs no token");
    }
}

/// A Join call driven step by step: its sender and its replies.
struct Joined {
    outgoing: mpsc::Sender<JoinRequest>,
    events: Streaming<ChatEvent>,
}

async fn join(
    client: &mut ChatServiceClient<tonic::transport::Channel>,
    room: &str,
    author: &str,
    token: Option<&str>,
) -> Result<Joined, tonic::Status> {
    let (outgoing, receiver) = mpsc::channel(8);
    outgoing
        .send(JoinRequest {
            action: Some(join_request::Action::Join(JoinRoom {
                room: room.into(),
                author: author.into(),
                history: 0,
                after_id: None,
            })),
        })
        .await
        .expect("channel open");
    let requests = ReceiverStream::new(receiver);
    let request = match token {
        Some(token) => with_token(requests, token),
        None => Request::new(requests),
    };
    let events = client.join(request).await?.into_inner();
    Ok(Joined { outgoing, events })
}

fn text(text: &str) -> JoinRequest {
    JoinRequest {
        action: Some(join_request::Action::Text(text.into())),
    }
}

#[tokio::test]
async fn join_posts_each_line_and_passes_on_the_room_to_everyone() {
    let app = spawn_app_with(|_| {}).await;
    let mut client = ChatServiceClient::new(app.native_channel().await);
    let mut ada = join(&mut client, "lobby", "ada", None)
        .await
        .expect("ada joins");
    let mut bob = join(&mut client, "lobby", "bob", None)
        .await
        .expect("bob joins");

    ada.outgoing.send(text("hi bob")).await.expect("open");
    for events in [&mut ada.events, &mut bob.events] {
        let message = next_message(events).await;
        assert_eq!(
            (message.author.as_str(), message.text.as_str()),
            ("ada", "hi bob")
        );
    }
    bob.outgoing.send(text("hi ada")).await.expect("open");
    assert_eq!(next_message(&mut ada.events).await.text, "hi ada");

    // Closing the sending side leaves the room: the call ends normally.
    drop(ada.outgoing);
    let end = tokio::time::timeout(PATIENCE, async {
        // Bob's message may still be on its way to Ada before the end.
        loop {
            match ada.events.message().await {
                Ok(Some(_)) => continue,
                other => break other,
            }
        }
    })
    .await
    .expect("the call ends");
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test]
async fn join_refuses_a_bad_line_by_its_number_and_a_first_message_that_is_not_join() {
    let app = spawn_app_with(|_| {}).await;
    let mut client = ChatServiceClient::new(app.native_channel().await);
    let mut ada = join(&mut client, "lobby", "ada", None)
        .await
        .expect("joins");
    ada.outgoing.send(text("fine")).await.expect("open");
    ada.outgoing.send(text("")).await.expect("open");
    assert_eq!(next_message(&mut ada.events).await.text, "fine");
    let status = tokio::time::timeout(PATIENCE, ada.events.message())
        .await
        .expect("refused in time")
        .expect_err("the empty line is refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "text: must not be empty (message 3)");

    let (outgoing, receiver) = mpsc::channel(1);
    outgoing.send(text("no join first")).await.expect("open");
    let status = client
        .join(ReceiverStream::new(receiver))
        .await
        .expect_err("must join first");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("join: "),
        "{}",
        status.message()
    );
}

/// Every message posted through Join takes from the client's change budget, as a Post does:
/// the call costs one, each message one more; over the budget the stream ends with
/// RESOURCE_EXHAUSTED and a RetryInfo.
#[tokio::test]
async fn join_posts_take_from_the_same_budget_as_post() {
    let app = spawn_app_with(|config| {
        config.state_changes_per_minute = std::num::NonZeroU32::new(3).expect("not zero");
    })
    .await;
    let mut client = ChatServiceClient::new(app.native_channel().await);
    let mut ada = join(&mut client, "lobby", "ada", None)
        .await
        .expect("joins (1 of 3)");
    for line in ["one (2 of 3)", "two (3 of 3)", "three (over)"] {
        ada.outgoing.send(text(line)).await.expect("open");
    }
    assert_eq!(next_message(&mut ada.events).await.text, "one (2 of 3)");
    assert_eq!(next_message(&mut ada.events).await.text, "two (3 of 3)");
    let status = tokio::time::timeout(PATIENCE, ada.events.message())
        .await
        .expect("refused in time")
        .expect_err("over the budget");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.get_details_retry_info().is_some(), "{status:?}");
    // The budget is shared: a Post from the same client is refused too.
    let status = client
        .post(PostRequest {
            room: "lobby".into(),
            author: "ada".into(),
            text: "four".into(),
        })
        .await
        .expect_err("over the budget");
    assert_eq!(status.code(), Code::ResourceExhausted);
}

/// A message the server cannot take on the request stream (here: over
/// `--max-message-bytes`) ends the Join call with that status, never with OK.
#[tokio::test]
async fn join_ends_with_the_request_streams_error() {
    let app = spawn_app_with(|config| config.max_message_bytes = 1024).await;
    let mut client = ChatServiceClient::new(app.native_channel().await);
    let mut ada = join(&mut client, "lobby", "ada", None)
        .await
        .expect("joins");
    ada.outgoing.send(text("fits")).await.expect("open");
    // 1,000 characters (the text limit) of 3 bytes each: over the 1 KiB message limit.
    ada.outgoing
        .send(text(&"語".repeat(1000)))
        .await
        .expect("open");
    assert_eq!(next_message(&mut ada.events).await.text, "fits");
    let end = tokio::time::timeout(PATIENCE, ada.events.message())
        .await
        .expect("ends in time");
    let status = end.expect_err("the call fails, not OK");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn join_needs_the_token_when_one_is_configured() {
    let app = spawn_app_with(|config| config.auth_token = Some(TOKEN.into())).await;
    let mut client = ChatServiceClient::new(app.native_channel().await);
    let status = join(&mut client, "r", "a", None)
        .await
        .err()
        .expect("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = join(&mut client, "r", "a", Some("wrong"))
        .await
        .err()
        .expect("wrong");
    assert_eq!(status.code(), Code::PermissionDenied);
    let mut joined = join(&mut client, "r", "a", Some(TOKEN))
        .await
        .expect("the token");
    joined.outgoing.send(text("in")).await.expect("open");
    assert_eq!(next_message(&mut joined.events).await.text, "in");
}

#[tokio::test]
async fn shutdown_ends_subscriptions_with_unavailable() {
    let app = spawn_app_with(|_| {}).await;
    let mut client = ChatServiceClient::new(app.native_channel().await);
    let mut stream = client
        .subscribe(SubscribeRequest {
            room: "r".into(),
            history: 0,
            after_id: None,
        })
        .await
        .expect("subscribe")
        .into_inner();
    let server = tokio::spawn(app.shutdown());
    let status = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("ends in time")
        .expect_err("ends with a status");
    assert_eq!(status.code(), Code::Unavailable);
    server.await.expect("joined").expect("clean stop");
}

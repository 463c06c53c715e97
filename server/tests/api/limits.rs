//! What one client can make the server hold is bounded: its share of the calls in flight,
//! how long a call may keep its request open without sending, and how long it may run
//! without closing it; and behind a trusted proxy, each user is a client of their own, with
//! refused calls costing nobody's budget.

use std::{net::IpAddr, time::Duration};

use futures_util::StreamExt;
use proto::{
    chat::v1::{PostRequest, chat_service_client::ChatServiceClient},
    greeter::{HelloRequest, greeter_client::GreeterClient},
    weather::v1::{WatchConditionsRequest, weather_service_client::WeatherServiceClient},
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{
    Code, Request,
    transport::{Channel, Endpoint},
};

use crate::helpers::{PATIENCE, TestApp, spawn_app_with};

/// A channel whose connection comes from `local` (any 127.0.0.0/8 address is this host).
async fn channel_from(app: &TestApp, local: &str) -> Channel {
    Endpoint::from_shared(app.url())
        .expect("valid")
        .local_address(Some(local.parse::<IpAddr>().expect("an address")))
        .connect()
        .await
        .expect("connects")
}

async fn watch(
    channel: &Channel,
) -> Result<tonic::Streaming<proto::weather::v1::CurrentConditions>, tonic::Status> {
    let mut stream = WeatherServiceClient::new(channel.clone())
        .watch_conditions(WatchConditionsRequest {
            city_id: "oslo-no".into(),
        })
        .await?
        .into_inner();
    stream.message().await?.expect("a first reading");
    Ok(stream)
}

#[tokio::test]
async fn one_client_cannot_take_every_slot() {
    let app = spawn_app_with(|config| config.max_in_flight_per_client = 2).await;
    let ada = channel_from(&app, "127.0.0.1").await;
    let mut held = vec![
        watch(&ada).await.expect("1 of 2"),
        watch(&ada).await.expect("2 of 2"),
    ];
    let status = watch(&ada).await.expect_err("over this client's share");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        status.message(),
        "this client is at its limit of 2 calls in flight; end some first"
    );
    // Another client is served meanwhile.
    let bob = channel_from(&app, "127.0.0.2").await;
    let _bobs = watch(&bob).await.expect("another client has its own share");
    GreeterClient::new(bob)
        .say_hello(HelloRequest { name: "bob".into() })
        .await
        .expect("served");
    // A call that ends gives its slot back.
    held.pop();
    app.wait_until(|| async { watch(&ada).await.is_ok() }).await;
}

#[tokio::test]
async fn a_request_that_sends_nothing_is_ended_and_frees_its_slot() {
    let app = spawn_app_with(|config| {
        config.request_idle_timeout = Duration::from_secs(1);
        config.max_in_flight_per_client = 1;
    })
    .await;
    let channel = app.native_channel().await;
    // Client streaming: the names never come, and the client never closes its side.
    let (_keep_open, names) = mpsc::channel::<HelloRequest>(1);
    let status = tokio::time::timeout(
        PATIENCE,
        GreeterClient::new(channel.clone()).say_hello_to_all(ReceiverStream::new(names)),
    )
    .await
    .expect("ended by the server")
    .expect_err("ended with a status");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(
        status.message(),
        "the request sent nothing for 1s: the server ended the call"
    );
    // Its slot is free again: the one call this client may have is served.
    app.wait_until(|| async {
        GreeterClient::new(channel.clone())
            .say_hello(HelloRequest {
                name: "next".into(),
            })
            .await
            .is_ok()
    })
    .await;
}

#[tokio::test]
async fn a_unary_request_that_never_arrives_is_ended() {
    use bytes::Bytes;
    use http_body_util::StreamBody;
    use hyper_util::{client::legacy::Client, rt::TokioExecutor};

    let app = spawn_app_with(|config| config.request_idle_timeout = Duration::from_secs(1)).await;
    // Headers, then a body that never sends anything and never ends.
    let never = futures_util::stream::pending::<Result<http_body::Frame<Bytes>, std::io::Error>>();
    let request = http::Request::post(format!("{}/Greeter/SayHello", app.url()))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(StreamBody::new(never))
        .expect("request");
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let response = tokio::time::timeout(PATIENCE, client.request(request))
        .await
        .expect("answered in time")
        .expect("an answer");
    assert_eq!(response.headers()["grpc-status"], "4");
}

#[tokio::test]
async fn a_call_whose_client_never_closes_its_side_has_a_lifetime() {
    let app = spawn_app_with(|config| config.max_call_duration = Duration::from_secs(2)).await;
    let (names, receiver) = mpsc::channel::<HelloRequest>(1);
    let mut replies = GreeterClient::new(app.native_channel().await)
        .converse(ReceiverStream::new(receiver))
        .await
        .expect("starts")
        .into_inner();
    // A name every 200 ms: never idle, never closed.
    let sender = tokio::spawn(async move {
        for n in 0.. {
            if names
                .send(HelloRequest {
                    name: format!("n{n}"),
                })
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let status = tokio::time::timeout(PATIENCE, async {
        loop {
            match replies.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("ended without a status"),
                Err(status) => break status,
            }
        }
    })
    .await
    .expect("ended by the server");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        status.message().contains("limit of 2s"),
        "{}",
        status.message()
    );
    sender.abort();
}

/// chat Join keeps its request open by design: a quiet member is not cut off.
#[tokio::test]
async fn a_quiet_chat_member_stays() {
    use proto::chat::v1::{JoinRequest, JoinRoom, join_request};
    let app = spawn_app_with(|config| config.request_idle_timeout = Duration::from_secs(1)).await;
    let (outgoing, receiver) = mpsc::channel(4);
    outgoing
        .send(JoinRequest {
            action: Some(join_request::Action::Join(JoinRoom {
                room: "quiet".into(),
                author: "ada".into(),
                history: 0,
                after_id: None,
            })),
        })
        .await
        .expect("open");
    let mut events = ChatServiceClient::new(app.native_channel().await)
        .join(ReceiverStream::new(receiver))
        .await
        .expect("joins")
        .into_inner();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    outgoing
        .send(JoinRequest {
            action: Some(join_request::Action::Text("still here".into())),
        })
        .await
        .expect("open");
    let event = tokio::time::timeout(PATIENCE, events.next())
        .await
        .expect("in time")
        .expect("an event")
        .expect("the call is still open");
    assert!(format!("{event:?}").contains("still here"), "{event:?}");
}

fn forwarded_for(message: PostRequest, client: &str) -> Request<PostRequest> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("x-forwarded-for", client.parse().expect("ascii"));
    request
}

fn post() -> PostRequest {
    PostRequest {
        room: "r".into(),
        author: "a".into(),
        text: "hi".into(),
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = spawn_app_with(|config| {
        config.state_changes_per_minute = std::num::NonZeroU32::new(2).expect("not zero");
        config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("CIDR")];
    })
    .await;
    let mut chat = ChatServiceClient::new(app.native_channel().await);
    for _ in 0..2 {
        chat.post(forwarded_for(post(), "203.0.113.1"))
            .await
            .expect("within the rate");
    }
    let status = chat
        .post(forwarded_for(post(), "203.0.113.1"))
        .await
        .expect_err("this user is over the rate");
    assert_eq!(status.code(), Code::ResourceExhausted);
    chat.post(forwarded_for(post(), "203.0.113.2"))
        .await
        .expect("another user behind the same proxy has a budget of its own");
}

#[tokio::test]
async fn from_an_untrusted_peer_forwarding_headers_are_ignored() {
    let app = spawn_app_with(|config| {
        config.state_changes_per_minute = std::num::NonZeroU32::new(2).expect("not zero");
    })
    .await;
    let mut chat = ChatServiceClient::new(app.native_channel().await);
    for client in ["203.0.113.1", "203.0.113.2"] {
        chat.post(forwarded_for(post(), client))
            .await
            .expect("within the rate");
    }
    let status = chat
        .post(forwarded_for(post(), "203.0.113.3"))
        .await
        .expect_err("one client, whatever it claims");
    assert_eq!(status.code(), Code::ResourceExhausted);
}

#[tokio::test]
async fn calls_refused_for_their_token_cost_nobody_any_budget() {
    const TOKEN: &str = "s3cret-token";
    let app = spawn_app_with(|config| {
        config.state_changes_per_minute = std::num::NonZeroU32::new(2).expect("not zero");
        config.auth_token = Some(TOKEN.into());
    })
    .await;
    let mut chat = ChatServiceClient::new(app.native_channel().await);
    for _ in 0..10 {
        let status = chat.post(post()).await.expect_err("no token");
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    for _ in 0..2 {
        let mut request = Request::new(post());
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {TOKEN}").parse().expect("ascii"),
        );
        chat.post(request).await.expect("the whole budget is left");
    }
}

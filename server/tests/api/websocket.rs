//! grpc-ws (`docs/websocket-transport.md`): the four call modes through tonic's generated
//! clients over one WebSocket (the protocol's native client, `grpc_ws::client`), metadata
//! and errors both ways, a call dropped mid-way cancelled on the server, flow control on a
//! large client stream, and the upgrade refused to other origins and to clients that do
//! not ask for the subprotocol.

use std::time::Duration;

use grpc_ws::client::Client;
use proto::greeter::{HelloRequest, HelloStreamRequest, greeter_client::GreeterClient};
use testkit::{PATIENCE, TestServer};
use tonic::Code;

use crate::helpers::spawn_app;

fn socket(app: &TestServer) -> GreeterClient<Client> {
    GreeterClient::new(Client::new(format!(
        "ws://{}{}",
        app.address,
        grpc_ws::PATH
    )))
}

fn names(names: &[&str]) -> impl futures_util::Stream<Item = HelloRequest> + Send + 'static {
    let names: Vec<HelloRequest> = names
        .iter()
        .map(|name| HelloRequest {
            name: (*name).to_owned(),
        })
        .collect();
    futures_util::stream::iter(names)
}

#[tokio::test]
async fn all_four_modes_over_one_socket() {
    let app = spawn_app().await;
    let mut client = socket(&app);

    let reply = client
        .say_hello(HelloRequest { name: "Ada".into() })
        .await
        .expect("unary");
    assert_eq!(reply.get_ref().message, "Hello, Ada!");
    assert!(
        reply.metadata().contains_key("x-request-id"),
        "response headers come back"
    );

    let mut stream = client
        .say_hello_stream(HelloStreamRequest {
            name: "Ada".into(),
            count: 3,
            interval_ms: 10,
        })
        .await
        .expect("server streaming")
        .into_inner();
    let mut replies = Vec::new();
    while let Some(reply) = stream.message().await.expect("a reply") {
        replies.push(reply.message);
    }
    assert_eq!(replies.len(), 3, "{replies:?}");

    let summary = client
        .say_hello_to_all(names(&["Ada", "Grace", "Ada"]))
        .await
        .expect("client streaming")
        .into_inner();
    assert_eq!((summary.count, summary.distinct_count), (3, 2));

    // Bidi: each answer arrives before the next name is sent.
    let (names_in, names_out) = tokio::sync::mpsc::channel::<HelloRequest>(1);
    let mut answers = client
        .converse(tokio_stream::wrappers::ReceiverStream::new(names_out))
        .await
        .expect("bidi")
        .into_inner();
    for name in ["Ada", "Grace", "Linus"] {
        names_in
            .send(HelloRequest { name: name.into() })
            .await
            .expect("sent");
        let answer = tokio::time::timeout(PATIENCE, answers.message())
            .await
            .expect("an answer before the next name")
            .expect("no error")
            .expect("the conversation goes on");
        assert!(answer.message.contains(name), "{}", answer.message);
    }
    drop(names_in);
    assert!(
        tokio::time::timeout(PATIENCE, answers.message())
            .await
            .expect("the end in time")
            .expect("a clean end")
            .is_none()
    );
}

#[tokio::test]
async fn errors_come_back_with_their_code_and_the_token_goes_along() {
    let app = TestServer::spawn_with(|config| config.auth_token = Some("ws-token".into())).await;
    let mut client = socket(&app);
    let refused = client
        .say_hello(HelloRequest {
            name: String::new(),
        })
        .await
        .expect_err("an empty name");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("name:"),
        "{}",
        refused.message()
    );

    use proto::chat::v1::{PostRequest, chat_service_client::ChatServiceClient};
    let mut chat = ChatServiceClient::new(Client::new(format!(
        "ws://{}{}",
        app.address,
        grpc_ws::PATH
    )));
    let post = || PostRequest {
        room: "ws".into(),
        author: "ada".into(),
        text: "over the socket".into(),
    };
    let denied = chat.post(post()).await.expect_err("no token");
    assert_eq!(denied.code(), Code::Unauthenticated);
    let mut request = tonic::Request::new(post());
    request
        .metadata_mut()
        .insert("authorization", "Bearer ws-token".parse().expect("ascii"));
    chat.post(request).await.expect("with the token");
}

#[tokio::test]
async fn a_large_client_stream_passes_within_the_windows() {
    let app = spawn_app().await;
    let mut client = socket(&app);
    // 5,000 names of 200 bytes: about 1 MB, far past one 64 KiB window.
    let long: Vec<String> = (0..5_000).map(|n| format!("{n:0>200}")).collect();
    let requests = futures_util::stream::iter(long.into_iter().map(|name| HelloRequest {
        name: name[..100].to_owned(),
    }));
    let summary = tokio::time::timeout(PATIENCE, client.say_hello_to_all(requests))
        .await
        .expect("in time")
        .expect("client streaming")
        .into_inner();
    assert_eq!(summary.count, 5_000);
}

#[tokio::test]
async fn a_dropped_call_is_cancelled_on_the_server() {
    let app = spawn_app().await;
    let mut client = socket(&app);
    let mut stream = client
        .say_hello_stream(HelloStreamRequest {
            name: "Ada".into(),
            count: 100,
            interval_ms: 100,
        })
        .await
        .expect("streaming")
        .into_inner();
    stream.message().await.expect("first").expect("a reply");
    drop(stream);
    // The server logs the call's end as CANCELLED, and the socket goes on serving.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = client
        .say_hello(HelloRequest {
            name: "after".into(),
        })
        .await
        .expect("the socket still serves");
    assert_eq!(reply.get_ref().message, "Hello, after!");
    let metrics = reqwest::get(&app.metrics_url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|line| line.contains("SayHelloStream") && line.contains("CANCELLED")),
        "the stream ended as cancelled:\n{metrics}"
    );
}

#[tokio::test]
async fn the_upgrade_is_refused_to_other_origins_and_without_the_subprotocol() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let upgrade = |origin: Option<&'static str>, protocol: Option<&'static str>| {
        let mut request = http
            .get(format!("{}{}", app.url(), grpc_ws::PATH))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(protocol) = protocol {
            request = request.header("sec-websocket-protocol", protocol);
        }
        request.send()
    };
    let foreign = upgrade(Some("https://evil.example"), Some(grpc_ws::SUBPROTOCOL))
        .await
        .expect("answered");
    assert_eq!(foreign.status(), 403);
    let bare = upgrade(None, None).await.expect("answered");
    assert_eq!(bare.status(), 400);
    assert!(
        bare.text()
            .await
            .expect("text")
            .contains(grpc_ws::SUBPROTOCOL),
        "says what to ask for"
    );
}

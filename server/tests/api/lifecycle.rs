//! Health, reflection, and graceful shutdown.

use std::time::Duration;

use proto::{
    greeter::{HelloStreamRequest, greeter_client::GreeterClient},
    weather::v1::{WatchConditionsRequest, weather_service_client::WeatherServiceClient},
};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

use crate::helpers::{PATIENCE, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_reports_every_service_serving() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.native_channel().await);
    for service in ["", "Greeter", "demo.MyService", "weather.v1.WeatherService"] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(response.status(), ServingStatus::Serving, "'{service}'");
    }
    let status = health
        .check(HealthCheckRequest {
            service: "nope.Service".into(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn reflection_lists_the_services() {
    let app = spawn_app().await;
    let mut reflection = ServerReflectionClient::new(app.native_channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses
        .next()
        .await
        .expect("a response")
        .expect("no error");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list, got {response:?}");
    };
    let names: Vec<_> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for expected in [
        "Greeter",
        "demo.MyService",
        "weather.v1.WeatherService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} in {names:?}"
        );
    }
}

/// Clients that only speak `grpc.reflection.v1alpha` (grpcio-reflection's Python descriptor
/// database, older grpcurl) list the services and fetch a service's file.
#[tokio::test]
async fn reflection_v1alpha_serves_older_clients() {
    use prost::Message as _;
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let app = spawn_app().await;
    let mut reflection = ServerReflectionClient::new(app.native_channel().await);
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("weather.v1.WeatherService".into()),
    ]
    .map(|message| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    });
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("v1alpha reflection is served")
        .into_inner();
    let list = responses
        .next()
        .await
        .expect("a response")
        .expect("no error");
    let Some(MessageResponse::ListServicesResponse(list)) = list.message_response else {
        panic!("expected a service list, got {list:?}");
    };
    let names: Vec<_> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for expected in [
        "Greeter",
        "weather.v1.WeatherService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} in {names:?}"
        );
    }
    let file = responses
        .next()
        .await
        .expect("a response")
        .expect("no error");
    let Some(MessageResponse::FileDescriptorResponse(file)) = file.message_response else {
        panic!("expected a file descriptor, got {file:?}");
    };
    let descriptor = prost_types::FileDescriptorProto::decode(
        file.file_descriptor_proto
            .first()
            .expect("one file")
            .as_slice(),
    )
    .expect("a file descriptor");
    assert_eq!(descriptor.package(), "weather.v1");
    assert!(
        descriptor
            .service
            .iter()
            .any(|service| service.name() == "WeatherService")
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_with_unavailable_and_stops_their_work() {
    let app = spawn_app().await;
    let channel = app.native_channel().await;
    let mut weather = WeatherServiceClient::new(channel.clone())
        .watch_conditions(WatchConditionsRequest {
            city_id: "paris-fr".into(),
        })
        .await
        .expect("watch starts")
        .into_inner();
    weather
        .message()
        .await
        .expect("no error")
        .expect("first reading");
    let mut greetings = GreeterClient::new(channel)
        .say_hello_stream(HelloStreamRequest {
            name: "Ada".into(),
            count: 100,
            interval_ms: 1_000,
        })
        .await
        .expect("stream starts")
        .into_inner();
    greetings
        .message()
        .await
        .expect("no error")
        .expect("first greeting");

    let hub = app.hub.clone();
    let server = tokio::spawn(app.shutdown());

    for status in [drain(&mut weather).await, drain(&mut greetings).await] {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.message().contains("shutting down"), "{status:?}");
    }
    server.await.expect("no panic").expect("clean exit");
    assert_eq!(*hub.producers().borrow(), 0, "live producers stopped");
}

/// Reads a stream to its end and returns the status it ended with.
async fn drain<T>(stream: &mut tonic::Streaming<T>) -> tonic::Status {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return tonic::Status::ok("ended"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the stream ends during shutdown")
}

/// A call the server does not end itself (a client stream still open) holds the exit until
/// the grace period, and no longer; a health watch sees NOT_SERVING and then ends.
#[tokio::test]
async fn draining_server_reports_not_serving_and_exits_after_the_grace_period() {
    use proto::greeter::HelloRequest;
    let grace = Duration::from_millis(500);
    let app = spawn_app_with(|config| config.shutdown_grace = grace).await;
    let channel = app.native_channel().await;
    let mut health = HealthClient::new(channel.clone());
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("no error").expect("status");
    assert_eq!(first.status(), ServingStatus::Serving);
    let (_keep_open, names) = tokio::sync::mpsc::channel::<HelloRequest>(1);
    let mut greeter = GreeterClient::new(channel);
    let held = tokio::spawn(async move {
        greeter
            .say_hello_to_all(tokio_stream::wrappers::ReceiverStream::new(names))
            .await
    });
    app.wait_until(|| async {
        let metrics = reqwest::get(&app.metrics_url).await.expect("metrics");
        let text = metrics.text().await.expect("text");
        // The health watch and the client stream.
        text.lines().any(|line| line == "grpc_server_in_flight 2")
    })
    .await;

    let started = std::time::Instant::now();
    let server = tokio::spawn(app.shutdown());
    let next = tokio::time::timeout(PATIENCE, watch.message())
        .await
        .expect("a status change")
        .expect("no error")
        .expect("status");
    assert_eq!(next.status(), ServingStatus::NotServing);
    let end = tokio::time::timeout(PATIENCE, watch.message())
        .await
        .expect("the watch ends during the drain");
    assert!(!matches!(end, Ok(Some(_))), "no further status: {end:?}");
    server
        .await
        .expect("no panic")
        .expect("exits after the grace period");
    let took = started.elapsed();
    assert!(
        took >= grace,
        "the open call held the exit for the grace: {took:?}"
    );
    assert!(took < grace * 6, "and not much longer: {took:?}");
    held.abort();
}

/// The drain order a balancer needs: NOT_SERVING first, while the server still accepts and
/// serves new connections for the drain delay; then it stops accepting; a health watch
/// never holds the exit.
#[tokio::test]
async fn draining_reports_not_serving_before_it_stops_accepting() {
    use proto::greeter::HelloRequest;
    let delay = Duration::from_secs(1);
    let app = spawn_app_with(|config| {
        config.drain_delay = delay;
        config.shutdown_grace = Duration::from_secs(30);
    })
    .await;
    let url = app.url();
    let mut health = HealthClient::new(app.native_channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    watch.message().await.expect("no error").expect("status");

    let started = std::time::Instant::now();
    let server = tokio::spawn(app.shutdown());
    let next = watch.message().await.expect("no error").expect("status");
    assert_eq!(next.status(), ServingStatus::NotServing);
    // Still serving, on a new connection too, while health says NOT_SERVING.
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .expect("valid")
        .connect()
        .await
        .expect("still accepting during the drain delay");
    let reply = GreeterClient::new(channel)
        .say_hello(HelloRequest {
            name: "late".into(),
        })
        .await
        .expect("still serving during the drain delay");
    assert_eq!(reply.into_inner().message, "Hello, late!");
    assert!(started.elapsed() < delay, "that was within the delay");

    server.await.expect("no panic").expect("clean exit");
    let took = started.elapsed();
    assert!(took >= delay, "served for the whole delay: {took:?}");
    assert!(
        took < Duration::from_secs(10),
        "the open health watch did not hold the exit: {took:?}"
    );
    let refused = tonic::transport::Endpoint::from_shared(url)
        .expect("valid")
        .connect()
        .await;
    assert!(refused.is_err(), "no longer accepting");
}

/// A balancer connects, and writes its request a moment later: if the server began to shut
/// down in between, that request is still served (it cannot be retried elsewhere once sent,
/// as a gRPC call is a POST), though no new connection is taken by then.
#[tokio::test]
async fn a_connection_accepted_before_the_drain_has_its_first_request_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|config| config.shutdown_grace = Duration::from_secs(30)).await;
    let address = app.address;
    let mut early = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    // Let the accept loop take it.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let server = tokio::spawn(app.shutdown());
    tokio::time::timeout(PATIENCE, async {
        while tokio::net::TcpStream::connect(address).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the server stops accepting");

    // gRPC-Web over HTTP/1.1: Greeter.SayHello { name: "Ada" }.
    let message = [0x0a, 0x03, b'A', b'd', b'a'];
    let mut body = vec![0, 0, 0, 0, message.len() as u8];
    body.extend_from_slice(&message);
    let head = format!(
        "POST /Greeter/SayHello HTTP/1.1\r\nhost: {address}\r\n\
         content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    early.write_all(head.as_bytes()).await.expect("writes");
    early.write_all(&body).await.expect("writes");
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, early.read_to_end(&mut answer))
        .await
        .expect("answered within the test's patience")
        .expect("reads");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Hello, Ada!"), "{answer}");
    assert!(answer.contains("grpc-status:0"), "{answer}");

    server.await.expect("no panic").expect("clean exit");
}

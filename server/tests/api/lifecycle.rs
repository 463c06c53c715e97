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

#[tokio::test]
async fn draining_server_reports_not_serving_and_exits_after_the_grace_period() {
    let app = spawn_app_with(|config| config.shutdown_grace = Duration::from_millis(500)).await;
    let mut health = HealthClient::new(app.native_channel().await);
    // A health watch is a stream the server does not end itself: the grace period bounds it.
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("no error").expect("status");
    assert_eq!(first.status(), ServingStatus::Serving);

    let server = tokio::spawn(app.shutdown());
    let next = tokio::time::timeout(PATIENCE, watch.message())
        .await
        .expect("a status change")
        .expect("no error")
        .expect("status");
    assert_eq!(next.status(), ServingStatus::NotServing);
    server
        .await
        .expect("no panic")
        .expect("exits after the grace period");
}

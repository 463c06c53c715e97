//! Prometheus metrics on their own address: calls by method and code, latency, message
//! bytes, open streams, live producers, process figures.

use proto::{
    greeter::{HelloRequest, greeter_client::GreeterClient},
    weather::v1::{WatchRequest, weather_service_client::WeatherServiceClient},
};

use crate::helpers::spawn_app;

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.expect("metrics answer");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text")
    );
    response.text().await.expect("text")
}

/// The value of the sample line that starts with `series ` (exactly that name and labels).
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

#[tokio::test]
async fn calls_streams_and_the_process_are_measured() {
    let app = spawn_app().await;
    let channel = app.native_channel().await;
    let mut greeter = GreeterClient::new(channel.clone());
    greeter
        .say_hello(HelloRequest { name: "Ada".into() })
        .await
        .expect("OK");
    greeter
        .say_hello(HelloRequest {
            name: "Grace".into(),
        })
        .await
        .expect("OK");
    greeter
        .say_hello(HelloRequest {
            name: String::new(),
        })
        .await
        .expect_err("INVALID_ARGUMENT");
    let mut stream = WeatherServiceClient::new(channel)
        .watch(WatchRequest {
            city_ids: vec!["oslo-no".into()],
        })
        .await
        .expect("watch")
        .into_inner();
    stream
        .message()
        .await
        .expect("no error")
        .expect("first reading");

    let metrics = scrape(&app.metrics_url).await;
    let ok = r#"grpc_server_handled_total{method="/Greeter/SayHello",code="OK"}"#;
    let invalid =
        r#"grpc_server_handled_total{method="/Greeter/SayHello",code="INVALID_ARGUMENT"}"#;
    assert_eq!(value(&metrics, ok), Some(2.0), "{metrics}");
    assert_eq!(value(&metrics, invalid), Some(1.0), "{metrics}");
    let latency = r#"grpc_server_handling_seconds_count{method="/Greeter/SayHello"}"#;
    assert_eq!(value(&metrics, latency), Some(3.0), "{metrics}");
    let sent = r#"grpc_server_response_bytes_sum{method="/Greeter/SayHello"}"#;
    assert!(
        value(&metrics, sent).is_some_and(|bytes| bytes > 0.0),
        "{metrics}"
    );
    let received = r#"grpc_server_request_bytes_sum{method="/Greeter/SayHello"}"#;
    // "Ada" and "Grace" and "": each message is 5 bytes of framing plus its protobuf.
    assert_eq!(
        value(&metrics, received),
        Some((5.0 + 5.0) + (5.0 + 7.0) + 5.0),
        "{metrics}"
    );
    assert_eq!(
        value(&metrics, "grpc_server_open_streams"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        value(&metrics, "grpc_server_in_flight"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        value(&metrics, "weather_live_producers"),
        Some(1.0),
        "{metrics}"
    );
    assert!(value(&metrics, "process_resident_memory_bytes").is_some_and(|bytes| bytes > 1e6));
    assert!(value(&metrics, "process_open_fds").is_some_and(|fds| fds > 0.0));

    // The stream ends: it is no longer open, and it is counted as finished.
    drop(stream);
    app.wait_for_no_producers().await;
    let metrics = tokio::time::timeout(crate::helpers::PATIENCE, async {
        loop {
            let metrics = scrape(&app.metrics_url).await;
            if value(&metrics, "grpc_server_open_streams") == Some(0.0) {
                return metrics;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the stream's end is counted");
    let watched =
        r#"grpc_server_handled_total{method="/weather.v1.WeatherService/Watch",code="CANCELLED"}"#;
    assert_eq!(value(&metrics, watched), Some(1.0), "{metrics}");
}

/// The number of series (sample lines) in a scrape.
fn series(metrics: &str) -> usize {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .count()
}

/// Made-up method names cannot add series: every path the server does not serve is counted
/// under one `unknown` label.
#[tokio::test]
async fn unknown_methods_share_one_series() {
    use proto::grpc_testing::Empty;
    use tonic::{client::Grpc, codegen::http::uri::PathAndQuery};

    let app = spawn_app().await;
    let mut grpc = Grpc::new(app.native_channel().await);
    let mut call = async |path: String| {
        grpc.ready().await.expect("ready");
        let status = grpc
            .unary(
                tonic::Request::new(Empty {}),
                PathAndQuery::try_from(path).expect("a path"),
                tonic_prost::ProstCodec::<Empty, Empty>::default(),
            )
            .await
            .expect_err("no such method");
        assert_eq!(status.code(), tonic::Code::Unimplemented);
    };
    // Made-up methods of served services: each reaches its service, which refuses it.
    call("/Greeter/NoSuchMethod".into()).await;
    call("/grpc.testing.TestService/NoSuchMethod".into()).await;
    let before = scrape(&app.metrics_url).await;
    for n in 0..500 {
        call(format!("/Greeter/Attack{n}")).await;
        call(format!("/grpc.testing.TestService/Attack{n}")).await;
    }
    let after = scrape(&app.metrics_url).await;
    assert_eq!(series(&after), series(&before), "no series added:\n{after}");
    assert_eq!(
        value(
            &after,
            r#"grpc_server_handled_total{method="unknown",code="UNIMPLEMENTED"}"#
        ),
        Some(1002.0)
    );
    assert!(!after.contains("Attack"), "no made-up name in the metrics");
}

#[tokio::test]
async fn a_client_stream_dropped_before_its_answer_is_counted_as_cancelled() {
    let app = spawn_app().await;
    // Over grpc-ws, where a CANCEL drops the handler's call outright (over HTTP/2 the
    // handler hears the reset and ends it itself): either way it is counted and logged.
    let mut greeter = GreeterClient::new(grpc_ws::client::Client::new(format!(
        "ws://{}{}",
        app.address,
        grpc_ws::PATH
    )));
    let (names, stream) = tokio::sync::mpsc::channel::<HelloRequest>(4);
    names
        .send(HelloRequest { name: "Ada".into() })
        .await
        .expect("queued");
    // The handler has the call (and waits for more names) when it is dropped.
    let call = tokio::spawn(async move {
        greeter
            .say_hello_to_all(tokio_stream::wrappers::ReceiverStream::new(stream))
            .await
    });
    let cancelled =
        r#"grpc_server_handled_total{method="/Greeter/SayHelloToAll",code="CANCELLED"}"#;
    tokio::time::timeout(crate::helpers::PATIENCE, async {
        while value(&scrape(&app.metrics_url).await, "grpc_server_in_flight") != Some(1.0) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the call is in flight");
    call.abort();
    let metrics = tokio::time::timeout(crate::helpers::PATIENCE, async {
        loop {
            let metrics = scrape(&app.metrics_url).await;
            if value(&metrics, cancelled).is_some() {
                return metrics;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the dropped call is counted (and logged) as CANCELLED");
    assert_eq!(value(&metrics, cancelled), Some(1.0), "{metrics}");
    assert_eq!(
        value(&metrics, "grpc_server_in_flight"),
        Some(0.0),
        "{metrics}"
    );
    drop(names);
}

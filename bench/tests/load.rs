//! The load tool against a real server on 127.0.0.1:0: its JSON result counts the calls,
//! and failures by their code.

use testkit::TestServer;
use tokio::process::Command;

async fn run_load(url: &str, args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_load"))
        .args([
            "--target",
            url,
            "--duration",
            "1s",
            "--warmup",
            "200ms",
            "--json",
        ])
        .args(args)
        .output()
        .await
        .expect("the load tool runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("JSON")
}

#[tokio::test]
async fn counts_calls_and_failures_by_code_over_each_transport() {
    let server = TestServer::spawn().await;
    let url = server.url();

    for transport in ["grpc", "grpc-web", "grpc-web-h2"] {
        let result = run_load(&url, &["--transport", transport, "--concurrency", "4"]).await;
        assert!(result["ok"].as_u64().expect("ok") > 0, "{result}");
        assert_eq!(result["errors"], serde_json::json!({}), "{result}");
        assert_eq!(result["method"], "/demo.MyService/Predict");
    }

    let result = run_load(
        &url,
        &[
            "--method",
            "weather.v1.WeatherService/GetCurrentConditions",
            "--data",
            r#"{"cityId": "atlantis"}"#,
            "--concurrency",
            "2",
        ],
    )
    .await;
    assert_eq!(result["ok"], 0);
    assert!(
        result["errors"]["NOT_FOUND"].as_u64().expect("count") > 0,
        "{result}"
    );

    let streamed = run_load(&url, &["--call", "stream", "--concurrency", "2"]).await;
    let calls = streamed["ok"].as_f64().expect("ok");
    let messages = streamed["messages_per_second"].as_f64().expect("rate")
        * streamed["seconds"].as_f64().expect("s");
    assert!(
        (messages / calls - 100.0).abs() < 1.0,
        "100 messages a stream: {streamed}"
    );
}

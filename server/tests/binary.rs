//! The server binary itself: what it prints at start and how it logs.

use std::process::Stdio;

use proto::greeter::{HelloRequest, greeter_client::GreeterClient};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

const PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

#[tokio::test]
async fn json_logs_carry_the_call_and_its_request_id() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log",
            "info",
        ])
        // Not the developer's environment: only what this test sets.
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let mut stdout = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let address = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stdout.next_line().await.expect("readable") {
            if let Some(address) = line.strip_prefix("listening on ") {
                return address.to_owned();
            }
        }
        panic!("the server did not print its address");
    })
    .await
    .expect("in time");

    let mut client = GreeterClient::connect(format!("http://{address}"))
        .await
        .expect("connects");
    let mut request = tonic::Request::new(HelloRequest {
        name: "Logs".into(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", "json-log-1".parse().expect("ascii"));
    client.say_hello(request).await.expect("call");

    let mut stderr = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let access = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stderr.next_line().await.expect("readable") {
            let entry: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            if entry["target"] == "access" {
                return entry;
            }
        }
        panic!("no access log line");
    })
    .await
    .expect("in time");
    assert_eq!(access["fields"]["method"], "/Greeter/SayHello");
    assert_eq!(access["fields"]["code"], "OK");
    assert_eq!(access["fields"]["request_id"], "json-log-1");
    assert_eq!(access["level"], "INFO");
    server.kill().await.expect("stopped");
}

//! `Greeter`: SayHello and the greeting stream, their bounds and their errors.

use proto::greeter::{HelloRequest, HelloStreamRequest, greeter_client::GreeterClient};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::over_both_transports;

fn assert_invalid(status: &tonic::Status, field: &str, message: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), message);
    let violations = status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations;
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, field);
}

over_both_transports! {
    async fn say_hello_greets_by_name(app, channel) {
        let mut client = GreeterClient::with_origin(channel, app.uri());
        let reply = client
            .say_hello(HelloRequest { name: "Ada".into() })
            .await
            .expect("SayHello succeeds");
        assert_eq!(reply.into_inner().message, "Hello, Ada!");

        let reply = client
            .say_hello(HelloRequest { name: "世界".into() })
            .await
            .expect("SayHello succeeds");
        assert_eq!(reply.into_inner().message, "Hello, 世界!");
    }
}

over_both_transports! {
    async fn say_hello_rejects_empty_and_overlong_names(app, channel) {
        let mut client = GreeterClient::with_origin(channel, app.uri());
        let status = client
            .say_hello(HelloRequest { name: "  ".into() })
            .await
            .expect_err("blank name");
        assert_invalid(&status, "name", "name: must not be empty");

        let status = client
            .say_hello(HelloRequest { name: "x".repeat(201) })
            .await
            .expect_err("name too long");
        assert_invalid(&status, "name", "name: must be at most 200 characters, got 201");
    }
}

over_both_transports! {
    async fn greeting_stream_sends_count_greetings_in_order(app, channel) {
        let mut client = GreeterClient::with_origin(channel, app.uri());
        let mut stream = client
            .say_hello_stream(HelloStreamRequest { name: "Ada".into(), count: 3, interval_ms: 10 })
            .await
            .expect("stream starts")
            .into_inner();
        let mut messages = Vec::new();
        while let Some(reply) = stream.message().await.expect("no error") {
            messages.push(reply.message);
        }
        assert_eq!(
            messages,
            ["Hello, Ada! (1/3)", "Hello, Ada! (2/3)", "Hello, Ada! (3/3)"]
        );
    }
}

over_both_transports! {
    async fn greeting_stream_bounds_name_the_field(app, channel) {
        let mut client = GreeterClient::with_origin(channel, app.uri());
        let request = |count, interval_ms| HelloStreamRequest { name: "Ada".into(), count, interval_ms };

        let status = client.say_hello_stream(request(0, 0)).await.expect_err("count 0");
        assert_invalid(&status, "count", "count: must be between 1 and 100, got 0");
        let status = client.say_hello_stream(request(101, 0)).await.expect_err("count 101");
        assert_invalid(&status, "count", "count: must be between 1 and 100, got 101");
        let status = client.say_hello_stream(request(1, 10_001)).await.expect_err("interval");
        assert_invalid(&status, "interval_ms", "interval_ms: must be at most 10000, got 10001");

        // The limits themselves are allowed.
        let mut stream = client
            .say_hello_stream(request(100, 0))
            .await
            .expect("count 100 is allowed")
            .into_inner();
        let mut received = 0;
        while stream.message().await.expect("no error").is_some() {
            received += 1;
        }
        assert_eq!(received, 100);
    }
}

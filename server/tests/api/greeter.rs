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

fn names(names: &[&str]) -> impl tokio_stream::Stream<Item = HelloRequest> + Send + 'static {
    let requests: Vec<_> = names
        .iter()
        .map(|name| HelloRequest {
            name: (*name).to_owned(),
        })
        .collect();
    tokio_stream::iter(requests)
}

// A finite client stream is one request body: gRPC-Web carries it too.
over_both_transports! {
    async fn say_hello_to_all_summarises_the_names(app, channel) {
        let mut client = GreeterClient::with_origin(channel, app.uri());
        let summary = client
            .say_hello_to_all(names(&["Ada", "Grace", "Ada", "Alan", "Edsger"]))
            .await
            .expect("summary")
            .into_inner();
        assert_eq!(summary.count, 5);
        assert_eq!(summary.distinct_count, 4);
        assert_eq!(summary.message, "Hello, Ada, Grace and 2 others!");

        let summary = client.say_hello_to_all(names(&[])).await.expect("summary").into_inner();
        assert_eq!((summary.count, summary.message.as_str()), (0, "Nobody to greet."));

        let status = client
            .say_hello_to_all(names(&["Ada", " "]))
            .await
            .expect_err("second name blank");
        assert_invalid(&status, "name", "name: must not be empty (message 2)");
    }
}

over_both_transports! {
    async fn say_hello_to_all_enforces_its_limit(app, channel) {
        let mut client = GreeterClient::with_origin(channel, app.uri());
        let at_limit = vec!["x"; 10_000];
        let summary = client.say_hello_to_all(names(&at_limit)).await.expect("10000 names").into_inner();
        assert_eq!(summary.count, 10_000);

        let over = vec!["x"; 10_001];
        let status = client.say_hello_to_all(names(&over)).await.expect_err("10001 names");
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "names: at most 10000 allowed");
        assert_eq!(
            status.get_details_quota_failure().expect("QuotaFailure").violations[0].subject,
            "names"
        );
    }
}

over_both_transports! {
    async fn converse_answers_a_batch_in_order(app, channel) {
        let mut client = GreeterClient::with_origin(channel, app.uri());
        let mut replies = client
            .converse(names(&["Ada", "Grace", "Alan"]))
            .await
            .expect("conversation")
            .into_inner();
        let mut heard = Vec::new();
        while let Some(reply) = replies.message().await.expect("no error") {
            heard.push(reply.message);
        }
        assert_eq!(heard, ["Hello, Ada!", "Hello, Grace!", "Hello, Alan!"]);
    }
}

/// Native gRPC is full duplex: each reply comes before the next name is even sent.
#[tokio::test]
async fn converse_answers_each_name_as_it_arrives_and_the_server_may_end_it() {
    let app = crate::helpers::spawn_app().await;
    let mut client = GreeterClient::new(app.native_channel().await);
    let (send, outgoing) = tokio::sync::mpsc::channel(1);
    let mut replies = client
        .converse(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await
        .expect("conversation")
        .into_inner();

    for (name, expected) in [
        ("Ada", "Hello, Ada!"),
        ("Grace", "Hello, Grace!"),
        ("BYE", "Goodbye!"),
    ] {
        send.send(HelloRequest { name: name.into() })
            .await
            .expect("server listening");
        let reply = tokio::time::timeout(crate::helpers::PATIENCE, replies.message())
            .await
            .expect("a reply before the next name")
            .expect("no error")
            .expect("conversation open");
        assert_eq!(reply.message, expected);
    }
    // After "bye" the server ends the conversation, with OK, while the client's side is open.
    assert!(replies.message().await.expect("ends cleanly").is_none());
    drop(send);
}

#[tokio::test]
async fn converse_ends_when_the_client_closes_and_enforces_its_limit() {
    let app = crate::helpers::spawn_app().await;
    let mut client = GreeterClient::new(app.native_channel().await);

    let (send, outgoing) = tokio::sync::mpsc::channel(1);
    let mut replies = client
        .converse(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await
        .expect("conversation")
        .into_inner();
    send.send(HelloRequest { name: "Ada".into() })
        .await
        .expect("server listening");
    assert_eq!(
        replies.message().await.expect("ok").expect("reply").message,
        "Hello, Ada!"
    );
    drop(send);
    assert!(replies.message().await.expect("ends cleanly").is_none());

    let too_many = vec!["x"; 1_001];
    let mut replies = client
        .converse(names(&too_many))
        .await
        .expect("conversation")
        .into_inner();
    let mut answered = 0;
    let status = loop {
        match replies.message().await {
            Ok(Some(_)) => answered += 1,
            Ok(None) => panic!("ended without the limit error"),
            Err(status) => break status,
        }
    };
    assert_eq!(answered, 1_000);
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(status.message(), "names: at most 1000 allowed");
}

over_both_transports! {
    async fn request_ids_are_echoed_or_generated(app, channel) {
        let mut client = GreeterClient::with_origin(channel, app.uri());
        let mut request = tonic::Request::new(HelloRequest { name: "Ada".into() });
        request.metadata_mut().insert("x-request-id", "trace-42".parse().expect("ascii"));
        let response = client.say_hello(request).await.expect("SayHello succeeds");
        assert_eq!(response.metadata().get("x-request-id").expect("request id"), "trace-42");

        let response = client
            .say_hello(HelloRequest { name: "Ada".into() })
            .await
            .expect("SayHello succeeds");
        let generated = response.metadata().get("x-request-id").expect("request id").to_str().expect("ascii");
        assert_eq!(generated.len(), 36, "a UUID: {generated}");

        // Errors carry it too, so a failed call can be found in the server's log.
        let mut request = tonic::Request::new(HelloRequest { name: String::new() });
        request.metadata_mut().insert("x-request-id", "trace-43".parse().expect("ascii"));
        let status = client.say_hello(request).await.expect_err("empty name");
        assert_eq!(status.metadata().get("x-request-id").expect("request id"), "trace-43");
    }
}

over_both_transports! {
    /// gzip is accepted from clients and offered to those that accept it, streams included.
    async fn gzip_both_ways_when_the_client_asks(app, channel) {
        use tonic::codec::CompressionEncoding::Gzip;
        let encoding = |metadata: &tonic::metadata::MetadataMap| {
            metadata.get("grpc-encoding").map(|value| value.to_str().expect("ascii").to_owned())
        };

        let mut plain = GreeterClient::with_origin(channel.clone(), app.uri());
        let response = plain.say_hello(HelloRequest { name: "Ada".into() }).await.expect("ok");
        assert_eq!(encoding(response.metadata()), None, "identity unless asked");

        let mut gzip = GreeterClient::with_origin(channel, app.uri())
            .send_compressed(Gzip)
            .accept_compressed(Gzip);
        let name = "Ada Lovelace ".repeat(15);
        let response = gzip.say_hello(HelloRequest { name: name.clone() }).await.expect("ok");
        assert_eq!(encoding(response.metadata()).as_deref(), Some("gzip"));
        assert_eq!(response.into_inner().message, format!("Hello, {name}!"));

        let response = gzip
            .say_hello_stream(HelloStreamRequest { name: "Ada".into(), count: 3, interval_ms: 0 })
            .await
            .expect("stream starts");
        assert_eq!(encoding(response.metadata()).as_deref(), Some("gzip"));
        let mut stream = response.into_inner();
        let mut received = 0;
        while stream.message().await.expect("decodes").is_some() {
            received += 1;
        }
        assert_eq!(received, 3);

        let summary = gzip
            .say_hello_to_all(names(&["Ada", "Grace"]))
            .await
            .expect("a gzipped client stream is accepted")
            .into_inner();
        assert_eq!(summary.count, 2);
    }
}

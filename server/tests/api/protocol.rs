//! The gRPC specs' MUSTs on the wire, checked with raw HTTP requests: an unsupported
//! `grpc-encoding` is UNIMPLEMENTED with `grpc-accept-encoding` saying what is supported
//! (compression spec), and a request that is not gRPC gets HTTP 415 (gRPC over HTTP/2).

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};

use crate::helpers::{TestApp, spawn_app};

/// One empty message, framed: not compressed, length 0.
const EMPTY_MESSAGE: [u8; 5] = [0, 0, 0, 0, 0];

async fn post(
    app: &TestApp,
    http2: bool,
    path: &str,
    content_type: &str,
    encoding: Option<&str>,
) -> Response<Incoming> {
    let mut request = Request::post(format!("{}{path}", app.url()))
        .header(header::CONTENT_TYPE, content_type)
        .header("te", "trailers");
    if let Some(encoding) = encoding {
        request = request.header("grpc-encoding", encoding);
    }
    let request = request
        .body(Full::new(Bytes::from_static(&EMPTY_MESSAGE)))
        .expect("request");
    let client = Client::builder(TokioExecutor::new())
        .http2_only(http2)
        .build_http();
    client.request(request).await.expect("an HTTP answer")
}

/// `grpc-encoding: br` (not supported) to a generated service and to the hand-framed
/// interop service, natively and over gRPC-Web on HTTP/1.1 and HTTP/2.
#[tokio::test]
async fn an_unsupported_encoding_is_unimplemented_and_says_what_is_supported() {
    let app = spawn_app().await;
    for path in ["/Greeter/SayHello", "/grpc.testing.TestService/EmptyCall"] {
        for (http2, content_type) in [
            (true, "application/grpc"),
            (false, "application/grpc-web+proto"),
            (true, "application/grpc-web+proto"),
        ] {
            let response = post(&app, http2, path, content_type, Some("br")).await;
            let case = format!("{path} as {content_type}, HTTP/2 {http2}");
            assert_eq!(response.status(), 200, "{case}");
            assert_eq!(response.headers()["grpc-status"], "12", "{case}");
            let accepted = response.headers()["grpc-accept-encoding"]
                .to_str()
                .expect("ascii");
            assert!(
                accepted.split(',').any(|name| name.trim() == "gzip"),
                "{case}: {accepted}"
            );
        }
    }
}

#[tokio::test]
async fn a_request_that_is_not_grpc_gets_415_over_http2() {
    let app = spawn_app().await;
    for path in ["/Greeter/SayHello", "/grpc.testing.TestService/EmptyCall"] {
        let response = post(&app, true, path, "text/plain", None).await;
        assert_eq!(response.status(), 415, "{path}");
        assert!(!response.headers().contains_key("grpc-status"), "{path}");
    }
    // A real gRPC call on the same path still works.
    let response = post(&app, true, "/Greeter/SayHello", "application/grpc", None).await;
    assert_eq!(response.status(), 200);
}

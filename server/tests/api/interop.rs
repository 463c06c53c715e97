//! `grpc.testing.TestService` against the server-side behaviour of every case in grpc's
//! `doc/interop-test-descriptions.md` that does not need cloud credentials or a caching
//! proxy. Cases a gRPC-Web client can make run over both transports; the ones that check
//! message compression flags use a raw HTTP/2 client, since generated clients hide them.

use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::{HeaderMap, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use prost::Message;
use proto::grpc_testing::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest,
    StreamingInputCallRequest, StreamingOutputCallRequest, test_service_client::TestServiceClient,
    unimplemented_service_client::UnimplementedServiceClient,
};
use tonic::{Code, codec::CompressionEncoding::Gzip, metadata::MetadataValue};

use crate::helpers::{PATIENCE, TestApp, over_both_transports, spawn_app, spawn_app_with};

fn zeros(size: usize) -> Option<Payload> {
    Some(Payload {
        r#type: 0,
        body: vec![0; size],
    })
}

fn yes(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: 314_159,
        payload: zeros(271_828),
        ..Default::default()
    }
}

fn output_request(sizes: &[i32]) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

async fn sizes_of(
    mut stream: tonic::Streaming<proto::grpc_testing::StreamingOutputCallResponse>,
) -> Vec<usize> {
    let mut sizes = Vec::new();
    while let Some(response) = stream.message().await.expect("no error") {
        sizes.push(response.payload.expect("payload").body.len());
    }
    sizes
}

over_both_transports! {
    async fn empty_unary_and_large_unary(app, channel) {
        let mut client = TestServiceClient::with_origin(channel, app.uri());
        let empty = client.empty_call(Empty {}).await.expect("empty_unary");
        assert_eq!(empty.into_inner(), Empty {});

        let response = client.unary_call(large_request()).await.expect("large_unary").into_inner();
        let payload = response.payload.expect("payload");
        assert_eq!(payload.body.len(), 314_159);
        assert!(payload.body.iter().all(|&byte| byte == 0));
    }
}

over_both_transports! {
    async fn client_compressed_unary(app, channel) {
        let expecting = |expect| SimpleRequest { expect_compressed: yes(expect), ..large_request() };
        let mut plain = TestServiceClient::with_origin(channel.clone(), app.uri());
        let probe = plain.unary_call(expecting(true)).await.expect_err("not compressed");
        assert_eq!(probe.code(), Code::InvalidArgument);

        let mut gzip = TestServiceClient::with_origin(channel, app.uri()).send_compressed(Gzip);
        let response = gzip.unary_call(expecting(true)).await.expect("compressed").into_inner();
        assert_eq!(response.payload.expect("payload").body.len(), 314_159);
        let response = plain.unary_call(expecting(false)).await.expect("uncompressed").into_inner();
        assert_eq!(response.payload.expect("payload").body.len(), 314_159);
    }
}

over_both_transports! {
    async fn client_streaming_and_server_streaming(app, channel) {
        let mut client = TestServiceClient::with_origin(channel, app.uri());
        let requests: Vec<_> = [27_182, 8, 1_828, 45_904]
            .into_iter()
            .map(|size| StreamingInputCallRequest { payload: zeros(size), ..Default::default() })
            .collect();
        let response = client
            .streaming_input_call(tokio_stream::iter(requests))
            .await
            .expect("client_streaming")
            .into_inner();
        assert_eq!(response.aggregated_payload_size, 74_922);

        let stream = client
            .streaming_output_call(output_request(&[31_415, 9, 2_653, 58_979]))
            .await
            .expect("server_streaming")
            .into_inner();
        assert_eq!(sizes_of(stream).await, [31_415, 9, 2_653, 58_979]);
    }
}

over_both_transports! {
    async fn empty_stream_and_half_duplex(app, channel) {
        let mut client = TestServiceClient::with_origin(channel, app.uri());
        let stream = client
            .full_duplex_call(tokio_stream::empty())
            .await
            .expect("empty_stream")
            .into_inner();
        assert!(sizes_of(stream).await.is_empty());

        let requests = vec![output_request(&[3, 4]), output_request(&[5])];
        let stream = client
            .half_duplex_call(tokio_stream::iter(requests))
            .await
            .expect("half duplex")
            .into_inner();
        assert_eq!(sizes_of(stream).await, [3, 4, 5]);
    }
}

/// The custom_metadata case's request metadata.
fn with_echo_metadata<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert(
        "x-grpc-test-echo-initial",
        "test_initial_metadata_value".parse().expect("ascii"),
    );
    metadata.insert_bin(
        "x-grpc-test-echo-trailing-bin",
        MetadataValue::from_bytes(&[0xab, 0xab, 0xab]),
    );
    request
}

over_both_transports! {
    async fn custom_metadata_is_echoed_in_headers_and_trailers(app, channel) {
        let mut client = TestServiceClient::with_origin(channel, app.uri());

        // Unary: tonic merges the trailers into the response metadata.
        let response = client.unary_call(with_echo_metadata(large_request())).await.expect("unary");
        let metadata = response.metadata();
        assert_eq!(metadata.get("x-grpc-test-echo-initial").expect("initial"), "test_initial_metadata_value");
        let trailing = metadata.get_bin("x-grpc-test-echo-trailing-bin").expect("trailing");
        assert_eq!(trailing.to_bytes().expect("base64").as_ref(), [0xab, 0xab, 0xab]);

        let request = StreamingOutputCallRequest { payload: zeros(271_828), ..output_request(&[314_159]) };
        let response = client
            .full_duplex_call(with_echo_metadata(tokio_stream::iter(vec![request])))
            .await
            .expect("full duplex");
        assert_eq!(
            response.metadata().get("x-grpc-test-echo-initial").expect("initial"),
            "test_initial_metadata_value"
        );
        let mut stream = response.into_inner();
        while stream.message().await.expect("no error").is_some() {}
        let trailers = stream.trailers().await.expect("no error").expect("trailers");
        let trailing = trailers.get_bin("x-grpc-test-echo-trailing-bin").expect("trailing");
        assert_eq!(trailing.to_bytes().expect("base64").as_ref(), [0xab, 0xab, 0xab]);
    }
}

over_both_transports! {
    async fn status_code_and_message_and_special_characters(app, channel) {
        let mut client = TestServiceClient::with_origin(channel, app.uri());
        for message in [
            "test status message",
            "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n",
        ] {
            let response_status = Some(EchoStatus { code: 2, message: message.into() });
            let status = client
                .unary_call(SimpleRequest { response_status: response_status.clone(), ..Default::default() })
                .await
                .expect_err("echoed status");
            assert_eq!((status.code(), status.message()), (Code::Unknown, message));

            let request = StreamingOutputCallRequest { response_status, ..Default::default() };
            let mut stream = client
                .full_duplex_call(tokio_stream::iter(vec![request]))
                .await
                .expect("call starts")
                .into_inner();
            let status = loop {
                match stream.message().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("no status"),
                    Err(status) => break status,
                }
            };
            assert_eq!((status.code(), status.message()), (Code::Unknown, message));
        }
    }
}

over_both_transports! {
    async fn unimplemented_method_and_service(app, channel) {
        let mut client = TestServiceClient::with_origin(channel.clone(), app.uri());
        let status = client.unimplemented_call(Empty {}).await.expect_err("unimplemented");
        assert_eq!(status.code(), Code::Unimplemented);
        let mut other = UnimplementedServiceClient::with_origin(channel, app.uri());
        let status = other.unimplemented_call(Empty {}).await.expect_err("unimplemented");
        assert_eq!(status.code(), Code::Unimplemented);
    }
}

/// `timeout_on_sleeping_server`: the server ends a call that is still waiting at its deadline
/// with DEADLINE_EXCEEDED. Natively over a plain HTTP/2 client: tonic's `Channel` also times
/// the call out itself, locally, as CANCELLED, and with a 1 ms deadline that local timer
/// races the server's answer.
mod timeout_on_sleeping_server {
    use super::*;

    async fn times_out<T>(app: &TestApp, channel: T)
    where
        T: tonic::client::GrpcService<tonic::body::Body>,
        T::Error: Into<tonic::codegen::StdError>,
        T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
        <T::ResponseBody as http_body::Body>::Error: Into<tonic::codegen::StdError> + Send,
    {
        let mut client = TestServiceClient::with_origin(channel, app.uri());
        // The client keeps its side open: the server has nothing to answer, and sleeps.
        let (_keep_open, outgoing) = tokio::sync::mpsc::channel::<StreamingOutputCallRequest>(1);
        let mut request =
            tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(outgoing));
        request.set_timeout(Duration::from_millis(1));
        let status = match client.full_duplex_call(request).await {
            Err(status) => status,
            Ok(response) => {
                let mut stream = response.into_inner();
                tokio::time::timeout(PATIENCE, stream.message())
                    .await
                    .expect("the deadline ends the call")
                    .expect_err("deadline exceeded")
            }
        };
        assert_eq!(status.code(), Code::DeadlineExceeded);
    }

    #[tokio::test]
    async fn native_grpc() {
        let app = spawn_app().await;
        let http2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http::<tonic::body::Body>();
        times_out(&app, http2).await;
    }

    #[tokio::test]
    async fn grpc_web() {
        let app = spawn_app().await;
        times_out(&app, app.grpc_web_channel()).await;
    }

    #[tokio::test]
    async fn grpc_web_http2() {
        let app = spawn_app().await;
        times_out(&app, app.grpc_web_h2_channel()).await;
    }
}

over_both_transports! {
    async fn interval_us_delays_each_response(app, channel) {
        let mut client = TestServiceClient::with_origin(channel, app.uri());
        let mut request = output_request(&[1, 1, 1]);
        for parameters in &mut request.response_parameters {
            parameters.interval_us = 100_000;
        }
        let started = Instant::now();
        let stream = client.streaming_output_call(request).await.expect("starts").into_inner();
        assert_eq!(sizes_of(stream).await.len(), 3);
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    }
}

#[tokio::test]
async fn ping_pong_is_full_duplex() {
    let app = spawn_app().await;
    let mut client = TestServiceClient::new(app.native_channel().await);
    let (send, outgoing) = tokio::sync::mpsc::channel(1);
    let mut responses = client
        .full_duplex_call(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await
        .expect("starts")
        .into_inner();
    for (request_size, response_size) in
        [(27_182, 31_415), (8, 9), (1_828, 2_653), (45_904, 58_979)]
    {
        let request = StreamingOutputCallRequest {
            payload: zeros(request_size),
            ..output_request(&[response_size])
        };
        send.send(request).await.expect("server reading");
        let response = responses
            .message()
            .await
            .expect("no error")
            .expect("a response");
        assert_eq!(
            response.payload.expect("payload").body.len(),
            response_size as usize
        );
    }
    drop(send);
    assert!(responses.message().await.expect("closes with OK").is_none());
}

#[tokio::test]
async fn cancel_after_begin_and_after_first_response() {
    let app = spawn_app().await;
    let mut client = TestServiceClient::new(app.native_channel().await);

    let (send, outgoing) = tokio::sync::mpsc::channel::<StreamingInputCallRequest>(1);
    let call = client.streaming_input_call(tokio_stream::wrappers::ReceiverStream::new(outgoing));
    let cancelled = tokio::time::timeout(Duration::from_millis(200), call).await;
    assert!(
        cancelled.is_err(),
        "no answer before the client half-closes"
    );
    drop(send);

    let (send, outgoing) = tokio::sync::mpsc::channel(1);
    let mut responses = client
        .full_duplex_call(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await
        .expect("starts")
        .into_inner();
    let request = StreamingOutputCallRequest {
        payload: zeros(27_182),
        ..output_request(&[31_415])
    };
    send.send(request).await.expect("server reading");
    responses
        .message()
        .await
        .expect("no error")
        .expect("first response");
    drop(responses);
    drop(send);
    // The server is unharmed and serves the next call.
    client.empty_call(Empty {}).await.expect("still serving");
}

/// What a raw HTTP/2 call returned: each message's compressed flag and payload, and the
/// trailers.
struct RawResponse {
    headers: HeaderMap,
    messages: Vec<(bool, Vec<u8>)>,
    trailers: HeaderMap,
}

fn frame(message: &impl Message, compress: bool) -> Vec<u8> {
    let raw = message.encode_to_vec();
    let payload = if compress {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &raw).expect("memory");
        encoder.finish().expect("memory")
    } else {
        raw
    };
    let mut framed = vec![u8::from(compress)];
    framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    framed.extend_from_slice(&payload);
    framed
}

async fn raw_call(app: &TestApp, method: &str, body: Vec<u8>) -> RawResponse {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = Request::post(format!("{}/grpc.testing.TestService/{method}", app.url()))
        .header(header::CONTENT_TYPE, "application/grpc")
        .header("te", "trailers")
        .header("grpc-encoding", "gzip")
        .header("grpc-accept-encoding", "gzip")
        .body(Full::<Bytes>::from(body))
        .expect("request");
    let response = client.request(request).await.expect("HTTP/2 exchange");
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.expect("body");
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let mut bytes = collected.to_bytes();
    let mut messages = Vec::new();
    while bytes.has_remaining() {
        let compressed = bytes.get_u8() == 1;
        let len = bytes.get_u32() as usize;
        let payload = bytes.split_to(len);
        let payload = if compressed {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(payload.as_ref()),
                &mut out,
            )
            .expect("gzip");
            out
        } else {
            payload.to_vec()
        };
        messages.push((compressed, payload));
    }
    RawResponse {
        headers,
        messages,
        trailers,
    }
}

fn payload_len(message: &[u8]) -> usize {
    proto::grpc_testing::SimpleResponse::decode(Bytes::copy_from_slice(message))
        .expect("decodes")
        .payload
        .expect("payload")
        .body
        .len()
}

#[tokio::test]
async fn server_compressed_unary_sets_the_flag_only_when_asked() {
    let app = spawn_app().await;
    for compressed in [true, false] {
        let request = SimpleRequest {
            response_compressed: yes(compressed),
            ..large_request()
        };
        let response = raw_call(&app, "UnaryCall", frame(&request, false)).await;
        assert_eq!(response.trailers["grpc-status"], "0");
        assert_eq!(response.headers["grpc-encoding"], "gzip");
        let [(flag, message)] = response.messages.as_slice() else {
            panic!("one message, got {}", response.messages.len());
        };
        assert_eq!(*flag, compressed);
        assert_eq!(payload_len(message), 314_159);
    }
}

#[tokio::test]
async fn server_compressed_streaming_sets_the_flag_per_message() {
    let app = spawn_app().await;
    let mut request = output_request(&[31_415, 92_653]);
    request.response_parameters[0].compressed = yes(true);
    request.response_parameters[1].compressed = yes(false);
    let response = raw_call(&app, "StreamingOutputCall", frame(&request, false)).await;
    assert_eq!(response.trailers["grpc-status"], "0");
    let flags: Vec<bool> = response.messages.iter().map(|(flag, _)| *flag).collect();
    assert_eq!(flags, [true, false]);
    let sizes: Vec<usize> = response
        .messages
        .iter()
        .map(|(_, message)| payload_len(message))
        .collect();
    assert_eq!(sizes, [31_415, 92_653]);
}

#[tokio::test]
async fn client_compressed_streaming_checks_each_message() {
    let app = spawn_app().await;
    let request = |size, expect| StreamingInputCallRequest {
        payload: zeros(size),
        expect_compressed: yes(expect),
    };

    let probe = raw_call(
        &app,
        "StreamingInputCall",
        frame(&request(27_182, true), false),
    )
    .await;
    assert_eq!(
        probe.trailers["grpc-status"], "3",
        "INVALID_ARGUMENT for the uncompressed probe"
    );

    let mut body = frame(&request(27_182, true), true);
    body.extend(frame(&request(45_904, false), false));
    let response = raw_call(&app, "StreamingInputCall", body).await;
    assert_eq!(response.trailers["grpc-status"], "0");
    let [(_, message)] = response.messages.as_slice() else {
        panic!("one response")
    };
    let aggregated = proto::grpc_testing::StreamingInputCallResponse::decode(message.as_slice())
        .expect("decodes")
        .aggregated_payload_size;
    assert_eq!(aggregated, 73_086);
}

#[tokio::test]
async fn bad_sizes_and_intervals_are_invalid_arguments() {
    let app = spawn_app().await;
    let mut client = TestServiceClient::new(app.native_channel().await);
    let status = client
        .unary_call(SimpleRequest {
            response_size: -1,
            ..Default::default()
        })
        .await
        .expect_err("negative size");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("response_size: "),
        "{}",
        status.message()
    );

    let mut request = output_request(&[1]);
    request.response_parameters[0].interval_us = -5;
    let mut stream = client
        .streaming_output_call(request)
        .await
        .expect("starts")
        .into_inner();
    let status = stream.message().await.expect_err("bad interval");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("interval_us: "),
        "{}",
        status.message()
    );
}

/// The interop service takes the server's own `--max-message-bytes`, both ways, and a small
/// request cannot ask back more than a bounded total.
#[tokio::test]
async fn the_interop_service_obeys_the_servers_limits() {
    let app = spawn_app_with(|config| config.max_message_bytes = 64 * 1024).await;
    let mut client = TestServiceClient::new(app.native_channel().await);
    let status = client
        .unary_call(SimpleRequest {
            response_size: 100_000,
            ..Default::default()
        })
        .await
        .expect_err("a response over the limit");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with("response_size: "),
        "{}",
        status.message()
    );
    let status = client
        .unary_call(SimpleRequest {
            payload: zeros(100_000),
            ..Default::default()
        })
        .await
        .expect_err("a request over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // 1,000 responses of 60 KB from one request of a few KB: 60 MB asked, refused at once
    // (four messages' worth, 256 KiB here, may be asked).
    let status = match client
        .streaming_output_call(output_request(&[60_000; 1000]))
        .await
    {
        Err(status) => status,
        Ok(response) => response
            .into_inner()
            .message()
            .await
            .expect_err("too much asked back"),
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("response bytes asked for"),
        "{}",
        status.message()
    );
    // Within the bounds it still works.
    let stream = client
        .streaming_output_call(output_request(&[60_000; 4]))
        .await
        .expect("within the bounds")
        .into_inner();
    assert_eq!(sizes_of(stream).await, [60_000; 4]);
}

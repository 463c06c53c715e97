//! The HTTP side: gRPC-Web frames on the wire (text mode), static files with the SPA
//! fallback, UNIMPLEMENTED for unknown methods, and CORS.

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tonic::{Code, codegen::http::uri::PathAndQuery};

use crate::helpers::{spawn_app, spawn_app_with};

/// One HTTP/1.1 exchange; the body is read whole.
async fn exchange(request: Request<Full<Bytes>>) -> (StatusCode, HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("HTTP exchange");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("whole body").to_bytes();
    (parts.status, parts.headers, body)
}

/// Splits a gRPC-Web body into its (flag, payload) frames.
fn frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !body.is_empty() {
        let flag = body[0];
        let len = u32::from_be_bytes(body[1..5].try_into().expect("4 bytes")) as usize;
        frames.push((flag, body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    frames
}

#[tokio::test]
async fn grpc_web_text_frames_on_the_wire() {
    let app = spawn_app().await;
    // HelloRequest { name: "Ada" }: field 1, length-delimited, 3 bytes.
    let message = [0x0a, 3, b'A', b'd', b'a'];
    let mut frame = vec![0];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);

    let request = Request::post(format!("{}/Greeter/SayHello", app.url()))
        .header(header::CONTENT_TYPE, "application/grpc-web-text")
        .header(header::ACCEPT, "application/grpc-web-text")
        .header("x-grpc-web", "1")
        .body(Full::from(BASE64.encode(&frame)))
        .expect("request");
    let (status, headers, body) = exchange(request).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/grpc-web-text+proto"
    );
    // Text mode may pad each frame separately: decode quantum by quantum.
    let decoded: Vec<u8> = body
        .chunks(4)
        .flat_map(|quantum| BASE64.decode(quantum).expect("base64"))
        .collect();
    let frames = frames(&decoded);
    assert_eq!(frames.len(), 2, "one message, then the trailers");
    let (flag, payload) = &frames[0];
    assert_eq!(*flag, 0x00);
    assert_eq!(payload[..2], [0x0a, 11]);
    assert_eq!(&payload[2..], b"Hello, Ada!");
    let (flag, trailers) = &frames[1];
    assert_eq!(*flag, 0x80, "trailer frame");
    let trailers = String::from_utf8_lossy(trailers).to_ascii_lowercase();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
}

#[tokio::test]
async fn serves_the_web_app_with_a_fallback_to_index_html() {
    let dist = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>app</title>",
    )
    .expect("write");
    std::fs::write(dist.path().join("app-1234.js"), "console.log('hi')").expect("write");
    let app = spawn_app_with(|config| config.static_dir = Some(dist.path().to_path_buf())).await;

    let get = |path: &str| {
        Request::get(format!("{}{path}", app.url()))
            .body(Full::default())
            .expect("request")
    };
    for path in ["/", "/weather", "/weather?city=paris-fr", "/no/such/page"] {
        let (status, headers, body) = exchange(get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
        assert_eq!(body, "<!doctype html><title>app</title>", "{path}");
    }
    let (status, headers, body) = exchange(get("/app-1234.js")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .contains("javascript")
    );
    assert_eq!(body, "console.log('hi')");
}

#[tokio::test]
async fn without_a_web_app_other_paths_are_not_found() {
    let app = spawn_app().await;
    let request = Request::get(format!("{}/", app.url()))
        .body(Full::default())
        .expect("request");
    let (status, _, body) = exchange(request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("--static-dir"));
}

async fn call_unknown_method<T>(channel: T, origin: http::Uri) -> tonic::Status
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut grpc = tonic::client::Grpc::with_origin(channel, origin);
    if grpc.ready().await.is_err() {
        panic!("the channel is not ready");
    }
    grpc.unary::<(), (), _>(
        tonic::Request::new(()),
        PathAndQuery::from_static("/grpc.testing.UnimplementedService/UnimplementedCall"),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .expect_err("no such method")
}

#[tokio::test]
async fn unknown_methods_are_unimplemented_on_both_transports() {
    let dist = tempfile::tempdir().expect("temp dir");
    std::fs::write(dist.path().join("index.html"), "<!doctype html>").expect("write");
    // With a web app served, unknown gRPC paths must still not get index.html.
    let app = spawn_app_with(|config| config.static_dir = Some(dist.path().to_path_buf())).await;

    let status = call_unknown_method(app.native_channel().await, app.uri()).await;
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    let status = call_unknown_method(app.grpc_web_channel(), app.uri()).await;
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
}

fn preflight(url: &str, origin: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(format!("{url}/Greeter/SayHello"))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,x-grpc-web,grpc-timeout",
        )
        .body(Full::default())
        .expect("request")
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = spawn_app_with(|config| {
        config.cors_origins = vec![http::HeaderValue::from_static("http://allowed.example")];
    })
    .await;

    let (_, headers, _) = exchange(preflight(&app.url(), "http://allowed.example")).await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://allowed.example"
    );
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .expect("ascii");
    assert!(
        allowed.contains("x-grpc-web") && allowed.contains("grpc-timeout"),
        "{allowed}"
    );

    let (_, headers, _) = exchange(preflight(&app.url(), "http://evil.example")).await;
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    // A real cross-origin call exposes the gRPC status headers to the page.
    let request = Request::post(format!("{}/Greeter/SayHello", app.url()))
        .header(header::ORIGIN, "http://allowed.example")
        .header(header::CONTENT_TYPE, "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(Full::from(vec![0, 0, 0, 0, 0]))
        .expect("request");
    let (_, headers, _) = exchange(request).await;
    let exposed = headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .expect("ascii");
    assert!(
        exposed.contains("grpc-status") && exposed.contains("grpc-message"),
        "{exposed}"
    );
}

#[tokio::test]
async fn same_origin_only_by_default() {
    let app = spawn_app().await;
    let (_, headers, _) = exchange(preflight(&app.url(), "http://elsewhere.example")).await;
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn any_origin_only_in_the_development_mode() {
    let app = spawn_app_with(|config| config.dev_cors_any_origin = true).await;
    let (_, headers, _) = exchange(preflight(&app.url(), "http://elsewhere.example")).await;
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}

#[tokio::test]
async fn the_web_app_has_security_headers_and_caching_by_name() {
    let dist = tempfile::tempdir().expect("temp dir");
    let index = "<!doctype html><script type=\"module\">import init from '/app-0123456789abcdef.js';</script>";
    std::fs::write(dist.path().join("index.html"), index).expect("write");
    std::fs::write(
        dist.path().join("app-0123456789abcdef.js"),
        "export default 1",
    )
    .expect("write");
    let app = spawn_app_with(|config| config.static_dir = Some(dist.path().to_path_buf())).await;
    let get = |path: &str| {
        Request::get(format!("{}{path}", app.url()))
            .body(Full::default())
            .expect("request")
    };

    let (_, headers, _) = exchange(get("/weather")).await;
    let policy = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    assert!(
        policy.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "no-cache",
        "the page is revalidated"
    );

    let (status, headers, _) = exchange(get("/app-0123456789abcdef.js")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn web_app_files_are_gzipped_for_browsers_that_accept_it() {
    let dist = tempfile::tempdir().expect("temp dir");
    let wasm = "(module)".repeat(1000);
    std::fs::write(dist.path().join("index.html"), "<!doctype html>").expect("write");
    std::fs::write(dist.path().join("app_bg.wasm"), &wasm).expect("write");
    let app = spawn_app_with(|config| config.static_dir = Some(dist.path().to_path_buf())).await;

    let request = Request::get(format!("{}/app_bg.wasm", app.url()))
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Full::default())
        .expect("request");
    let (status, headers, body) = exchange(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert!(
        body.len() < wasm.len() / 10,
        "{} bytes for {}",
        body.len(),
        wasm.len()
    );
}

#[tokio::test]
async fn the_builds_compressed_copies_are_sent_as_they_are() {
    let dist = tempfile::tempdir().expect("temp dir");
    let wasm = "(module)".repeat(1000);
    std::fs::write(dist.path().join("index.html"), "<!doctype html>").expect("write");
    std::fs::write(dist.path().join("app_bg.wasm"), &wasm).expect("write");
    // Not real compressed data: what is sent must be the file itself, not compressed anew.
    std::fs::write(dist.path().join("app_bg.wasm.br"), "the brotli copy").expect("write");
    std::fs::write(dist.path().join("app_bg.wasm.gz"), "the gzip copy").expect("write");
    std::fs::write(dist.path().join("index.html.br"), "the page, brotli").expect("write");
    let app = spawn_app_with(|config| config.static_dir = Some(dist.path().to_path_buf())).await;
    let get = |path: &str, accept: &str| {
        Request::get(format!("{}{path}", app.url()))
            .header(header::ACCEPT_ENCODING, accept)
            .body(Full::default())
            .expect("request")
    };

    let (status, headers, body) = exchange(get("/app_bg.wasm", "gzip, deflate, br, zstd")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(headers[header::VARY], "accept-encoding");
    assert_eq!(body, "the brotli copy");

    let (_, headers, body) = exchange(get("/app_bg.wasm", "br;q=0, gzip")).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(body, "the gzip copy");

    let (_, headers, body) = exchange(get("/app_bg.wasm", "identity")).await;
    assert!(!headers.contains_key(header::CONTENT_ENCODING));
    assert_eq!(body, wasm.as_bytes());

    // The page's fallback has its copies too, under any client-side route.
    let (_, headers, body) = exchange(get("/weather", "br")).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    assert_eq!(body, "the page, brotli");
}

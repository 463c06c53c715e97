//! The transport: TLS (native gRPC and gRPC-Web over HTTPS, ALPN offering HTTP/2 and
//! HTTP/1.1, the self-signed development certificate, mutual TLS accepting and refusing
//! clients) and every limit: message size, streams per connection, calls in flight, and
//! the per-client rate of state changes.

use std::{path::PathBuf, sync::Arc};

use proto::greeter::{HelloRequest, greeter_client::GreeterClient};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedKey, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::{
    Code,
    transport::{Certificate, ClientTlsConfig, Endpoint, Identity},
};

use crate::helpers::{TestApp, spawn_app_with};

fn scratch_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{}", uuid::Uuid::new_v4()))
}

/// A server with the development certificate, and that certificate's PEM.
async fn spawn_dev_tls() -> (TestApp, Vec<u8>) {
    let dir = scratch_dir();
    let app = spawn_app_with(|config| {
        config.tls_self_signed = true;
        config.tls_dir = dir.clone();
    })
    .await;
    let pem = std::fs::read(dir.join("localhost.pem")).expect("the certificate was written");
    (app, pem)
}

fn https(app: &TestApp) -> String {
    format!("https://localhost:{}", app.address.port())
}

async fn say_hello(endpoint: Endpoint) -> Result<String, tonic::Status> {
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| tonic::Status::unavailable(format!("{error:?}")))?;
    Ok(GreeterClient::new(channel)
        .say_hello(HelloRequest { name: "TLS".into() })
        .await?
        .into_inner()
        .message)
}

#[tokio::test]
async fn native_grpc_over_tls_with_the_development_certificate() {
    let (app, pem) = spawn_dev_tls().await;
    let endpoint = Endpoint::from_shared(https(&app))
        .expect("valid")
        .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pem)))
        .expect("TLS config");
    assert_eq!(say_hello(endpoint).await.expect("call"), "Hello, TLS!");

    // A client that does not trust it cannot talk to it.
    let untrusting = Endpoint::from_shared(https(&app))
        .expect("valid")
        .tls_config(ClientTlsConfig::new())
        .expect("TLS config");
    assert!(say_hello(untrusting).await.is_err());
}

/// Negotiates TLS offering `protocols`, and returns what the server chose.
async fn negotiate(app: &TestApp, pem: &[u8], protocols: &[&[u8]]) -> Option<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        roots.add(certificate.expect("PEM")).expect("a CA");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
    let stream = TcpStream::connect(app.address).await.expect("connect");
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), stream)
        .await
        .expect("handshake");
    tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

#[tokio::test]
async fn alpn_offers_http2_and_http1() {
    let (app, pem) = spawn_dev_tls().await;
    assert_eq!(
        negotiate(&app, &pem, &[b"h2", b"http/1.1"])
            .await
            .as_deref(),
        Some(&b"h2"[..])
    );
    assert_eq!(
        negotiate(&app, &pem, &[b"http/1.1"]).await.as_deref(),
        Some(&b"http/1.1"[..])
    );
}

#[tokio::test]
async fn grpc_web_over_https() {
    let (app, pem) = spawn_dev_tls().await;
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .build()
        .expect("client");
    // A gRPC-Web frame: flag 0, length 5, then HelloRequest { name: "Web" }.
    let body = [0, 0, 0, 0, 5, 0x0a, 3, b'W', b'e', b'b'];
    let response = http
        .post(format!("{}/Greeter/SayHello", https(&app)))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(body.to_vec())
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.expect("body");
    assert!(bytes.windows(11).any(|w| w == b"Hello, Web!"), "{bytes:?}");
    assert!(
        bytes.windows(13).any(|w| w == b"grpc-status:0"),
        "{bytes:?}"
    );
}

/// A CA, a server certificate for localhost and a client certificate, all from it.
struct Pki {
    dir: PathBuf,
    ca: CertifiedKey,
}

impl Pki {
    fn new() -> Self {
        let key_pair = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key_pair).expect("CA");
        let dir = scratch_dir();
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("ca.pem"), cert.pem()).expect("write");
        Self {
            dir,
            ca: CertifiedKey { cert, key_pair },
        }
    }

    /// Writes `name.pem` and `name-key.pem`, signed by the CA; a client certificate or a
    /// server one for localhost.
    fn issue(&self, name: &str, client: bool) -> (PathBuf, PathBuf) {
        let key_pair = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let cert = params
            .signed_by(&key_pair, &self.ca.cert, &self.ca.key_pair)
            .expect("signed");
        let (cert_path, key_path) = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}-key.pem")),
        );
        std::fs::write(&cert_path, cert.pem()).expect("write");
        std::fs::write(&key_path, key_pair.serialize_pem()).expect("write");
        (cert_path, key_path)
    }
}

#[tokio::test]
async fn mutual_tls_accepts_a_client_certificate_and_refuses_none() {
    let pki = Pki::new();
    let (server_cert, server_key) = pki.issue("server", false);
    let (client_cert, client_key) = pki.issue("client", true);
    let app = spawn_app_with(|config| {
        config.tls_cert = Some(server_cert);
        config.tls_key = Some(server_key);
        config.tls_client_ca = Some(pki.dir.join("ca.pem"));
    })
    .await;
    let ca = Certificate::from_pem(std::fs::read(pki.dir.join("ca.pem")).expect("CA"));
    let identity = Identity::from_pem(
        std::fs::read(client_cert).expect("cert"),
        std::fs::read(client_key).expect("key"),
    );

    let with_identity = Endpoint::from_shared(https(&app))
        .expect("valid")
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(ca.clone())
                .identity(identity),
        )
        .expect("TLS config");
    assert_eq!(
        say_hello(with_identity).await.expect("accepted"),
        "Hello, TLS!"
    );

    let without = Endpoint::from_shared(https(&app))
        .expect("valid")
        .tls_config(ClientTlsConfig::new().ca_certificate(ca))
        .expect("TLS config");
    let refused = say_hello(without).await.expect_err("no client certificate");
    assert_ne!(refused.code(), Code::Ok);
}

#[tokio::test]
async fn messages_past_the_limit_are_resource_exhausted() {
    let app = spawn_app_with(|config| config.max_message_bytes = 1024).await;
    let mut client = GreeterClient::new(app.native_channel().await);
    client
        .say_hello(HelloRequest {
            name: "small".into(),
        })
        .await
        .expect("under the limit");
    let status = client
        .say_hello(HelloRequest {
            name: "x".repeat(2000),
        })
        .await
        .expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

/// `count` live-weather streams on `channel`, each past its first reading: calls that stay
/// open, holding a stream slot and an in-flight slot each.
async fn open_streams(
    channel: &tonic::transport::Channel,
    count: usize,
) -> Vec<tonic::Streaming<proto::weather::v1::CurrentConditions>> {
    use proto::weather::v1::{
        WatchConditionsRequest, weather_service_client::WeatherServiceClient,
    };
    let mut client = WeatherServiceClient::new(channel.clone());
    let mut open = Vec::new();
    for _ in 0..count {
        let mut stream = client
            .watch_conditions(WatchConditionsRequest {
                city_id: "oslo-no".into(),
            })
            .await
            .expect("within the limit")
            .into_inner();
        stream
            .message()
            .await
            .expect("no error")
            .expect("first reading");
        open.push(stream);
    }
    open
}

#[tokio::test]
async fn streams_past_the_per_connection_limit_wait_for_a_free_one() {
    let app = spawn_app_with(|config| config.max_streams_per_connection = 2).await;
    let channel = app.native_channel().await;
    let mut open = open_streams(&channel, 2).await;
    // A third call on the same connection is held by HTTP/2 until a stream frees up.
    let mut greeter = GreeterClient::new(channel);
    let waiting = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        greeter.say_hello(HelloRequest {
            name: "third".into(),
        }),
    )
    .await;
    assert!(
        waiting.is_err(),
        "the server allowed a third concurrent stream"
    );
    open.pop();
    let reply = tokio::time::timeout(
        crate::helpers::PATIENCE,
        greeter.say_hello(HelloRequest {
            name: "third".into(),
        }),
    )
    .await
    .expect("once a stream is free")
    .expect("call");
    assert_eq!(reply.into_inner().message, "Hello, third!");
}

#[tokio::test]
async fn calls_past_the_in_flight_limit_are_resource_exhausted() {
    let app = spawn_app_with(|config| config.max_in_flight = 2).await;
    let channel = app.native_channel().await;
    let mut open = open_streams(&channel, 2).await;
    let mut greeter = GreeterClient::new(channel);
    let status = greeter
        .say_hello(HelloRequest {
            name: "third".into(),
        })
        .await
        .expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        status.message(),
        "the server is at its limit of 2 calls in flight; try again shortly"
    );

    // A stream ends: its slot is free again.
    open.pop();
    app.wait_until(|| async {
        GreeterClient::new(app.native_channel().await)
            .say_hello(HelloRequest {
                name: "again".into(),
            })
            .await
            .is_ok()
    })
    .await;
}

#[tokio::test]
async fn each_client_may_change_state_only_so_often() {
    use proto::chat::v1::{PostRequest, chat_service_client::ChatServiceClient};
    use tonic_types::StatusExt;
    let app = spawn_app_with(|config| {
        config.state_changes_per_minute = std::num::NonZeroU32::new(3).expect("not zero");
    })
    .await;
    let channel = app.native_channel().await;
    let mut chat = ChatServiceClient::new(channel.clone());
    let post = || PostRequest {
        room: "r".into(),
        author: "a".into(),
        text: "hi".into(),
    };
    for _ in 0..3 {
        chat.post(post()).await.expect("within the rate");
    }
    let status = chat.post(post()).await.expect_err("over the rate");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status
            .message()
            .starts_with("too many changes from this client"),
        "{}",
        status.message()
    );
    let retry = status.get_details_retry_info().expect("RetryInfo");
    let delay = retry.retry_delay.expect("a delay");
    assert!(
        delay > std::time::Duration::ZERO && delay <= std::time::Duration::from_secs(20),
        "{delay:?}"
    );

    // Reads are not limited.
    for _ in 0..10 {
        GreeterClient::new(channel.clone())
            .say_hello(HelloRequest {
                name: "reader".into(),
            })
            .await
            .expect("not a state change");
    }
}

#[tokio::test]
async fn idle_connections_are_closed_but_not_those_with_a_call_running() {
    use proto::weather::v1::{
        WatchConditionsRequest, weather_service_client::WeatherServiceClient,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|config| {
        config.idle_timeout = std::time::Duration::from_millis(300);
        config.live_interval = std::time::Duration::from_secs(3600);
    })
    .await;

    // An HTTP/1.1 connection, one request, then nothing: the server closes it.
    let mut socket = TcpStream::connect(app.address).await.expect("connect");
    socket
        .write_all(b"GET /nothing HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .expect("write");
    let mut received = Vec::new();
    let closed = tokio::time::timeout(crate::helpers::PATIENCE, socket.read_to_end(&mut received))
        .await
        .expect("the server closes the idle connection");
    assert!(closed.is_ok());
    assert!(
        received.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&received)
    );

    // A stream open with nothing to send for longer than the idle timeout stays open.
    let mut stream = WeatherServiceClient::new(app.native_channel().await)
        .watch_conditions(WatchConditionsRequest {
            city_id: "oslo-no".into(),
        })
        .await
        .expect("watch")
        .into_inner();
    stream
        .message()
        .await
        .expect("no error")
        .expect("first reading");
    let waited = tokio::time::timeout(std::time::Duration::from_secs(1), stream.message()).await;
    assert!(
        waited.is_err(),
        "still open and quiet after 1 s: {waited:?}"
    );
}

#[tokio::test]
async fn responses_past_the_limit_are_resource_exhausted_too() {
    use proto::demo::{PredictRequest, my_service_client::MyServiceClient};
    let app = spawn_app_with(|config| config.max_message_bytes = 1024).await;
    let mut client = MyServiceClient::new(app.native_channel().await);
    // The request fits (1,015 characters); the reply, "Hello, …!", does not.
    let status = client
        .predict(PredictRequest {
            prompt: "x".repeat(1015),
        })
        .await
        .expect_err("the reply is over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|config| config.max_header_bytes = 4096).await;
    // HTTP/1.1 (gRPC-Web): 431 Request Header Fields Too Large.
    let mut socket = TcpStream::connect(app.address).await.expect("connect");
    let big = "x".repeat(20_000);
    socket
        .write_all(format!("GET / HTTP/1.1\r\nhost: test\r\nx-big: {big}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut received = Vec::new();
    let _ = tokio::time::timeout(crate::helpers::PATIENCE, socket.read_to_end(&mut received)).await;
    assert!(
        received.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&received)
    );

    // HTTP/2 (native gRPC): the call is refused, the server stays up.
    let mut client = GreeterClient::new(app.native_channel().await);
    let mut request = tonic::Request::new(HelloRequest { name: "big".into() });
    request
        .metadata_mut()
        .insert("x-big", "y".repeat(20_000).parse().expect("ascii"));
    client
        .say_hello(request)
        .await
        .expect_err("headers over the limit");
    client
        .say_hello(HelloRequest {
            name: "small".into(),
        })
        .await
        .expect("the server still answers");
}

/// An HTTP/1.1 client still sending a request body the server has already answered (a
/// browser's gRPC-Web upload refused for its token) gets the answer, and its connection
/// stays usable: the server reads the rest of the body instead of closing on it (which
/// would reset the connection under the client).
#[tokio::test]
async fn an_early_answer_on_http1_reads_the_rest_of_the_body_and_keeps_the_connection() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;

    let app = spawn_app_with(|config| config.auth_token = Some("http1-drain-token".into())).await;
    let stream = TcpStream::connect(app.address).await.expect("connects");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    let driver = tokio::spawn(connection);
    let request = |path: &str, body: Vec<u8>| {
        http::Request::post(path)
            .header("host", app.address.to_string())
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .body(Full::new(bytes::Bytes::from(body)))
            .expect("request")
    };
    // An upload of 2 MiB (a frame of a message the server never looks at): refused by the
    // token check before any of it is read.
    let mut upload = vec![0, 0, 0x20, 0, 0];
    upload.resize(5 + (2 << 20), 0);
    let refused = sender
        .send_request(request("/files.v1.FileService/Upload", upload))
        .await
        .expect("the answer, not a reset");
    assert_eq!(refused.status(), 200);
    // Trailers-only: the status is in the headers.
    assert_eq!(refused.headers()["grpc-status"], "16", "UNAUTHENTICATED");
    refused
        .into_body()
        .collect()
        .await
        .expect("the whole answer");

    // The same connection takes the next call.
    sender.ready().await.expect("the connection stays open");
    let hello = [0, 0, 0, 0, 5, 0x0a, 0x03, b'A', b'd', b'a'];
    let answer = sender
        .send_request(request("/Greeter/SayHello", hello.to_vec()))
        .await
        .expect("a second call on the connection");
    let body = answer.into_body().collect().await.expect("answer");
    assert!(
        String::from_utf8_lossy(&body.to_bytes()).contains("Hello, Ada!"),
        "answered"
    );
    driver.abort();
}

//! grpc-ws (`docs/websocket-transport.md`): the four call modes through tonic's generated
//! clients over one WebSocket (the protocol's native client, `grpc_ws::client`), metadata
//! and errors both ways, a call dropped mid-way cancelled on the server, flow control on a
//! large client stream, and the upgrade refused to other origins and to clients that ask
//! for other subprotocols.

use std::time::Duration;

use grpc_ws::client::Client;
use proto::greeter::{HelloRequest, HelloStreamRequest, greeter_client::GreeterClient};
use testkit::{PATIENCE, TestServer};
use tonic::Code;

use crate::helpers::spawn_app;

fn socket(app: &TestServer) -> GreeterClient<Client> {
    GreeterClient::new(Client::new(format!(
        "ws://{}{}",
        app.address,
        grpc_ws::PATH
    )))
}

/// A WebSocket to the app's grpc-ws endpoint, for tests that speak the frames themselves.
async fn raw_socket(
    app: &TestServer,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}{}", app.address, grpc_ws::PATH)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        grpc_ws::SUBPROTOCOL.parse().expect("ascii"),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgraded");
    socket
}

fn names(names: &[&str]) -> impl futures_util::Stream<Item = HelloRequest> + Send + 'static {
    let names: Vec<HelloRequest> = names
        .iter()
        .map(|name| HelloRequest {
            name: (*name).to_owned(),
        })
        .collect();
    futures_util::stream::iter(names)
}

#[tokio::test]
async fn all_four_modes_over_one_socket() {
    let app = spawn_app().await;
    let mut client = socket(&app);

    let reply = client
        .say_hello(HelloRequest { name: "Ada".into() })
        .await
        .expect("unary");
    assert_eq!(reply.get_ref().message, "Hello, Ada!");
    assert!(
        reply.metadata().contains_key("x-request-id"),
        "response headers come back"
    );

    let mut stream = client
        .say_hello_stream(HelloStreamRequest {
            name: "Ada".into(),
            count: 3,
            interval_ms: 10,
        })
        .await
        .expect("server streaming")
        .into_inner();
    let mut replies = Vec::new();
    while let Some(reply) = stream.message().await.expect("a reply") {
        replies.push(reply.message);
    }
    assert_eq!(replies.len(), 3, "{replies:?}");

    let summary = client
        .say_hello_to_all(names(&["Ada", "Grace", "Ada"]))
        .await
        .expect("client streaming")
        .into_inner();
    assert_eq!((summary.count, summary.distinct_count), (3, 2));

    // Bidi: each answer arrives before the next name is sent.
    let (names_in, names_out) = tokio::sync::mpsc::channel::<HelloRequest>(1);
    let mut answers = client
        .converse(tokio_stream::wrappers::ReceiverStream::new(names_out))
        .await
        .expect("bidi")
        .into_inner();
    for name in ["Ada", "Grace", "Linus"] {
        names_in
            .send(HelloRequest { name: name.into() })
            .await
            .expect("sent");
        let answer = tokio::time::timeout(PATIENCE, answers.message())
            .await
            .expect("an answer before the next name")
            .expect("no error")
            .expect("the conversation goes on");
        assert!(answer.message.contains(name), "{}", answer.message);
    }
    drop(names_in);
    assert!(
        tokio::time::timeout(PATIENCE, answers.message())
            .await
            .expect("the end in time")
            .expect("a clean end")
            .is_none()
    );
}

#[tokio::test]
async fn errors_come_back_with_their_code_and_the_token_goes_along() {
    let app = TestServer::spawn_with(|config| config.auth_token = Some("ws-token".into())).await;
    let mut client = socket(&app);
    let refused = client
        .say_hello(HelloRequest {
            name: String::new(),
        })
        .await
        .expect_err("an empty name");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("name:"),
        "{}",
        refused.message()
    );

    use proto::chat::v1::{PostRequest, chat_service_client::ChatServiceClient};
    let mut chat = ChatServiceClient::new(Client::new(format!(
        "ws://{}{}",
        app.address,
        grpc_ws::PATH
    )));
    let post = || PostRequest {
        room: "ws".into(),
        author: "ada".into(),
        text: "over the socket".into(),
    };
    let denied = chat.post(post()).await.expect_err("no token");
    assert_eq!(denied.code(), Code::Unauthenticated);
    let mut request = tonic::Request::new(post());
    request
        .metadata_mut()
        .insert("authorization", "Bearer ws-token".parse().expect("ascii"));
    chat.post(request).await.expect("with the token");
}

#[tokio::test]
async fn a_large_client_stream_passes_within_the_windows() {
    let app = spawn_app().await;
    let mut client = socket(&app);
    // 5,000 names of 200 bytes: about 1 MB, far past one 256 KiB window.
    let long: Vec<String> = (0..5_000).map(|n| format!("{n:0>200}")).collect();
    let requests = futures_util::stream::iter(long.into_iter().map(|name| HelloRequest {
        name: name[..100].to_owned(),
    }));
    let summary = tokio::time::timeout(PATIENCE, client.say_hello_to_all(requests))
        .await
        .expect("in time")
        .expect("client streaming")
        .into_inner();
    assert_eq!(summary.count, 5_000);
}

#[tokio::test]
async fn a_dropped_call_is_cancelled_on_the_server() {
    let app = spawn_app().await;
    let mut client = socket(&app);
    let mut stream = client
        .say_hello_stream(HelloStreamRequest {
            name: "Ada".into(),
            count: 100,
            interval_ms: 100,
        })
        .await
        .expect("streaming")
        .into_inner();
    stream.message().await.expect("first").expect("a reply");
    drop(stream);
    // The server logs the call's end as CANCELLED, and the socket goes on serving.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = client
        .say_hello(HelloRequest {
            name: "after".into(),
        })
        .await
        .expect("the socket still serves");
    assert_eq!(reply.get_ref().message, "Hello, after!");
    let metrics = reqwest::get(&app.metrics_url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|line| line.contains("SayHelloStream") && line.contains("CANCELLED")),
        "the stream ended as cancelled:\n{metrics}"
    );
}

#[tokio::test]
async fn the_upgrade_is_refused_to_other_origins_and_other_subprotocols() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let upgrade = |origin: Option<&'static str>, protocol: Option<&'static str>| {
        let mut request = http
            .get(format!("{}{}", app.url(), grpc_ws::PATH))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(protocol) = protocol {
            request = request.header("sec-websocket-protocol", protocol);
        }
        request.send()
    };
    let foreign = upgrade(Some("https://evil.example"), Some(grpc_ws::SUBPROTOCOL))
        .await
        .expect("answered");
    assert_eq!(foreign.status(), 403);
    let other = upgrade(None, Some("graphql-ws")).await.expect("answered");
    assert_eq!(other.status(), 400);
    assert!(
        other
            .text()
            .await
            .expect("text")
            .contains(grpc_ws::SUBPROTOCOL),
        "says what it speaks"
    );
    // No subprotocol at all (a proxy may drop it): the path is the version.
    let bare = upgrade(None, None).await.expect("answered");
    assert_eq!(bare.status(), 101);
}

/// The protocol by hand: a client that gives no window back gets one window of DATA and no
/// more (the handler waits), gets the rest once it returns window, and a client that sends
/// past its window has that stream cut.
#[tokio::test]
async fn a_reader_that_returns_no_window_stops_the_sender() {
    use bytes::{BufMut, Bytes, BytesMut};
    use futures_util::{SinkExt, StreamExt};
    use grpc_ws::{Frame, Kind};
    use prost::Message as _;
    use proto::grpc_testing::{ResponseParameters, StreamingOutputCallRequest};
    use tokio_tungstenite::tungstenite::Message;

    let app = spawn_app().await;
    let mut socket = raw_socket(&app).await;
    let send = |frame: Frame| Message::Binary(grpc_ws::encode(&frame));
    // Twenty answers of 32 KiB: 640 KiB against a 256 KiB window.
    let call = StreamingOutputCallRequest {
        response_parameters: (0..20)
            .map(|_| ResponseParameters {
                size: 32 * 1024,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut message = BytesMut::new();
    message.put_u8(0);
    message.put_u32(call.encoded_len() as u32);
    call.encode(&mut message).expect("encoded");
    for kind in [
        Kind::Open {
            path: "/grpc.testing.TestService/StreamingOutputCall".into(),
            metadata: http::HeaderMap::new(),
        },
        Kind::Data(message.freeze()),
        Kind::End,
    ] {
        socket
            .send(send(Frame { stream: 1, kind }))
            .await
            .expect("sent");
    }
    let mut received = 0usize;
    // Read for a while without returning window.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(Ok(Message::Binary(bytes)))) =
        tokio::time::timeout_at(deadline, socket.next()).await
    {
        if let Kind::Data(data) = grpc_ws::decode(bytes).expect("a frame").kind {
            received += data.len();
        }
    }
    // A frame waits until it fits whole (grpc_ws::window), so the last one may be held back.
    let window = grpc_ws::INITIAL_WINDOW as usize;
    assert!(
        received <= window && received > window - 16 * 1024,
        "one window (less at most a frame), then the server waits: {received} bytes"
    );
    // Window back: the rest comes, then the trailers.
    let mut trailers = None;
    while trailers.is_none() {
        socket
            .send(send(Frame {
                stream: 1,
                kind: Kind::Window(grpc_ws::INITIAL_WINDOW),
            }))
            .await
            .expect("sent");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut granted = 0usize;
        while granted < grpc_ws::INITIAL_WINDOW as usize && trailers.is_none() {
            let Ok(Some(Ok(Message::Binary(bytes)))) =
                tokio::time::timeout_at(deadline, socket.next()).await
            else {
                panic!("the stream stalled after {received} bytes");
            };
            match grpc_ws::decode(bytes).expect("a frame").kind {
                Kind::Data(data) => {
                    received += data.len();
                    granted += data.len();
                }
                Kind::Trailers(found) => trailers = Some(found),
                _ => {}
            }
        }
    }
    assert_eq!(trailers.expect("trailers")["grpc-status"], "0");
    assert!(received > 10 * 32 * 1024, "every answer: {received} bytes");

    // Past the window: the stream is cut with a status, the socket goes on.
    socket
        .send(send(Frame {
            stream: 3,
            kind: Kind::Open {
                path: "/Greeter/SayHelloToAll".into(),
                metadata: http::HeaderMap::new(),
            },
        }))
        .await
        .expect("sent");
    socket
        .send(send(Frame {
            stream: 3,
            kind: Kind::Data(Bytes::from(vec![0; grpc_ws::INITIAL_WINDOW as usize + 1])),
        }))
        .await
        .expect("sent");
    let cut = loop {
        let Ok(Some(Ok(Message::Binary(bytes)))) =
            tokio::time::timeout(PATIENCE, socket.next()).await
        else {
            panic!("no answer to a frame past the window");
        };
        let frame = grpc_ws::decode(bytes).expect("a frame");
        if let (3, Kind::Trailers(trailers)) = (frame.stream, frame.kind) {
            break trailers;
        }
    };
    assert_eq!(cut["grpc-status"], "13", "{cut:?}");
}

/// A client that floods PINGs and never reads the PONGs cannot make the server queue them
/// without bound: the socket is closed once the queue of control frames is full.
#[tokio::test]
async fn a_client_that_never_reads_its_socket_is_cut_off() {
    use futures_util::{SinkExt, StreamExt};
    use grpc_ws::{Frame, Kind};
    use tokio_tungstenite::tungstenite::Message;

    // The frame rate allowed high enough that only the queue's bound can stop the flood.
    let app =
        crate::helpers::spawn_app_with(|config| config.ws_max_frames_per_second = 1_000_000).await;
    let (mut sink, mut incoming) = raw_socket(&app).await.split();
    const PINGS: usize = 500_000;
    let ping = grpc_ws::encode(&Frame {
        stream: 0,
        kind: Kind::Ping(*b"flooding"),
    });
    // Sending stops by itself once the server has closed its end.
    let flood = tokio::spawn(async move {
        for _ in 0..PINGS {
            if sink.feed(Message::Binary(ping.clone())).await.is_err() {
                return;
            }
        }
        let _ = sink.flush().await;
    });
    tokio::time::timeout(PATIENCE, flood)
        .await
        .expect("the flood is sent or refused in time")
        .expect("joined");
    // Only now read: what was queued, then the end, well before every PONG.
    let mut pongs = 0usize;
    let ended = tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(message)) = incoming.next().await {
            if matches!(message, Message::Binary(_)) {
                pongs += 1;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server closed the socket");
    assert!(pongs < PINGS, "cut off after {pongs} pongs");
}

/// A WebSocket server that upgrades and then answers each frame it gets with what `answer`
/// makes of it, for the client's own checks (deadline, liveness, windows). Its address, the
/// frames it got, and the task (aborted at the end).
async fn scripted_server(
    answer: fn(&grpc_ws::Frame) -> Vec<grpc_ws::Frame>,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<grpc_ws::Frame>,
    tokio::task::JoinHandle<()>,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{
        Message,
        handshake::server::{Request, Response},
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (got, heard) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let got = got.clone();
            tokio::spawn(async move {
                // Answers the subprotocol the native client asks for.
                #[allow(clippy::result_large_err, reason = "tungstenite's callback type")]
                let agree = |_: &Request, mut response: Response| {
                    response.headers_mut().insert(
                        "sec-websocket-protocol",
                        grpc_ws::SUBPROTOCOL.parse().expect("header"),
                    );
                    Ok(response)
                };
                let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(tcp, agree).await else {
                    return;
                };
                while let Some(Ok(message)) = socket.next().await {
                    let Message::Binary(bytes) = message else {
                        continue;
                    };
                    let Ok(frame) = grpc_ws::decode(bytes) else {
                        return;
                    };
                    for reply in answer(&frame) {
                        let _ = socket.send(Message::Binary(grpc_ws::encode(&reply))).await;
                    }
                    let _ = got.send(frame);
                }
            });
        }
    });
    (format!("ws://{address}{}", grpc_ws::PATH), heard, task)
}

/// A server that says nothing, whatever comes.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let (url, _, task) = scripted_server(|_| Vec::new()).await;
    (url, task)
}

#[tokio::test]
async fn a_server_past_the_call_s_window_fails_the_call_instead_of_filling_the_client() {
    // Answers a call with headers and 320 KiB at once, never waiting for window (256 KiB).
    let (url, mut heard, server) = scripted_server(|frame| match frame.kind {
        grpc_ws::Kind::Open { .. } => {
            let mut headers = http::HeaderMap::new();
            headers.insert("content-type", "application/grpc".parse().expect("ascii"));
            let mut frames = vec![grpc_ws::Frame {
                stream: frame.stream,
                kind: grpc_ws::Kind::Headers(headers),
            }];
            // One message that claims 1 MiB, so nothing decodes before the window is past.
            let mut first = vec![0u8; 64 * 1024];
            first[1..5].copy_from_slice(&(1u32 << 20).to_be_bytes());
            frames.push(grpc_ws::Frame {
                stream: frame.stream,
                kind: grpc_ws::Kind::Data(first.into()),
            });
            frames.extend((0..4).map(|_| grpc_ws::Frame {
                stream: frame.stream,
                kind: grpc_ws::Kind::Data(vec![0u8; 64 * 1024].into()),
            }));
            frames
        }
        _ => Vec::new(),
    })
    .await;
    let mut client = GreeterClient::new(Client::new(url));
    let mut replies = tokio::time::timeout(
        PATIENCE,
        client.say_hello_stream(HelloStreamRequest {
            name: "Ada".into(),
            count: 1,
            interval_ms: 0,
        }),
    )
    .await
    .expect("answered")
    .expect("headers")
    .into_inner();
    // Everything has arrived before the first read: the fifth frame is past the window.
    let mut cancelled = false;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(1), heard.recv()).await {
        cancelled |= matches!(frame.kind, grpc_ws::Kind::Cancel);
    }
    let status = replies.message().await.expect_err("cut");
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(status.message().contains("window"), "{status:?}");
    assert!(cancelled, "the client told the server it cut the call");
    server.abort();
}

#[tokio::test]
async fn a_call_fails_at_its_deadline_even_when_the_server_is_silent() {
    let (url, server) = silent_server().await;
    let mut client = GreeterClient::new(Client::new(url));
    let mut request = tonic::Request::new(HelloRequest { name: "Ada".into() });
    request.set_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let status = tokio::time::timeout(PATIENCE, client.say_hello(request))
        .await
        .expect("the call ends by itself")
        .expect_err("nobody answers");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "not before the deadline: {:?}",
        started.elapsed()
    );
    server.abort();
}

#[tokio::test]
async fn a_socket_that_does_not_answer_pings_fails_its_calls() {
    let (url, server) = silent_server().await;
    let transport =
        Client::new(url).keepalive(Duration::from_millis(100), Duration::from_millis(200));
    let mut client = GreeterClient::new(transport);
    // No deadline: only the pings can tell that the server is gone.
    let (_names, names_out) = tokio::sync::mpsc::channel::<HelloRequest>(1);
    let status = tokio::time::timeout(
        PATIENCE,
        client.converse(tokio_stream::wrappers::ReceiverStream::new(names_out)),
    )
    .await
    .expect("the call ends by itself")
    .expect_err("nobody answers");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("ping"), "{status:?}");
    server.abort();
}

#[tokio::test]
async fn an_answered_socket_stays_open_across_pings() {
    let app = spawn_app().await;
    let transport = Client::new(format!("ws://{}{}", app.address, grpc_ws::PATH))
        .keepalive(Duration::from_millis(50), Duration::from_millis(200));
    let mut client = GreeterClient::new(transport.clone());
    client
        .say_hello(HelloRequest { name: "Ada".into() })
        .await
        .expect("first call");
    tokio::time::sleep(Duration::from_millis(600)).await;
    client
        .say_hello(HelloRequest {
            name: "Grace".into(),
        })
        .await
        .expect("after a dozen pings");
    assert_eq!(transport.sockets_opened(), 1, "the same socket");
}

#[tokio::test]
async fn without_a_socket_complete_requests_go_the_other_way_and_streams_are_refused() {
    use grpc_ws::client::Fallback;

    let app = spawn_app().await;
    // Nothing listens at the socket's address: a port taken and let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address");
    let socket = Client::new(format!("ws://{closed}{}", grpc_ws::PATH));
    let native = tonic::transport::Endpoint::from_shared(format!("http://{}", app.address))
        .expect("endpoint")
        .connect()
        .await
        .expect("native channel");
    let mut client = GreeterClient::new(Fallback::new(socket, native));

    let reply = client
        .say_hello(HelloRequest { name: "Ada".into() })
        .await
        .expect("unary goes the other way");
    assert_eq!(reply.get_ref().message, "Hello, Ada!");
    assert_eq!(
        reply.extensions().get::<grpc_ws::client::Via>(),
        Some(&grpc_ws::client::Via::Other)
    );
    // A client stream all there at the call goes too.
    let summary = client
        .say_hello_to_all(names(&["Ada", "Grace"]))
        .await
        .expect("complete client stream")
        .into_inner();
    assert_eq!(summary.count, 2);
    // One still being written cannot: refused at once, saying why.
    let (_names, names_out) = tokio::sync::mpsc::channel::<HelloRequest>(1);
    let status = tokio::time::timeout(
        PATIENCE,
        client.converse(tokio_stream::wrappers::ReceiverStream::new(names_out)),
    )
    .await
    .expect("refused, not waiting")
    .expect_err("bidi needs the socket");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("grpc-ws socket"), "{status:?}");
}

#[tokio::test]
async fn with_the_socket_every_call_takes_it() {
    use grpc_ws::client::{Fallback, Via};

    let app = spawn_app().await;
    let socket = Client::new(format!("ws://{}{}", app.address, grpc_ws::PATH));
    let native = tonic::transport::Endpoint::from_shared(format!("http://{}", app.address))
        .expect("endpoint")
        .connect()
        .await
        .expect("native channel");
    let fallback = Fallback::new(socket.clone(), native);
    let mut client = GreeterClient::new(fallback.clone());
    for name in ["Ada", "Grace"] {
        let reply = client
            .say_hello(HelloRequest { name: name.into() })
            .await
            .expect("unary");
        assert_eq!(reply.extensions().get::<Via>(), Some(&Via::Socket));
    }
    assert_eq!(socket.sockets_opened(), 1, "one socket for both calls");
    fallback.set_socket_first(false);
    let reply = client
        .say_hello(HelloRequest {
            name: "Linus".into(),
        })
        .await
        .expect("unary");
    assert_eq!(
        reply.extensions().get::<Via>(),
        Some(&Via::Other),
        "switched off"
    );
}

#[tokio::test]
async fn a_socket_that_sends_more_frames_per_second_than_allowed_is_closed() {
    use futures_util::{SinkExt, StreamExt};
    use grpc_ws::{Frame, Kind};
    use tokio_tungstenite::tungstenite::Message;

    let app = crate::helpers::spawn_app_with(|config| config.ws_max_frames_per_second = 200).await;
    let (mut sink, mut incoming) = raw_socket(&app).await.split();
    let ping = grpc_ws::encode(&Frame {
        stream: 0,
        kind: Kind::Ping(*b"too-fast"),
    });
    // 1,000 pings at once, reading every answer: only the rate is wrong.
    tokio::spawn(async move {
        for _ in 0..1000 {
            if sink.send(Message::Binary(ping.clone())).await.is_err() {
                return;
            }
        }
    });
    let mut pongs = 0usize;
    tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(message)) = incoming.next().await {
            if matches!(message, Message::Binary(_)) {
                pongs += 1;
            }
        }
    })
    .await
    .expect("the server closed the socket");
    assert!(
        (1..=200).contains(&pongs),
        "answered {pongs} pings before closing"
    );
}

#[tokio::test]
async fn calls_beyond_the_socket_s_stream_limit_are_refused() {
    let app = crate::helpers::spawn_app_with(|config| config.ws_max_streams_per_socket = 2).await;
    let transport = Client::new(format!("ws://{}{}", app.address, grpc_ws::PATH));
    let mut open = Vec::new();
    for name in ["Ada", "Grace"] {
        let (names, stream) = tokio::sync::mpsc::channel::<HelloRequest>(1);
        names
            .send(HelloRequest { name: name.into() })
            .await
            .expect("queued");
        let mut answers = GreeterClient::new(transport.clone())
            .converse(tokio_stream::wrappers::ReceiverStream::new(stream))
            .await
            .expect("open")
            .into_inner();
        answers.message().await.expect("answer").expect("one");
        open.push((names, answers));
    }
    let status = GreeterClient::new(transport.clone())
        .say_hello(HelloRequest {
            name: "Linus".into(),
        })
        .await
        .expect_err("a third call at once");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("at most 2 calls"), "{status:?}");
    drop(open);
    // Room again once they end.
    tokio::time::timeout(PATIENCE, async {
        loop {
            let mut client = GreeterClient::new(transport.clone());
            if client
                .say_hello(HelloRequest {
                    name: "Linus".into(),
                })
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("served once the others ended");
    assert_eq!(transport.sockets_opened(), 1);
}

#[tokio::test]
async fn a_drain_lets_open_calls_finish_and_takes_no_new_ones_on_the_socket() {
    let app = spawn_app().await;
    let transport = Client::new(format!("ws://{}{}", app.address, grpc_ws::PATH));
    let mut client = GreeterClient::new(transport.clone());
    let (names, stream) = tokio::sync::mpsc::channel::<HelloRequest>(4);
    names
        .send(HelloRequest { name: "Ada".into() })
        .await
        .expect("queued");
    let mut summary_client = client.clone();
    let summary = tokio::spawn(async move {
        summary_client
            .say_hello_to_all(tokio_stream::wrappers::ReceiverStream::new(stream))
            .await
    });
    // The call is open on the server before the drain begins.
    let in_flight = |metrics: &str| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("grpc_server_in_flight "))
            .and_then(|value| value.trim().parse::<f64>().ok())
    };
    tokio::time::timeout(PATIENCE, async {
        loop {
            let metrics = reqwest::get(&app.metrics_url)
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            if in_flight(&metrics) == Some(1.0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the call is in flight");
    let server = tokio::spawn(app.shutdown());
    // GOAWAY: the socket takes no new calls. A new one goes to a new socket, which the
    // draining server no longer accepts.
    let refused = tokio::time::timeout(PATIENCE, async {
        loop {
            match client.say_hello(HelloRequest { name: "new".into() }).await {
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("new calls are refused once the drain has begun");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    // The server waits for the socket's open call before it stops: the socket has left its
    // HTTP/1.1 connection, so the drain must wait for it apart (the binary exits once
    // `serve` returns, and a socket still open would be cut).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.is_finished(),
        "the server stopped with a call open on a socket"
    );
    // The open call goes on and finishes with everything it sent.
    names
        .send(HelloRequest {
            name: "Grace".into(),
        })
        .await
        .expect("the open call still takes names");
    drop(names);
    let summary = tokio::time::timeout(PATIENCE, summary)
        .await
        .expect("the open call ends")
        .expect("joined")
        .expect("the open call finished during the drain")
        .into_inner();
    assert_eq!(summary.count, 2);
    server.await.expect("joined").expect("the server stopped");
    assert_eq!(transport.sockets_opened(), 1, "no new socket: refused");
}

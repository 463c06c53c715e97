//! The ceiling for `bench/compare-servers.sh`: a bare hyper server (HTTP/1.1 and h2c on one
//! port, as ours) that reads each request's body and answers every POST with one fixed,
//! valid gRPC reply to `demo.MyService/Predict` (`PredictResponse { result: "Hello,
//! world!" }`): in trailers for native gRPC, in the body's trailer frame for gRPC-Web. No
//! routing, no protobuf decoding, no service: what is left is hyper's own cost per call.
//! Written by hand because measuring that cost is its point.
//!
//! ```sh
//! target/release/bare-hyper --listen 127.0.0.1:0   # prints "listening on ADDRESS"
//! ```

use std::convert::Infallible;

use bytes::{BufMut, Bytes, BytesMut};
use clap::Parser;
use http::{HeaderMap, HeaderValue, Request, Response, header::CONTENT_TYPE};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use prost::Message;
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
}

/// The reply's gRPC message, length-prefixed.
fn reply_message() -> Bytes {
    let message = proto::demo::PredictResponse {
        result: "Hello, world!".to_owned(),
    }
    .encode_to_vec();
    let mut framed = BytesMut::with_capacity(5 + message.len());
    framed.put_u8(0);
    framed.put_u32(message.len() as u32);
    framed.put_slice(&message);
    framed.freeze()
}

type Body = BoxBody<Bytes, Infallible>;

async fn answer(
    request: Request<hyper::body::Incoming>,
    message: Bytes,
    web_body: Bytes,
) -> Result<Response<Body>, hyper::Error> {
    let web = request
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc-web"));
    request.into_body().collect().await?;
    let response = Response::builder();
    if web {
        let body = Full::new(web_body).boxed();
        return Ok(response
            .header(CONTENT_TYPE, "application/grpc-web+proto")
            .body(body)
            .expect("a valid response"));
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = [
        Ok::<_, Infallible>(hyper::body::Frame::data(message)),
        Ok(hyper::body::Frame::trailers(trailers)),
    ];
    let body = BodyExt::boxed(StreamBody::new(futures_util::stream::iter(frames)));
    Ok(response
        .header(CONTENT_TYPE, "application/grpc")
        .body(body)
        .expect("a valid response"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let message = reply_message();
    let mut web_body = BytesMut::from(&message[..]);
    let trailer = b"grpc-status:0\r\n";
    web_body.put_u8(0x80);
    web_body.put_u32(trailer.len() as u32);
    web_body.put_slice(trailer);
    let web_body = web_body.freeze();
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (message, web_body) = (message.clone(), web_body.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                answer(request, message.clone(), web_body.clone())
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

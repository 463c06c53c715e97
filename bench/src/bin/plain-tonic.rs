//! The plain tonic reference for `bench/compare-servers.sh`: `demo.MyService/Predict` as
//! tonic's examples serve it (tonic 0.14 + tonic-web, HTTP/1.1 and h2c on one port), with
//! nothing else: no logs, metrics, limits or auth. It answers as ours does (`Hello,
//! {prompt}!`).
//!
//! ```sh
//! target/release/plain-tonic --listen 127.0.0.1:0   # prints "listening on ADDRESS"
//! ```

use clap::Parser;
use proto::demo::{
    PredictRequest, PredictResponse,
    my_service_server::{MyService, MyServiceServer},
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
}

#[derive(Debug)]
struct Predict;

#[tonic::async_trait]
impl MyService for Predict {
    async fn predict(
        &self,
        request: Request<PredictRequest>,
    ) -> Result<Response<PredictResponse>, Status> {
        let prompt = request.into_inner().prompt;
        Ok(Response::new(PredictResponse {
            result: format!("Hello, {prompt}!"),
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(tonic_web::GrpcWebLayer::new())
        .add_service(MyServiceServer::new(Predict))
        .serve_with_incoming(TcpListenerStream::new(listener))
        .await?;
    Ok(())
}

//! `Greeter`: the seeds' SayHello, and a server stream of greetings.

use std::time::Duration;

use futures_util::stream;
use proto::greeter::{HelloReply, HelloRequest, HelloStreamRequest, greeter_server::Greeter};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{
    error::ApiError,
    shutdown::{ResponseStream, until_shutdown},
};

pub(crate) const MAX_NAME_CHARS: usize = 200;
pub(crate) const MAX_COUNT: u32 = 100;
pub(crate) const MAX_INTERVAL_MS: u32 = 10_000;

#[derive(Debug)]
pub struct GreeterService {
    shutdown: CancellationToken,
}

impl GreeterService {
    pub fn new(shutdown: CancellationToken) -> Self {
        Self { shutdown }
    }
}

fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(ApiError::invalid(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters, got {chars}"),
        ));
    }
    Ok(())
}

fn greeting(name: &str) -> String {
    format!("Hello, {name}!")
}

#[tonic::async_trait]
impl Greeter for GreeterService {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let HelloRequest { name } = request.into_inner();
        validate_name(&name)?;
        Ok(Response::new(HelloReply {
            message: greeting(&name),
        }))
    }

    type SayHelloStreamStream = ResponseStream<HelloReply>;

    async fn say_hello_stream(
        &self,
        request: Request<HelloStreamRequest>,
    ) -> Result<Response<Self::SayHelloStreamStream>, Status> {
        let HelloStreamRequest {
            name,
            count,
            interval_ms,
        } = request.into_inner();
        validate_name(&name)?;
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(ApiError::invalid(
                "count",
                format!("must be between 1 and {MAX_COUNT}, got {count}"),
            )
            .into());
        }
        if interval_ms > MAX_INTERVAL_MS {
            return Err(ApiError::invalid(
                "interval_ms",
                format!("must be at most {MAX_INTERVAL_MS}, got {interval_ms}"),
            )
            .into());
        }

        let interval = Duration::from_millis(u64::from(interval_ms));
        let greetings = stream::unfold(1, move |index| {
            let name = name.clone();
            async move {
                if index > count {
                    return None;
                }
                if index > 1 {
                    tokio::time::sleep(interval).await;
                }
                let message = format!("{} ({index}/{count})", greeting(&name));
                Some((Ok(HelloReply { message }), index + 1))
            }
        });
        Ok(Response::new(until_shutdown(
            greetings,
            self.shutdown.clone(),
        )))
    }
}

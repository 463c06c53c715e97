//! `Greeter`: the seeds' SayHello, and a server stream of greetings.

use std::{collections::HashSet, time::Duration};

use futures_util::stream;
use proto::greeter::{
    HelloReply, HelloRequest, HelloStreamRequest, HelloSummary, greeter_server::Greeter,
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::{
    error::ApiError,
    ops::shutdown::{ResponseStream, until_shutdown},
};

pub(crate) const MAX_NAME_CHARS: usize = 200;
pub(crate) const MAX_COUNT: u32 = 100;
pub(crate) const MAX_INTERVAL_MS: u32 = 10_000;
/// Names one SayHelloToAll call may send.
pub(crate) const MAX_NAMES: u32 = 10_000;
/// Names one Converse call may send.
pub(crate) const MAX_CONVERSATION: u32 = 1_000;

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
    name_problem(name).map_or(Ok(()), |problem| Err(ApiError::invalid("name", problem)))
}

/// The same check for the `number`th message of a stream, so the client knows which one.
fn validate_streamed_name(name: &str, number: u32) -> Result<(), ApiError> {
    name_problem(name).map_or(Ok(()), |problem| {
        Err(ApiError::invalid(
            "name",
            format!("{problem} (message {number})"),
        ))
    })
}

fn name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("must not be empty".into());
    }
    let chars = name.chars().count();
    (chars > MAX_NAME_CHARS)
        .then(|| format!("must be at most {MAX_NAME_CHARS} characters, got {chars}"))
}

fn greeting(name: &str) -> String {
    format!("Hello, {name}!")
}

/// Who was greeted by one SayHelloToAll call.
#[derive(Debug, Default)]
struct RollCall {
    count: u32,
    seen: HashSet<String>,
    /// The first distinct names, in order: the ones the summary names.
    first: Vec<String>,
}

impl RollCall {
    fn add(&mut self, name: String) {
        self.count += 1;
        if self.seen.insert(name.clone()) && self.first.len() < 3 {
            self.first.push(name);
        }
    }

    fn summary(&self) -> HelloSummary {
        let distinct = self.seen.len();
        let message = match self.first.as_slice() {
            [] => "Nobody to greet.".to_owned(),
            [one] => greeting(one),
            [a, b] => greeting(&format!("{a} and {b}")),
            [a, b, c] if distinct == 3 => greeting(&format!("{a}, {b} and {c}")),
            [a, b, ..] => greeting(&format!("{a}, {b} and {} others", distinct - 2)),
        };
        HelloSummary {
            count: self.count,
            distinct_count: distinct as u32,
            message,
        }
    }
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
                // At 0 no timer at all: even a zero sleep waits for the timer's next tick
                // (about 1 ms), which capped the stream near 1,000 messages/s. Without
                // it the stream goes as fast as the client reads.
                if index > 1 && !interval.is_zero() {
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

    async fn say_hello_to_all(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloSummary>, Status> {
        let mut names = request.into_inner();
        let mut roll = RollCall::default();
        while let Some(HelloRequest { name }) = names.message().await? {
            if roll.count == MAX_NAMES {
                return Err(ApiError::LimitExceeded {
                    subject: "names",
                    limit: MAX_NAMES,
                }
                .into());
            }
            validate_streamed_name(&name, roll.count + 1)?;
            roll.add(name);
        }
        Ok(Response::new(roll.summary()))
    }

    type ConverseStream = ResponseStream<HelloReply>;

    async fn converse(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<Self::ConverseStream>, Status> {
        // The state is the open conversation and how many names it has heard; `None` once
        // the server has ended it.
        let replies = stream::unfold(Some((request.into_inner(), 0)), |conversation| async move {
            let (mut incoming, heard) = conversation?;
            let name = match incoming.message().await {
                Ok(Some(HelloRequest { name })) => name,
                // The client closed its side: the conversation ends normally.
                Ok(None) => return None,
                Err(status) => return Some((Err(status), None)),
            };
            let heard = heard + 1;
            if heard > MAX_CONVERSATION {
                let error = ApiError::LimitExceeded {
                    subject: "names",
                    limit: MAX_CONVERSATION,
                };
                return Some((Err(error.into()), None));
            }
            if let Err(error) = validate_streamed_name(&name, heard) {
                return Some((Err(error.into()), None));
            }
            if name.trim().eq_ignore_ascii_case("bye") {
                let message = "Goodbye!".to_owned();
                return Some((Ok(HelloReply { message }), None));
            }
            let reply = HelloReply {
                message: greeting(&name),
            };
            Some((Ok(reply), Some((incoming, heard))))
        });
        Ok(Response::new(until_shutdown(
            replies,
            self.shutdown.clone(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[test]
    fn at_interval_zero_the_stream_waits_for_no_timer() {
        // No tokio runtime here: a timer (even a zero sleep) would panic.
        let service = GreeterService::new(CancellationToken::new());
        let replies = futures_executor::block_on(async {
            let stream = service
                .say_hello_stream(Request::new(HelloStreamRequest {
                    name: "Ada".into(),
                    count: MAX_COUNT,
                    interval_ms: 0,
                }))
                .await
                .expect("valid")
                .into_inner();
            stream.collect::<Vec<_>>().await
        });
        assert_eq!(replies.len(), MAX_COUNT as usize);
        assert!(replies.iter().all(Result::is_ok));
    }

    fn summary_of(names: &[&str]) -> HelloSummary {
        let mut roll = RollCall::default();
        for name in names {
            roll.add((*name).to_owned());
        }
        roll.summary()
    }

    #[test]
    fn the_summary_names_the_first_few_and_counts_the_rest() {
        assert_eq!(summary_of(&[]).message, "Nobody to greet.");
        assert_eq!(summary_of(&["Ada"]).message, "Hello, Ada!");
        assert_eq!(summary_of(&["Ada", "Ada"]).message, "Hello, Ada!");
        assert_eq!(
            summary_of(&["Ada", "Grace"]).message,
            "Hello, Ada and Grace!"
        );
        assert_eq!(
            summary_of(&["Ada", "Grace", "Alan"]).message,
            "Hello, Ada, Grace and Alan!"
        );
        let summary = summary_of(&["Ada", "Grace", "Ada", "Alan", "Edsger", "Barbara"]);
        assert_eq!(summary.message, "Hello, Ada, Grace and 3 others!");
        assert_eq!((summary.count, summary.distinct_count), (6, 5));
    }
}

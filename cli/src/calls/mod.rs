//! One function per method: build the request, call over the shared channel, print.

use std::{path::Path, pin::Pin};

use futures_util::{Stream, StreamExt};
use proto::{
    chat::v1::{
        ChatEvent, JoinRequest, JoinRoom, PostRequest, SubscribeRequest, chat_event,
        chat_service_client::ChatServiceClient, join_request,
    },
    demo::{PredictRequest, my_service_client::MyServiceClient},
    greeter::{HelloRequest, HelloStreamRequest, greeter_client::GreeterClient},
};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio_stream::wrappers::LinesStream;
use tonic::{
    Response, Status, Streaming, codec::CompressionEncoding,
    service::interceptor::InterceptedService, transport::Channel,
};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use clap::Parser;

mod blog;
mod files;
mod weather;

use crate::{
    args::{ChatCommand, Command, GreeterCommand, ShellLine, split_words},
    metadata::CallMetadata,
    output::Printer,
};

/// Replies may come gzipped: the server offers it, and it pays for large ones.
const GZIP: CompressionEncoding = CompressionEncoding::Gzip;

/// The one connection every call of a run shares, with the metadata interceptor on it.
pub type Transport = InterceptedService<Channel, CallMetadata>;

#[derive(Debug)]
pub struct Calls {
    transport: Transport,
    printer: Printer,
}

impl Calls {
    pub fn new(transport: Transport, printer: Printer) -> Self {
        Self { transport, printer }
    }

    pub fn printer(&self) -> &Printer {
        &self.printer
    }

    pub async fn run(&self, command: Command) -> Result<(), Status> {
        match command {
            Command::Shell => self.shell().await,
            Command::Greeter(command) => self.greeter(command).await,
            Command::Predict { prompt } => {
                let mut client =
                    MyServiceClient::new(self.transport.clone()).accept_compressed(GZIP);
                let reply = self.unary(client.predict(PredictRequest { prompt }).await?);
                self.printer
                    .reply("demo.PredictResponse", &reply, |r| r.result.clone());
                Ok(())
            }
            Command::Weather(command) => self.weather(command).await,
            Command::Chat(command) => self.chat(command).await,
            Command::Files(command) => self.files(command).await,
            Command::Blog(command) => self.blog(command).await,
            Command::Health { service } => {
                let mut client = HealthClient::new(self.transport.clone()).accept_compressed(GZIP);
                let status = self
                    .unary(client.check(HealthCheckRequest { service }).await?)
                    .status();
                // grpc.health.v1 is not in this project's descriptors: print it directly.
                let name = status.as_str_name();
                match self.printer.is_json() {
                    true => println!("{}", serde_json::json!({ "status": name })),
                    false => println!("{name}"),
                }
                Ok(())
            }
        }
    }

    /// Runs commands from stdin over this one connection until end of input. Each failure
    /// is printed where it happens; the session fails if any command did.
    async fn shell(&self) -> Result<(), Status> {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        let mut failures = 0;
        while let Some(line) = lines
            .next_line()
            .await
            .map_err(|error| Status::internal(format!("cannot read stdin: {error}")))?
        {
            let words = match split_words(&line) {
                Ok(words) if words.is_empty() => continue,
                Ok(words) => words,
                Err(error) => {
                    eprintln!("error: {error}");
                    failures += 1;
                    continue;
                }
            };
            let outcome = match ShellLine::try_parse_from(words) {
                Ok(ShellLine {
                    command: Command::Shell,
                }) => Err(Status::invalid_argument("already in a shell")),
                // Boxed: a shell line runs a command, which may not be another shell.
                Ok(ShellLine { command }) => Box::pin(self.run(command)).await,
                Err(error) => {
                    eprintln!("{}", error.render().to_string().trim_end());
                    failures += 1;
                    continue;
                }
            };
            if let Err(status) = outcome {
                self.printer.error(&status);
                failures += 1;
            }
        }
        match failures {
            0 => Ok(()),
            n => Err(Status::unknown(format!(
                "{n} command(s) of the session failed"
            ))),
        }
    }

    async fn greeter(&self, command: GreeterCommand) -> Result<(), Status> {
        let mut client = GreeterClient::new(self.transport.clone()).accept_compressed(GZIP);
        let print = |reply: &proto::greeter::HelloReply| {
            self.printer
                .reply("HelloReply", reply, |r| r.message.clone());
        };
        match command {
            GreeterCommand::SayHello { name } => {
                print(&self.unary(client.say_hello(HelloRequest { name }).await?));
            }
            GreeterCommand::Stream {
                name,
                count,
                interval,
            } => {
                let request = HelloStreamRequest {
                    name,
                    count,
                    interval_ms: u32::try_from(interval.as_millis()).unwrap_or(u32::MAX),
                };
                let mut replies = self.streaming(client.say_hello_stream(request).await?);
                while let Some(reply) = replies.message().await? {
                    print(&reply);
                }
                self.finished(&mut replies).await?;
            }
            GreeterCommand::ToAll { file } => {
                let names = names_from(file.as_deref()).await?;
                let summary = self.unary(client.say_hello_to_all(names).await?);
                self.printer.reply("HelloSummary", &summary, |s| {
                    format!(
                        "{} ({} names, {} different)",
                        s.message, s.count, s.distinct_count
                    )
                });
            }
            GreeterCommand::Converse => {
                let names = names_from(None).await?;
                let mut replies = self.streaming(client.converse(names).await?);
                while let Some(reply) = replies.message().await? {
                    print(&reply);
                }
                self.finished(&mut replies).await?;
            }
        }
        Ok(())
    }

    async fn chat(&self, command: ChatCommand) -> Result<(), Status> {
        let mut client = ChatServiceClient::new(self.transport.clone()).accept_compressed(GZIP);
        let mut events = match command {
            ChatCommand::Post { room, text, author } => {
                let message = self.unary(client.post(PostRequest { room, author, text }).await?);
                self.printer.reply("chat.v1.ChatMessage", &message, |m| {
                    format!("posted #{} to {}", m.id, m.room)
                });
                return Ok(());
            }
            ChatCommand::Watch {
                room,
                history,
                after,
                reconnect,
            } => {
                return self
                    .watch_room(&mut client, room, history, after, reconnect)
                    .await;
            }
            ChatCommand::Join {
                room,
                author,
                history,
                after,
            } => {
                let join = JoinRequest {
                    action: Some(join_request::Action::Join(JoinRoom {
                        room,
                        author,
                        history,
                        after_id: after,
                    })),
                };
                // Each line as it is typed (blank ones skipped), after the join.
                let lines = LinesStream::new(BufReader::new(tokio::io::stdin()).lines())
                    .take_while(|line| std::future::ready(line.is_ok()))
                    .filter_map(|line| async move {
                        let line = line.ok()?;
                        (!line.trim().is_empty()).then_some(JoinRequest {
                            action: Some(join_request::Action::Text(line)),
                        })
                    });
                let requests = futures_util::stream::once(std::future::ready(join)).chain(lines);
                self.streaming(client.join(requests).await?)
            }
        };
        while let Some(event) = events.message().await? {
            self.print_chat_event(&event);
        }
        self.finished(&mut events).await
    }

    /// `chat watch`: the room's messages until Ctrl-C; with `reconnect`, a broken stream is
    /// resumed after the last message shown (backing off 0.5 s to 10 s between attempts).
    async fn watch_room(
        &self,
        client: &mut ChatServiceClient<Transport>,
        room: String,
        history: u32,
        mut after: Option<u64>,
        reconnect: bool,
    ) -> Result<(), Status> {
        let mut backoff = std::time::Duration::from_millis(500);
        loop {
            let request = SubscribeRequest {
                room: room.clone(),
                history,
                after_id: after,
            };
            let outcome = async {
                let mut events = self.streaming(client.subscribe(request).await?);
                while let Some(event) = events.message().await? {
                    if let Some(chat_event::Event::Message(message)) = &event.event {
                        after = Some(message.id);
                        backoff = std::time::Duration::from_millis(500);
                    }
                    self.print_chat_event(&event);
                }
                self.finished(&mut events).await
            }
            .await;
            match outcome {
                Err(status) if reconnect && status.code() == tonic::Code::Unavailable => {
                    eprintln!(
                        "the stream broke ({}); reconnecting in {backoff:?}",
                        status.message()
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
                }
                outcome => return outcome,
            }
        }
    }

    fn print_chat_event(&self, event: &ChatEvent) {
        self.printer
            .reply("chat.v1.ChatEvent", event, |event| match &event.event {
                Some(chat_event::Event::Message(m)) => {
                    let seconds = m.posted_at.map_or(0, |t| t.seconds).rem_euclid(86_400);
                    format!(
                        "[{:02}:{:02}:{:02}] {}: {}",
                        seconds / 3600,
                        seconds % 3600 / 60,
                        seconds % 60,
                        m.author,
                        m.text
                    )
                }
                Some(chat_event::Event::Skipped(n)) => {
                    format!("({n} messages skipped: this client fell behind)")
                }
                None => String::new(),
            });
    }

    /// A unary reply, its metadata (headers, and the trailers tonic merges in) shown first
    /// with `--verbose`.
    fn unary<T>(&self, response: Response<T>) -> T {
        self.printer
            .metadata("headers and trailers", response.metadata());
        response.into_inner()
    }

    /// A reply stream, its headers shown first with `--verbose`.
    fn streaming<T>(&self, response: Response<Streaming<T>>) -> Streaming<T> {
        self.printer.metadata("headers", response.metadata());
        response.into_inner()
    }

    /// After a stream's last message: its trailers, with `--verbose`.
    async fn finished<T>(&self, stream: &mut Streaming<T>) -> Result<(), Status> {
        if let Some(trailers) = stream.trailers().await? {
            self.printer.metadata("trailers", &trailers);
        }
        Ok(())
    }
}

type Names = Pin<Box<dyn Stream<Item = HelloRequest> + Send>>;

/// Names, one per line, from a file or stdin, as they are read: blank lines are skipped.
async fn names_from(file: Option<&Path>) -> Result<Names, Status> {
    let reader: Box<dyn AsyncRead + Send + Unpin> = match file {
        Some(path) => Box::new(tokio::fs::File::open(path).await.map_err(|error| {
            Status::invalid_argument(format!("cannot read {}: {error}", path.display()))
        })?),
        None => Box::new(tokio::io::stdin()),
    };
    let lines = LinesStream::new(BufReader::new(reader).lines());
    // A read error ends the stream; the names read before it are sent.
    let lines = lines.take_while(|line| std::future::ready(line.is_ok()));
    Ok(Box::pin(lines.filter_map(|line| async move {
        let name = line.ok()?;
        let name = name.trim();
        (!name.is_empty()).then(|| HelloRequest {
            name: name.to_owned(),
        })
    })))
}

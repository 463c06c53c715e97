//! One function per method: build the request, call over the shared channel, print.

use std::{
    path::Path,
    pin::Pin,
    sync::{Arc, Mutex},
};

use futures_util::{Stream, StreamExt, future::join_all};
use proto::{
    chat::v1::{
        ChatEvent, JoinRequest, JoinRoom, PostRequest, SubscribeRequest, chat_event,
        chat_service_client::ChatServiceClient, join_request,
    },
    demo::{PredictRequest, my_service_client::MyServiceClient},
    files::v1::{
        DownloadRequest, FileHeader, FileInfo, ListFilesRequest, UploadRequest,
        file_service_client::FileServiceClient, upload_request,
    },
    greeter::{HelloRequest, HelloStreamRequest, greeter_client::GreeterClient},
    weather::v1::{
        CurrentConditions, Forecast, GetCurrentConditionsRequest, GetForecastRequest,
        SearchCitiesRequest, WatchRequest, watch_event,
        weather_service_client::WeatherServiceClient,
    },
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio_stream::wrappers::LinesStream;
use tokio_util::io::ReaderStream;
use tonic::{
    Response, Status, Streaming, codec::CompressionEncoding,
    service::interceptor::InterceptedService, transport::Channel,
};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use clap::Parser;

use crate::{
    args::{
        ChatCommand, Command, FilesCommand, GreeterCommand, ShellLine, WeatherCommand, split_words,
    },
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

    async fn weather(&self, command: WeatherCommand) -> Result<(), Status> {
        let mut client = WeatherServiceClient::new(self.transport.clone()).accept_compressed(GZIP);
        match command {
            WeatherCommand::Search { query, limit } => {
                let found = self.unary(
                    client
                        .search_cities(SearchCitiesRequest { query, limit })
                        .await?,
                );
                self.printer
                    .reply("weather.v1.SearchCitiesResponse", &found, |found| {
                        found
                            .cities
                            .iter()
                            .map(|c| format!("{:<24} {}, {}", c.id, c.name, c.country))
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
            }
            WeatherCommand::Current { city_ids } => {
                // Concurrent calls, multiplexed on the one HTTP/2 connection.
                let calls = city_ids.into_iter().map(|city_id| {
                    let mut client = client.clone();
                    async move {
                        client
                            .get_current_conditions(GetCurrentConditionsRequest { city_id })
                            .await
                    }
                });
                // Every answer prints; the first failure is returned (and printed last), the
                // others print where they come.
                let mut first_error = None;
                for result in join_all(calls).await {
                    match result {
                        Ok(reading) => self.print_conditions(&self.unary(reading)),
                        Err(status) if first_error.is_none() => first_error = Some(status),
                        Err(status) => self.printer.error(&status),
                    }
                }
                if let Some(status) = first_error {
                    return Err(status);
                }
            }
            WeatherCommand::Forecast { city_id } => {
                let forecast =
                    self.unary(client.get_forecast(GetForecastRequest { city_id }).await?);
                self.printer
                    .reply("weather.v1.Forecast", &forecast, format_forecast);
            }
            WeatherCommand::Watch { city_ids } => {
                let mut events = self.streaming(client.watch(WatchRequest { city_ids }).await?);
                while let Some(event) = events.message().await? {
                    match event.event {
                        Some(watch_event::Event::Update(update)) if !self.printer.is_json() => {
                            if update.skipped > 0 {
                                eprintln!(
                                    "({} updates skipped: reading too slowly)",
                                    update.skipped
                                );
                            }
                            self.print_conditions(&update.conditions.unwrap_or_default());
                        }
                        Some(watch_event::Event::Heartbeat(_)) if !self.printer.is_json() => {
                            if self.printer.is_verbose() {
                                eprintln!("(heartbeat)");
                            }
                        }
                        _ => self
                            .printer
                            .reply("weather.v1.WatchEvent", &event, |_| String::new()),
                    }
                }
                self.finished(&mut events).await?;
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
            ChatCommand::Watch { room, history } => {
                self.streaming(client.subscribe(SubscribeRequest { room, history }).await?)
            }
            ChatCommand::Join {
                room,
                author,
                history,
            } => {
                let join = JoinRequest {
                    action: Some(join_request::Action::Join(JoinRoom {
                        room,
                        author,
                        history,
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

    async fn files(&self, command: FilesCommand) -> Result<(), Status> {
        let mut client = FileServiceClient::new(self.transport.clone()).accept_compressed(GZIP);
        match command {
            FilesCommand::Upload { file, name } => {
                let (parts, read_error) = upload_parts(&file, name).await?;
                let outcome = client.upload(parts).await;
                // A file that could not be read to the end: that, not the server's view of a
                // short upload, is the error to report.
                if let Some(error) = read_error.lock().ok().and_then(|mut slot| slot.take()) {
                    return Err(Status::aborted(format!(
                        "cannot read {}: {error}; the server kept nothing",
                        file.display()
                    )));
                }
                let stored = self.unary(outcome?);
                self.printer.reply("files.v1.FileInfo", &stored, |f| {
                    format!("stored {} ({} bytes, sha256 {})", f.name, f.size, f.sha256)
                });
            }
            FilesCommand::List => {
                let listed = self.unary(client.list_files(ListFilesRequest {}).await?);
                self.printer
                    .reply("files.v1.ListFilesResponse", &listed, |listed| {
                        listed
                            .files
                            .iter()
                            .map(|f: &FileInfo| format!("{:>12}  {}  {}", f.size, f.sha256, f.name))
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
            }
            FilesCommand::Download { name, to } => {
                let to = to.unwrap_or_else(|| name.clone().into());
                let mut chunks = self.streaming(client.download(DownloadRequest { name }).await?);
                let written = if to.as_os_str() == "-" {
                    let mut stdout = tokio::io::stdout();
                    while let Some(part) = chunks.message().await? {
                        stdout
                            .write_all(&part.chunk)
                            .await
                            .map_err(|e| local_io("stdout", e))?;
                    }
                    stdout.flush().await.map_err(|e| local_io("stdout", e))?;
                    None
                } else {
                    Some(download_to(&mut chunks, &to).await?)
                };
                self.finished(&mut chunks).await?;
                if let Some(written) = written {
                    eprintln!("saved {} ({written} bytes)", to.display());
                }
            }
        }
        Ok(())
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

    fn print_conditions(&self, reading: &CurrentConditions) {
        self.printer
            .reply("weather.v1.CurrentConditions", reading, |reading| {
                let city = reading.city.clone().unwrap_or_default();
                let c = reading.conditions.unwrap_or_default();
                let sky = c
                    .sky()
                    .as_str_name()
                    .trim_start_matches("SKY_")
                    .replace('_', " ");
                let seconds = reading
                    .observed_at
                    .map_or(0, |t| t.seconds)
                    .rem_euclid(86_400);
                format!(
                    "{}, {}: {:.1} °C (feels like {:.1} °C), {}, humidity {}%, wind {:.1} km/h \
                     from {}°, precipitation {:.1} mm/h; observed {:02}:{:02}:{:02} UTC",
                    city.name,
                    city.country_code,
                    c.temperature_c,
                    c.feels_like_c,
                    sky.to_lowercase(),
                    c.humidity_percent,
                    c.wind_speed_kmh,
                    c.wind_direction_deg,
                    c.precipitation_mm_h,
                    seconds / 3600,
                    seconds % 3600 / 60,
                    seconds % 60,
                )
            });
    }
}

/// A forecast for people: one line per 3 hours of the next 48, then one per day.
fn format_forecast(forecast: &Forecast) -> String {
    let offset = i64::from(forecast.utc_offset_seconds);
    let sky = |sky: proto::weather::v1::Sky| {
        sky.as_str_name()
            .trim_start_matches("SKY_")
            .replace('_', " ")
            .to_lowercase()
    };
    let city = forecast.city.clone().unwrap_or_default();
    let mut lines = vec![format!("{}, {} (local times)", city.name, city.country)];
    for hour in forecast.hourly.iter().step_by(3) {
        let local = (hour.time.map_or(0, |t| t.seconds) + offset).rem_euclid(86_400);
        lines.push(format!(
            "  {:02}:00  {:>5.1} °C  {:>4.1} mm  {:>3}%  {}",
            local / 3600,
            hour.temperature_c,
            hour.precipitation_mm,
            hour.precipitation_probability_percent,
            sky(hour.sky()),
        ));
    }
    for day in &forecast.daily {
        lines.push(format!(
            "  {}  {:>5.1} to {:>5.1} °C  {:>4.1} mm  {}",
            day.date,
            day.temperature_min_c,
            day.temperature_max_c,
            day.precipitation_mm,
            sky(day.sky()),
        ));
    }
    lines.join("\n")
}

/// Bytes per upload message (the server takes up to 1 MiB).
const UPLOAD_CHUNK_BYTES: usize = 256 * 1024;

type Parts = Pin<Box<dyn Stream<Item = UploadRequest> + Send>>;
type ReadError = Arc<Mutex<Option<std::io::Error>>>;

/// An upload of `path` as it is read: the header, then chunks. A read error ends the
/// stream early (so the server refuses the short upload) and is kept for the caller.
async fn upload_parts(path: &Path, name: Option<String>) -> Result<(Parts, ReadError), Status> {
    let cannot = |error: std::io::Error| {
        Status::invalid_argument(format!("cannot read {}: {error}", path.display()))
    };
    let file = tokio::fs::File::open(path).await.map_err(cannot)?;
    let size = file.metadata().await.map_err(cannot)?.len();
    let name = match name {
        Some(name) => name,
        None => path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| Status::invalid_argument(format!("{} is not a file", path.display())))?,
    };
    let header = UploadRequest {
        part: Some(upload_request::Part::Header(FileHeader { name, size })),
    };
    let read_error = ReadError::default();
    let slot = Arc::clone(&read_error);
    let chunks = ReaderStream::with_capacity(file, UPLOAD_CHUNK_BYTES).scan((), move |(), read| {
        std::future::ready(match read {
            Ok(chunk) => Some(UploadRequest {
                part: Some(upload_request::Part::Chunk(chunk.to_vec())),
            }),
            Err(error) => {
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(error);
                }
                None
            }
        })
    });
    Ok((
        Box::pin(futures_util::stream::once(std::future::ready(header)).chain(chunks)),
        read_error,
    ))
}

/// Writes a download to a new file at `to` (never over an existing one); a download that
/// fails part-way removes what it wrote.
async fn download_to(
    chunks: &mut Streaming<proto::files::v1::DownloadResponse>,
    to: &Path,
) -> Result<usize, Status> {
    let shown = to.display().to_string();
    let mut file = tokio::fs::File::create_new(to)
        .await
        .map_err(|error| local_io(&shown, error))?;
    let mut written = 0;
    let outcome = async {
        while let Some(part) = chunks.message().await? {
            file.write_all(&part.chunk)
                .await
                .map_err(|error| local_io(&shown, error))?;
            written += part.chunk.len();
        }
        file.flush().await.map_err(|error| local_io(&shown, error))
    }
    .await;
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(to).await;
    }
    outcome.map(|()| written)
}

/// A local file problem, reported like a call's error.
fn local_io(what: &str, error: std::io::Error) -> Status {
    Status::aborted(format!("cannot write {what}: {error}"))
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

//! The command line: every service, every method, and the flags that apply to all of them.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};

const EXAMPLES: &str = "\
Examples:
  client greeter say-hello Ada
  client greeter stream Ada --count 3 --interval 1s
  printf 'Ada\\nGrace\\n' | client greeter to-all
  client greeter converse                      (type names; Ctrl-D or \"bye\" ends it)
  client predict World111
  client weather search par
  client weather current paris-fr tokyo-jp -o json
  client weather forecast oslo-no
  client weather watch oslo-no lima-pe --deadline 10s
  client chat watch lobby                      (history, then messages as posted)
  client chat post lobby hello --author ada    (CLIENT_TOKEN set if the server has a token)
  client chat join lobby --author ada          (lines you type are posted; Ctrl-D leaves)
  client files upload ./report.pdf             (CLIENT_TOKEN set if the server has a token)
  client files list
  client files download report.pdf --to copy.pdf
  client health weather.v1.WeatherService
  printf 'predict a\npredict b\n' | client shell   (several calls, one connection)
  client -s http://127.0.0.1:50051 -H x-request-id:demo-1 -v greeter say-hello Ada

Errors print their gRPC code, message and details on stderr, and the exit status is 1
(2 for a bad command line or server address, 130 after Ctrl-C).";

/// Call the server's gRPC services from the command line.
///
/// One connection carries every call of a run. Replies print as they arrive.
#[derive(Debug, Parser)]
#[command(name = "client", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub options: Options,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Options {
    /// Server to call: http://HOST:PORT, or https://HOST:PORT for TLS (with --ca-file).
    #[arg(
        long,
        short,
        env = "CLIENT_SERVER",
        default_value = "http://localhost:50051",
        global = true
    )]
    pub server: String,

    /// Several replicas to balance the calls over, as HOST:PORT entries, comma separated;
    /// a host that resolves to several addresses counts as each of them. Plain HTTP/2, or
    /// TLS with --ca-file.
    #[arg(
        long,
        env = "CLIENT_SERVERS",
        value_delimiter = ',',
        global = true,
        conflicts_with = "etcd",
        value_parser = flags::host_port
    )]
    pub servers: Vec<String>,

    /// Discover replicas in etcd (its client URL, e.g. `http://127.0.0.1:2379`) and
    /// balance the calls over them; replicas that leave are dropped. Plain HTTP/2, or TLS
    /// with --ca-file.
    #[arg(long, env = "CLIENT_ETCD", global = true, value_parser = flags::http_url)]
    pub etcd: Option<String>,

    /// The key prefix replicas register under in etcd.
    #[arg(
        long,
        env = "CLIENT_ETCD_PREFIX",
        default_value = "/grpc-browser/replicas/",
        global = true
    )]
    pub etcd_prefix: String,

    /// PEM file of the certificate authority that signed the server's certificate. With
    /// --servers or --etcd, the replicas are called over TLS (https) with it.
    #[arg(long, value_name = "PEM", global = true)]
    pub ca_file: Option<PathBuf>,

    /// With --servers or --etcd and no --ca-file: send the token to the discovered replicas
    /// over plain HTTP/2 anyway. Without this, the client refuses: whoever can write the
    /// list (etcd's prefix, DNS) could otherwise collect the token.
    #[arg(long, env = "CLIENT_INSECURE_DISCOVERY", global = true)]
    pub insecure_discovery: bool,

    /// Deadline for each call, streams included, e.g. `500ms` or `5s`. A call still running
    /// then fails with DEADLINE_EXCEEDED.
    #[arg(long, short, value_parser = flags::duration, global = true)]
    pub deadline: Option<Duration>,

    /// Bearer token for the methods that change state (chat post and join), sent as
    /// `authorization: Bearer TOKEN`. Prefer the environment variable: a flag shows in the
    /// process list.
    #[arg(long, env = "CLIENT_TOKEN", hide_env_values = true, value_parser = flags::Token, global = true)]
    pub token: Option<String>,

    /// Metadata sent with every call, as KEY:VALUE. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE", value_parser = parse_header, global = true)]
    pub headers: Vec<Header>,

    /// Also print each response's headers and trailers (metadata) on stderr.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// How replies print: `text` for people, `json` (one object per line, protobuf's JSON
    /// mapping) for programs.
    #[arg(long, short, value_enum, default_value_t = Format::Text, global = true)]
    pub output: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// One `-H KEY:VALUE`.
#[derive(Debug, Clone)]
pub struct Header {
    pub key: AsciiMetadataKey,
    pub value: AsciiMetadataValue,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Greeter: the four kinds of gRPC call.
    #[command(subcommand)]
    Greeter(GreeterCommand),

    /// demo.MyService.Predict, the seeds' tutorial call: prints "Hello, PROMPT!".
    Predict { prompt: String },

    /// Weather: city search, current conditions, live updates.
    #[command(subcommand)]
    Weather(WeatherCommand),

    /// Chat rooms: watch one, post to one, or join one and talk.
    #[command(subcommand)]
    Chat(ChatCommand),

    /// Files: upload (client streaming), list, download (server streaming).
    #[command(subcommand)]
    Files(FilesCommand),

    /// The blog: authors and posts (writing needs --token when the server has one).
    #[command(subcommand)]
    Blog(BlogCommand),

    /// grpc.health.v1.Health.Check: is the server, or one service, serving?
    Health {
        /// A service name such as `Greeter`; empty for the whole server.
        #[arg(default_value = "")]
        service: String,
    },

    /// A session: read commands from stdin, one a line (e.g. `greeter say-hello Ada`), and
    /// run each over the same connection. A failed command does not end the session.
    Shell,
}

/// One line of a `shell` session: a command, as on the command line.
#[derive(Debug, Parser)]
#[command(
    name = "",
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct ShellLine {
    #[command(subcommand)]
    pub command: Command,
}

/// Splits a shell line into words: whitespace separates, double quotes group.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if quoted {
        return Err("unclosed quote".into());
    }
    words.extend(word);
    Ok(words)
}

#[derive(Debug, Subcommand)]
pub enum GreeterCommand {
    /// Unary: one name in, one greeting out.
    SayHello { name: String },

    /// Server streaming: COUNT greetings, printed as they arrive.
    Stream {
        name: String,
        /// How many greetings (1-100).
        #[arg(long, default_value_t = 5)]
        count: u32,
        /// Time between greetings (at most 10s).
        #[arg(long, default_value = "500ms", value_parser = flags::duration)]
        interval: Duration,
    },

    /// Client streaming: names from FILE (or stdin), one per line; one summary comes back.
    ToAll {
        /// A file of names, one per line. Without it, stdin.
        file: Option<PathBuf>,
    },

    /// Bidirectional: each line of stdin is a name, each reply prints as it arrives.
    /// Ctrl-D ends your side; the server ends it after "bye".
    Converse,
}

#[derive(Debug, Subcommand)]
pub enum WeatherCommand {
    /// Cities whose name (or a word of it) starts with QUERY, largest first.
    Search {
        query: String,
        /// At most this many cities (1-50).
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },

    /// Current conditions of one or more cities, by id (e.g. `paris-fr`), called
    /// concurrently over the one connection.
    Current {
        #[arg(required = true, value_name = "CITY_ID")]
        city_ids: Vec<String>,
    },

    /// The next 48 hours and 7 days of a city.
    Forecast {
        #[arg(value_name = "CITY_ID")]
        city_id: String,
    },

    /// Live conditions of up to 20 cities over one stream, printed whenever one changes,
    /// until Ctrl-C (or --deadline). With -v, heartbeats show on stderr.
    Watch {
        #[arg(required = true, value_name = "CITY_ID")]
        city_ids: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Server streaming: the room's last messages, then each new one, until Ctrl-C.
    Watch {
        room: String,
        /// How many past messages to show first (0-100).
        #[arg(long, default_value_t = 20)]
        history: u32,
        /// Start after the message with this id (every later one first, then live),
        /// instead of with the last --history.
        #[arg(long, value_name = "ID")]
        after: Option<u64>,
        /// When the stream breaks (UNAVAILABLE: the server restarted, or a replica went
        /// away), connect again and go on after the last message shown: nothing missed,
        /// nothing twice.
        #[arg(long)]
        reconnect: bool,
    },

    /// Unary: post one message (needs --token when the server has one).
    Post {
        room: String,
        text: String,
        /// Who is posting (default: anonymous).
        #[arg(long, default_value = "")]
        author: String,
    },

    /// Bidirectional: each line of stdin is posted, the room's messages print as they
    /// come (yours included). Ctrl-D leaves. Needs --token when the server has one.
    Join {
        room: String,
        #[arg(long, default_value = "")]
        author: String,
        /// How many past messages to show first (0-100).
        #[arg(long, default_value_t = 20)]
        history: u32,
        /// Start after the message with this id instead of with the last --history.
        #[arg(long, value_name = "ID")]
        after: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlogCommand {
    /// Makes an author; prints its id.
    NewAuthor {
        display_name: String,
        #[arg(long, default_value = "")]
        bio: String,
    },
    /// One author.
    Author { id: String },
    /// Makes a draft post by AUTHOR_ID; the body is read from --body-file or stdin.
    NewPost {
        author_id: String,
        title: String,
        /// Markdown file with the body (default: stdin).
        #[arg(long)]
        body_file: Option<PathBuf>,
    },
    /// One post.
    Post { id: String },
    /// Posts, newest first, one page.
    Posts {
        #[arg(long)]
        author: Option<String>,
        /// 1-100 (default 20).
        #[arg(long, default_value_t = 0)]
        page_size: i32,
        /// From the previous page's "next page" line.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Changes a post's title (ETAG from `blog post ID`; refused if someone changed it since).
    Retitle {
        id: String,
        etag: String,
        title: String,
    },
    /// Publishes a draft.
    Publish { id: String, etag: String },
    /// Deletes a post (and its comments).
    Delete { id: String, etag: String },
    /// Adds a comment under a published post.
    Comment {
        post_id: String,
        text: String,
        #[arg(long)]
        author: String,
    },
    /// A post's comments, oldest first; with --watch, then each new one as it comes
    /// (server streaming) until interrupted.
    Comments {
        post_id: String,
        /// Follow: print new comments as they are added.
        #[arg(long)]
        watch: bool,
        /// Only the comments after this id (to resume).
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Client streaming: send FILE in chunks as it is read (needs --token when the server
    /// has one). It appears on the server only once all of it has arrived.
    Upload {
        file: PathBuf,
        /// The name to store it under (default: FILE's own name).
        #[arg(long)]
        name: Option<String>,
        /// Resumable: the upload's id comes from the name and the content's SHA-256, so
        /// running the same command again after a failure goes on from what the server
        /// has (it asks where to resume); a broken stream is also resumed at once, up to 5
        /// times. The server checks the whole file's digest.
        #[arg(long)]
        resume: bool,
    },

    /// The stored files: name, size, SHA-256.
    List,

    /// Server streaming: fetch a stored file, written as it arrives.
    Download {
        name: String,
        /// Where to write it (default: NAME in the current directory; `-` for stdout).
        /// An existing file is not overwritten.
        #[arg(long, value_name = "PATH")]
        to: Option<PathBuf>,
    },
}

fn parse_header(value: &str) -> Result<Header, String> {
    let expected = "expected KEY:VALUE, e.g. `x-request-id:abc-123`";
    let (key, value) = value.split_once(':').ok_or(expected)?;
    let key = key.trim().to_ascii_lowercase();
    if key.ends_with("-bin") {
        return Err(format!(
            "'{key}': binary (-bin) metadata is not supported here"
        ));
    }
    Ok(Header {
        key: key
            .parse()
            .map_err(|_| format!("'{key}' is not a valid metadata key; {expected}"))?,
        value: value
            .trim()
            .parse()
            .map_err(|_| format!("'{value}' is not a valid ASCII metadata value"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_bad_ones_say_why() {
        let header = parse_header("X-Request-Id: abc").expect("valid");
        assert_eq!(header.key.as_str(), "x-request-id");
        assert_eq!(header.value, "abc");
        assert!(
            parse_header("no-colon")
                .expect_err("no colon")
                .contains("KEY:VALUE")
        );
        assert!(
            parse_header("bad key:1")
                .expect_err("space")
                .contains("not a valid")
        );
        assert!(
            parse_header("x-bin:1")
                .expect_err("binary")
                .contains("binary")
        );
    }

    #[test]
    fn shell_lines_split_on_whitespace_and_keep_quoted_words() {
        assert_eq!(
            split_words(r#"greeter say-hello "Ada Lovelace"  "#).expect("valid"),
            ["greeter", "say-hello", "Ada Lovelace"]
        );
        assert_eq!(
            split_words(r#"predict """#).expect("valid"),
            ["predict", ""]
        );
        assert!(split_words("").expect("valid").is_empty());
        assert_eq!(
            split_words(r#"say "oops"#).expect_err("unclosed"),
            "unclosed quote"
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        ShellLine::command().debug_assert();
    }
}

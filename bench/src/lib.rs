//! What the benchmark binaries share: a codec for messages known only at run time, so the
//! load tool can call any method of the protos from its descriptors.

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Encodes and decodes messages known only at run time.
#[derive(Debug, Clone)]
pub struct DynamicCodec(pub MessageDescriptor);

#[derive(Debug)]
pub struct DynamicEncoder;

#[derive(Debug)]
pub struct DynamicDecoder(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.0.clone())
    }
}

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: DynamicMessage,
        dst: &mut EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        item.encode(dst)
            .map_err(|error| tonic::Status::internal(error.to_string()))
    }
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, tonic::Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|error| tonic::Status::internal(error.to_string()))
    }
}

/// A process's resident memory in bytes, from /proc (Linux).
pub fn rss_bytes(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| std::io::Error::other("no VmRSS in /proc status"))
}

/// Starts the release server at `server_bin` on 127.0.0.1:0 with its data in `data` and
/// `args` (logging at `warn`), and reads back its URL from its first line. Killed when the
/// child is dropped. Fails with a hint when the binary is not built.
pub async fn start_server(
    server_bin: &std::path::Path,
    data: &std::path::Path,
    args: &[&str],
) -> Result<(tokio::process::Child, String), Box<dyn std::error::Error + Send + Sync>> {
    use tokio::io::AsyncBufReadExt;
    if !server_bin.is_file() {
        return Err(format!(
            "{} not found: build it first (cargo build --release -p server)",
            server_bin.display()
        )
        .into());
    }
    let mut server = tokio::process::Command::new(server_bin)
        .args(["--listen", "127.0.0.1:0", "--log", "warn"])
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = server.stdout.take().ok_or("no stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(address) = line.strip_prefix("listening on ") {
            return Ok((server, format!("http://{address}")));
        }
    }
    Err("the server did not print its address".into())
}

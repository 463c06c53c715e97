//! gRPC message framing by hand: `[compressed flag][u32 length][message]`. The interop
//! cases need per-message control of the compressed flag (set on one message of a stream,
//! not on the next) and need to know whether each request message came compressed, which
//! tonic's generated servers do not expose.

use std::{convert::Infallible, io::Read};

use axum::body::Body;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compression, read::GzDecoder, write::GzEncoder};
use http::{HeaderMap, HeaderValue};
use http_body::Frame;
use http_body_util::BodyExt;
use prost::Message;
use tokio::sync::mpsc;
use tonic::Status;

/// Messages larger than this are compressed and decompressed on tokio's blocking pool, so
/// a large one does not hold up the runtime's worker threads (and every call on them).
const BLOCKING_BYTES: usize = 64 * 1024;

/// One request message: its bytes (decompressed) and whether it came compressed.
#[derive(Debug)]
pub struct Incoming<M> {
    pub message: M,
    pub compressed: bool,
}

/// Reads the request's messages one at a time, as they arrive.
#[derive(Debug)]
pub struct MessageReader {
    body: Body,
    buffer: BytesMut,
    /// The request declared `grpc-encoding: gzip`.
    gzip: bool,
    /// The largest message, compressed or not (the server's `--max-message-bytes`).
    max_message: usize,
    ended: bool,
}

impl MessageReader {
    pub fn new(body: Body, gzip: bool, max_message: usize) -> Self {
        Self {
            body,
            buffer: BytesMut::new(),
            gzip,
            max_message,
            ended: false,
        }
    }

    /// The next message, or `None` once the client has half-closed.
    pub async fn next<M: Message + Default>(&mut self) -> Result<Option<Incoming<M>>, Status> {
        loop {
            if let Some((payload, compressed)) = self.take_frame()? {
                let bytes = if compressed {
                    gunzip_off_runtime(payload, self.max_message).await?
                } else {
                    payload
                };
                let message = M::decode(bytes).map_err(|error| {
                    Status::internal(format!("cannot decode the request: {error}"))
                })?;
                return Ok(Some(Incoming {
                    message,
                    compressed,
                }));
            }
            if self.ended {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(Status::internal("the request ended inside a message"))
                };
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(error)) => {
                    return Err(Status::cancelled(format!("the request broke off: {error}")));
                }
                None => self.ended = true,
            }
        }
    }

    fn take_frame(&mut self) -> Result<Option<(Bytes, bool)>, Status> {
        if self.buffer.len() < 5 {
            return Ok(None);
        }
        let compressed = match self.buffer[0] {
            0 => false,
            1 => true,
            flag => return Err(Status::internal(format!("unknown message flag {flag}"))),
        };
        let len = u32::from_be_bytes([
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
            self.buffer[4],
        ]) as usize;
        if len > self.max_message {
            return Err(too_large(len, self.max_message));
        }
        if self.buffer.len() < 5 + len {
            return Ok(None);
        }
        self.buffer.advance(5);
        let payload = self.buffer.split_to(len).freeze();
        if compressed && !self.gzip {
            return Err(Status::internal(
                "a compressed message, but the request declared no grpc-encoding",
            ));
        }
        Ok(Some((payload, compressed)))
    }
}

fn too_large(len: usize, max_message: usize) -> Status {
    Status::resource_exhausted(format!(
        "message of {len} bytes: at most {max_message} allowed"
    ))
}

/// Decompresses, refusing to grow past the message limit (no gzip bombs).
fn gunzip(compressed: &[u8], max_message: usize) -> Result<Bytes, Status> {
    let mut out = Vec::new();
    GzDecoder::new(compressed)
        .take(max_message as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| Status::internal(format!("bad gzip data: {error}")))?;
    if out.len() > max_message {
        return Err(too_large(out.len(), max_message));
    }
    Ok(out.into())
}

/// [`gunzip`], on the blocking pool for all but small messages: up to `max_message` bytes
/// of output can come from a few kilobytes of input.
async fn gunzip_off_runtime(compressed: Bytes, max_message: usize) -> Result<Bytes, Status> {
    // gzip expands 1,032:1 at most: a kilobyte inflates to about a megabyte, quickly.
    if compressed.len() < 1024 {
        return gunzip(&compressed, max_message);
    }
    tokio::task::spawn_blocking(move || gunzip(&compressed, max_message))
        .await
        .map_err(|_| Status::internal("decompression failed"))?
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    std::io::Write::write_all(&mut encoder, raw).expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}

/// Frames one message, gzipped (and flagged so) when `compress`.
pub fn frame<M: Message>(message: &M, compress: bool) -> Bytes {
    let raw = message.encode_to_vec();
    framed(if compress { gzip(&raw) } else { raw }, compress)
}

/// [`frame`], compressing large messages on the blocking pool.
async fn frame_off_runtime<M: Message>(message: &M, compress: bool) -> Bytes {
    let raw = message.encode_to_vec();
    if !compress || raw.len() < BLOCKING_BYTES {
        return framed(if compress { gzip(&raw) } else { raw }, compress);
    }
    match tokio::task::spawn_blocking(move || gzip(&raw)).await {
        Ok(payload) => framed(payload, true),
        // The blocking pool is gone (the runtime is shutting down): send it as it is.
        Err(_) => frame(message, false),
    }
}

fn framed(payload: Vec<u8>, compress: bool) -> Bytes {
    let mut framed = BytesMut::with_capacity(5 + payload.len());
    framed.put_u8(u8::from(compress));
    framed.put_u32(payload.len() as u32);
    framed.extend_from_slice(&payload);
    framed.freeze()
}

/// The client went away: stop working for it.
#[derive(Debug)]
pub struct Gone;

/// Sends response messages and, last, the trailers, into the response body.
#[derive(Debug)]
pub struct Responder {
    sender: mpsc::Sender<Result<Frame<Bytes>, Infallible>>,
    /// The client accepts gzip, so messages may be compressed.
    gzip: bool,
}

impl Responder {
    pub fn new(sender: mpsc::Sender<Result<Frame<Bytes>, Infallible>>, gzip: bool) -> Self {
        Self { sender, gzip }
    }

    /// Sends a message, compressed when asked and the client accepts it.
    pub async fn send<M: Message>(&self, message: &M, compress: bool) -> Result<(), Gone> {
        let data = Frame::data(frame_off_runtime(message, compress && self.gzip).await);
        self.sender.send(Ok(data)).await.map_err(|_| Gone)
    }

    /// Resolves when the client has gone away.
    pub async fn gone(&self) {
        self.sender.closed().await;
    }

    /// Ends the response with `status` in the trailers, plus any extra trailers.
    pub async fn finish(self, status: &Status, extra: HeaderMap<HeaderValue>) {
        let mut trailers = extra;
        if status.add_header(&mut trailers).is_err() {
            trailers.insert("grpc-status", HeaderValue::from_static("13"));
        }
        // Nobody may be listening any more; then there is nothing left to do.
        let _ = self.sender.send(Ok(Frame::trailers(trailers))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::grpc_testing::{Payload, SimpleRequest};

    const LIMIT: usize = 4 * 1024 * 1024;

    fn request(size: usize) -> SimpleRequest {
        SimpleRequest {
            payload: Some(Payload {
                r#type: 0,
                body: vec![0; size],
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn frames_round_trip_compressed_or_not_across_chunks() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&frame(&request(10), false));
        wire.extend_from_slice(&frame(&request(70_000), true));
        assert!(wire.len() < 1_000, "zeros compress well");
        // Split mid-header and mid-message, as the network may.
        let chunks: Vec<Result<Bytes, std::io::Error>> = wire
            .chunks(3)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        let mut reader = MessageReader::new(
            Body::from_stream(futures_util::stream::iter(chunks)),
            true,
            LIMIT,
        );

        let first = reader
            .next::<SimpleRequest>()
            .await
            .expect("ok")
            .expect("a message");
        assert!(!first.compressed);
        assert_eq!(first.message, request(10));
        let second = reader
            .next::<SimpleRequest>()
            .await
            .expect("ok")
            .expect("a message");
        assert!(second.compressed);
        assert_eq!(second.message, request(70_000));
        assert!(reader.next::<SimpleRequest>().await.expect("ok").is_none());
    }

    #[tokio::test]
    async fn oversized_truncated_and_undeclared_compression_are_refused() {
        let mut header = vec![0];
        header.extend_from_slice(&(LIMIT as u32 + 1).to_be_bytes());
        let mut reader = MessageReader::new(Body::from(header), false, LIMIT);
        let status = reader.next::<SimpleRequest>().await.expect_err("too large");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);

        let mut reader = MessageReader::new(Body::from(vec![0, 0, 0, 0, 9, 1]), false, LIMIT);
        let status = reader.next::<SimpleRequest>().await.expect_err("truncated");
        assert_eq!(status.code(), tonic::Code::Internal);

        let mut reader = MessageReader::new(Body::from(frame(&request(1), true)), false, LIMIT);
        let status = reader
            .next::<SimpleRequest>()
            .await
            .expect_err("no grpc-encoding");
        assert_eq!(status.code(), tonic::Code::Internal);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let huge = vec![0_u8; LIMIT + 10];
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        std::io::Write::write_all(&mut encoder, &huge).expect("memory");
        let bomb = encoder.finish().expect("memory");
        assert_eq!(
            gunzip(&bomb, LIMIT).expect_err("too large").code(),
            tonic::Code::ResourceExhausted
        );
    }
}

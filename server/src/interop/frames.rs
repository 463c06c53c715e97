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

/// The largest message accepted or produced, compressed or not.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

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
    ended: bool,
}

impl MessageReader {
    pub fn new(body: Body, gzip: bool) -> Self {
        Self {
            body,
            buffer: BytesMut::new(),
            gzip,
            ended: false,
        }
    }

    /// The next message, or `None` once the client has half-closed.
    pub async fn next<M: Message + Default>(&mut self) -> Result<Option<Incoming<M>>, Status> {
        loop {
            if let Some((bytes, compressed)) = self.take_frame()? {
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
        if len > MAX_MESSAGE_BYTES {
            return Err(too_large(len));
        }
        if self.buffer.len() < 5 + len {
            return Ok(None);
        }
        self.buffer.advance(5);
        let payload = self.buffer.split_to(len).freeze();
        if !compressed {
            return Ok(Some((payload, false)));
        }
        if !self.gzip {
            return Err(Status::internal(
                "a compressed message, but the request declared no grpc-encoding",
            ));
        }
        Ok(Some((gunzip(&payload)?, true)))
    }
}

fn too_large(len: usize) -> Status {
    Status::resource_exhausted(format!(
        "message of {len} bytes: at most {MAX_MESSAGE_BYTES} allowed"
    ))
}

/// Decompresses, refusing to grow past the message limit (no gzip bombs).
fn gunzip(compressed: &[u8]) -> Result<Bytes, Status> {
    let mut out = Vec::new();
    GzDecoder::new(compressed)
        .take(MAX_MESSAGE_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| Status::internal(format!("bad gzip data: {error}")))?;
    if out.len() > MAX_MESSAGE_BYTES {
        return Err(too_large(out.len()));
    }
    Ok(out.into())
}

/// Frames one message, gzipped (and flagged so) when `compress`.
pub fn frame<M: Message>(message: &M, compress: bool) -> Bytes {
    let raw = message.encode_to_vec();
    let payload = if compress {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        std::io::Write::write_all(&mut encoder, &raw).expect("writing to memory cannot fail");
        encoder.finish().expect("writing to memory cannot fail")
    } else {
        raw
    };
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
        let data = Frame::data(frame(message, compress && self.gzip));
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
        let mut reader =
            MessageReader::new(Body::from_stream(futures_util::stream::iter(chunks)), true);

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
        header.extend_from_slice(&(MAX_MESSAGE_BYTES as u32 + 1).to_be_bytes());
        let mut reader = MessageReader::new(Body::from(header), false);
        let status = reader.next::<SimpleRequest>().await.expect_err("too large");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);

        let mut reader = MessageReader::new(Body::from(vec![0, 0, 0, 0, 9, 1]), false);
        let status = reader.next::<SimpleRequest>().await.expect_err("truncated");
        assert_eq!(status.code(), tonic::Code::Internal);

        let mut reader = MessageReader::new(Body::from(frame(&request(1), true)), false);
        let status = reader
            .next::<SimpleRequest>()
            .await
            .expect_err("no grpc-encoding");
        assert_eq!(status.code(), tonic::Code::Internal);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let huge = vec![0_u8; MAX_MESSAGE_BYTES + 10];
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        std::io::Write::write_all(&mut encoder, &huge).expect("memory");
        let bomb = encoder.finish().expect("memory");
        assert_eq!(
            gunzip(&bomb).expect_err("too large").code(),
            tonic::Code::ResourceExhausted
        );
    }
}

//! One frame = one binary WebSocket message: `type: u8`, `stream: u32` (big-endian), payload.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

/// What a frame says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Client → server: a new call to `path` with its request metadata.
    Open {
        path: String,
        metadata: HeaderMap,
    },
    /// Bytes of the gRPC message stream (length-prefixed messages), spending window.
    Data(Bytes),
    /// Client → server: the request stream is complete.
    End,
    /// Server → client: the response headers.
    Headers(HeaderMap),
    /// Server → client: the trailers (`grpc-status`...); the call is over.
    Trailers(HeaderMap),
    /// Either way: the stream is abandoned.
    Cancel,
    /// The sender of this frame accepts this many more DATA bytes on the stream.
    Window(u32),
    Ping([u8; 8]),
    Pong([u8; 8]),
    /// Server → client: no stream above `last` will be served on this socket.
    GoAway {
        last: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub stream: u32,
    pub kind: Kind,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame too short")]
    Short,
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("bad metadata: {0}")]
    Metadata(&'static str),
    #[error("the path is not UTF-8")]
    Path,
    #[error("{0} bytes after the frame's payload")]
    Trailing(usize),
}

const OPEN: u8 = 1;
const DATA: u8 = 2;
const END: u8 = 3;
const HEADERS: u8 = 4;
const TRAILERS: u8 = 5;
const CANCEL: u8 = 6;
const WINDOW: u8 = 7;
const PING: u8 = 8;
const PONG: u8 = 9;
const GOAWAY: u8 = 10;

/// The frame as one WebSocket message.
pub fn encode(frame: &Frame) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + payload_hint(&frame.kind));
    let kind = match &frame.kind {
        Kind::Open { .. } => OPEN,
        Kind::Data(_) => DATA,
        Kind::End => END,
        Kind::Headers(_) => HEADERS,
        Kind::Trailers(_) => TRAILERS,
        Kind::Cancel => CANCEL,
        Kind::Window(_) => WINDOW,
        Kind::Ping(_) => PING,
        Kind::Pong(_) => PONG,
        Kind::GoAway { .. } => GOAWAY,
    };
    out.put_u8(kind);
    out.put_u32(frame.stream);
    match &frame.kind {
        Kind::Open { path, metadata } => {
            put_short(&mut out, path.as_bytes());
            put_metadata(&mut out, metadata);
        }
        Kind::Data(bytes) => out.put_slice(bytes),
        Kind::Headers(metadata) | Kind::Trailers(metadata) => put_metadata(&mut out, metadata),
        Kind::End | Kind::Cancel => {}
        Kind::Window(increment) => out.put_u32(*increment),
        Kind::Ping(opaque) | Kind::Pong(opaque) => out.put_slice(opaque),
        Kind::GoAway { last } => out.put_u32(*last),
    }
    out.freeze()
}

fn payload_hint(kind: &Kind) -> usize {
    match kind {
        Kind::Data(bytes) => bytes.len(),
        Kind::Open { path, metadata } => path.len() + 64 * metadata.len(),
        Kind::Headers(metadata) | Kind::Trailers(metadata) => 64 * metadata.len(),
        _ => 8,
    }
}

/// One WebSocket message as a frame.
pub fn decode(mut message: Bytes) -> Result<Frame, FrameError> {
    if message.len() < 5 {
        return Err(FrameError::Short);
    }
    let kind = message.get_u8();
    let stream = message.get_u32();
    let kind = match kind {
        OPEN => {
            let path = take_short(&mut message)?;
            let path = String::from_utf8(path.to_vec()).map_err(|_| FrameError::Path)?;
            let metadata = take_metadata(&mut message)?;
            Kind::Open { path, metadata }
        }
        DATA => Kind::Data(std::mem::take(&mut message)),
        END => Kind::End,
        HEADERS => Kind::Headers(take_metadata(&mut message)?),
        TRAILERS => Kind::Trailers(take_metadata(&mut message)?),
        CANCEL => Kind::Cancel,
        WINDOW => Kind::Window(take_u32(&mut message)?),
        PING => Kind::Ping(take_opaque(&mut message)?),
        PONG => Kind::Pong(take_opaque(&mut message)?),
        GOAWAY => Kind::GoAway {
            last: take_u32(&mut message)?,
        },
        other => return Err(FrameError::UnknownType(other)),
    };
    if !message.is_empty() {
        return Err(FrameError::Trailing(message.len()));
    }
    Ok(Frame { stream, kind })
}

fn put_short(out: &mut BytesMut, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.put_u16(len);
    out.put_slice(&bytes[..usize::from(len)]);
}

fn put_metadata(out: &mut BytesMut, metadata: &HeaderMap) {
    let count = u16::try_from(metadata.len()).unwrap_or(u16::MAX);
    out.put_u16(count);
    for (name, value) in metadata.iter().take(usize::from(count)) {
        put_short(out, name.as_str().as_bytes());
        out.put_u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
        out.put_slice(value.as_bytes());
    }
}

fn take_u32(message: &mut Bytes) -> Result<u32, FrameError> {
    if message.len() < 4 {
        return Err(FrameError::Short);
    }
    Ok(message.get_u32())
}

fn take_opaque(message: &mut Bytes) -> Result<[u8; 8], FrameError> {
    if message.len() < 8 {
        return Err(FrameError::Short);
    }
    let mut opaque = [0; 8];
    message.copy_to_slice(&mut opaque);
    Ok(opaque)
}

fn take_short(message: &mut Bytes) -> Result<Bytes, FrameError> {
    if message.len() < 2 {
        return Err(FrameError::Short);
    }
    let len = usize::from(message.get_u16());
    if message.len() < len {
        return Err(FrameError::Short);
    }
    Ok(message.split_to(len))
}

fn take_metadata(message: &mut Bytes) -> Result<HeaderMap, FrameError> {
    if message.len() < 2 {
        return Err(FrameError::Short);
    }
    let count = message.get_u16();
    let mut metadata = HeaderMap::with_capacity(usize::from(count));
    for _ in 0..count {
        let name = take_short(message)?;
        let len = take_u32(message)? as usize;
        if message.len() < len {
            return Err(FrameError::Short);
        }
        let value = message.split_to(len);
        let name = HeaderName::from_bytes(&name).map_err(|_| FrameError::Metadata("a bad name"))?;
        let value = HeaderValue::from_maybe_shared(value)
            .map_err(|_| FrameError::Metadata("a bad value"))?;
        metadata.append(name, value);
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(kind: Kind) {
        let frame = Frame { stream: 7, kind };
        assert_eq!(decode(encode(&frame)).expect("decodes"), frame);
    }

    #[test]
    fn every_kind_round_trips() {
        let mut metadata = HeaderMap::new();
        metadata.insert("grpc-timeout", HeaderValue::from_static("5S"));
        metadata.append("x-id", HeaderValue::from_static("a"));
        metadata.append("x-id", HeaderValue::from_static("b"));
        metadata.insert(
            "trace-bin",
            HeaderValue::from_bytes(&[0, 1, 255]).unwrap_or(HeaderValue::from_static("")),
        );
        round_trip(Kind::Open {
            path: "/Greeter/SayHello".into(),
            metadata: metadata.clone(),
        });
        round_trip(Kind::Data(Bytes::from_static(b"\0\0\0\0\x02hi")));
        round_trip(Kind::End);
        round_trip(Kind::Headers(metadata.clone()));
        round_trip(Kind::Trailers(metadata));
        round_trip(Kind::Cancel);
        round_trip(Kind::Window(65_536));
        round_trip(Kind::Ping(*b"12345678"));
        round_trip(Kind::Pong(*b"87654321"));
        round_trip(Kind::GoAway { last: 9 });
    }

    #[test]
    fn broken_frames_are_errors_not_panics() {
        assert_eq!(decode(Bytes::from_static(b"\x01")), Err(FrameError::Short));
        assert_eq!(
            decode(Bytes::from_static(b"\x63\0\0\0\x01")),
            Err(FrameError::UnknownType(0x63))
        );
        // An OPEN whose path length runs past the end.
        assert_eq!(
            decode(Bytes::from_static(b"\x01\0\0\0\x01\xff\xff/x")),
            Err(FrameError::Short)
        );
        // Metadata claiming more entries than there are.
        assert_eq!(
            decode(Bytes::from_static(b"\x04\0\0\0\x01\0\x05")),
            Err(FrameError::Short)
        );
        assert_eq!(
            decode(Bytes::from_static(b"\x07\0\0\0\x01\0\0\0\x01\x09")),
            Err(FrameError::Trailing(1))
        );
        // Every prefix of a valid frame fails cleanly.
        let whole = encode(&Frame {
            stream: 1,
            kind: Kind::Open {
                path: "/a/b".into(),
                metadata: HeaderMap::new(),
            },
        });
        for end in 0..whole.len() {
            assert!(decode(whole.slice(..end)).is_err(), "prefix of {end} bytes");
        }
    }
}

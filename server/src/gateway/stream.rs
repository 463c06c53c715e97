//! A server stream over REST: each gRPC message as one JSON event, as it arrives.
//!
//! - **Server-Sent Events** (`text/event-stream`, the default, what a browser's
//!   `EventSource` reads): `data: <message JSON>` per message; the end of a failed stream
//!   is an `event: error` whose data is the `google.rpc.Status` JSON; a comment line every
//!   [`HEARTBEAT`] of silence keeps proxies from cutting an idle stream.
//! - **NDJSON** (`Accept: application/x-ndjson`): one line per message, `{"result": …}`,
//!   and `{"error": <Status>}` last if the stream failed, as grpc-gateway writes them; an
//!   empty line as the heartbeat.
//!
//! The gRPC response body is read only as fast as the REST client takes the events, and
//! dropping the REST response (the client left) drops the call: the server sees it
//! cancelled.

use std::{pin::Pin, time::Duration};

use axum::{body::Body, response::Response};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt, stream};
use http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use prost_reflect::{DynamicMessage, MessageDescriptor};

use super::status;

/// Silence after which a heartbeat goes out.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    EventStream,
    NdJson,
}

impl Format {
    /// NDJSON when the client's `Accept` names it, Server-Sent Events otherwise.
    pub fn asked(headers: &HeaderMap) -> Self {
        let ndjson = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains("application/x-ndjson"));
        if ndjson {
            Self::NdJson
        } else {
            Self::EventStream
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::EventStream => "text/event-stream",
            Self::NdJson => "application/x-ndjson",
        }
    }

    fn message(self, json: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(json.len() + 16);
        match self {
            Self::EventStream => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(json);
                out.extend_from_slice(b"\n\n");
            }
            Self::NdJson => {
                out.extend_from_slice(b"{\"result\":");
                out.extend_from_slice(json);
                out.extend_from_slice(b"}\n");
            }
        }
        out.into()
    }

    fn error(self, status: &serde_json::Value) -> Bytes {
        match self {
            Self::EventStream => format!("event: error\ndata: {status}\n\n").into(),
            Self::NdJson => format!("{{\"error\":{status}}}\n").into(),
        }
    }

    fn heartbeat(self) -> Bytes {
        match self {
            Self::EventStream => Bytes::from_static(b": heartbeat\n\n"),
            Self::NdJson => Bytes::from_static(b"\n"),
        }
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// The streaming REST response for a gRPC response `body` of `output` messages.
pub fn response(body: Body, output: MessageDescriptor, format: Format) -> Response {
    let state = State {
        body,
        buffer: BytesMut::new(),
        output,
        format,
        done: false,
    };
    let events: Events = Box::pin(stream::unfold(state, next).flat_map(stream::iter));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::CACHE_CONTROL, "no-cache")
        // nginx: pass each event on at once.
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(events))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

struct State {
    body: Body,
    buffer: BytesMut,
    output: MessageDescriptor,
    format: Format,
    done: bool,
}

/// The next events: the messages complete in what has arrived, a heartbeat after a silence,
/// or the end (with an error event if the call failed).
async fn next(mut state: State) -> Option<(Vec<Result<Bytes, std::io::Error>>, State)> {
    if state.done {
        return None;
    }
    loop {
        let messages = state.complete_messages();
        if !messages.is_empty() {
            return Some((messages, state));
        }
        let frame = match tokio::time::timeout(HEARTBEAT, state.body.frame()).await {
            Err(_) => return Some((vec![Ok(state.format.heartbeat())], state)),
            Ok(frame) => frame,
        };
        match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => state.buffer.extend_from_slice(&data),
                Err(frame) => {
                    state.done = true;
                    let trailers = frame.into_trailers().unwrap_or_default();
                    let end = status::from_grpc(&HeaderMap::new(), &trailers)
                        .map(|error| vec![Ok(state.format.error(&error.to_json()))])
                        .unwrap_or_default();
                    return Some((end, state));
                }
            },
            Some(Err(error)) => {
                state.done = true;
                return Some((vec![Err(std::io::Error::other(error.to_string()))], state));
            }
            None => return None,
        }
    }
}

impl State {
    /// The whole gRPC messages in the buffer, as events.
    fn complete_messages(&mut self) -> Vec<Result<Bytes, std::io::Error>> {
        let mut events = Vec::new();
        while self.buffer.len() >= 5 {
            let length = u32::from_be_bytes([
                self.buffer[1],
                self.buffer[2],
                self.buffer[3],
                self.buffer[4],
            ]) as usize;
            if self.buffer.len() < 5 + length {
                break;
            }
            let compressed = self.buffer[0] != 0;
            self.buffer.advance(5);
            let message = self.buffer.split_to(length).freeze();
            if compressed {
                events.push(Err(std::io::Error::other(
                    "a compressed message on an uncompressed call",
                )));
                continue;
            }
            let event = DynamicMessage::decode(self.output.clone(), message)
                .map_err(std::io::Error::other)
                .and_then(|message| super::to_json(&message).map_err(std::io::Error::other))
                .map(|json| self.format.message(&json));
            events.push(event);
        }
        events
    }
}

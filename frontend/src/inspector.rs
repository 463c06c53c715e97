//! The call inspector: every call the page makes, as the transport saw it: method, mode,
//! transport (socket or fetch), metadata both ways, each message with its size and time,
//! the status with its details, the duration. A tower layer between the generated clients
//! and the transport records it; the panel (`components::InspectorPanel`) shows it.
//!
//! Written by hand: it reads the gRPC message framing (a flag byte and a 4-byte length) as
//! the bytes pass, which no tower or tonic layer exposes.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::HeaderMap;
use leptos::prelude::*;

/// Calls kept (the oldest go first), and messages kept per call (the rest are counted).
const KEPT_CALLS: usize = 100;
const KEPT_MESSAGES: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub outgoing: bool,
    /// The message's length on the wire (compressed, if it was).
    pub size: usize,
    pub compressed: bool,
    /// Milliseconds after the call began.
    pub at: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: u64,
    pub method: String,
    pub mode: Option<proto::Mode>,
    /// "socket", "fetch", or empty until the transport answers.
    pub transport: &'static str,
    pub started: f64,
    pub request_metadata: Vec<(String, String)>,
    pub response_metadata: Vec<(String, String)>,
    pub messages: Vec<Message>,
    /// Messages beyond [`KEPT_MESSAGES`], sent and received.
    pub more: (usize, usize),
    pub sent: (usize, usize),
    pub received: (usize, usize),
    /// Code name, message, details; `None` while the call is open.
    pub status: Option<(String, String, Vec<String>)>,
    pub duration: Option<f64>,
}

thread_local! {
    // Reference-counted, not owned by whichever component touched it first (that owner's
    // cleanup would dispose an arena signal).
    static CALLS: ArcRwSignal<VecDeque<Call>> = ArcRwSignal::new(VecDeque::new());
    static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(1) };
}

/// Every recorded call, oldest first.
pub fn calls() -> ArcRwSignal<VecDeque<Call>> {
    CALLS.with(Clone::clone)
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn update(id: u64, change: impl FnOnce(&mut Call)) {
    calls().try_update(|calls| {
        if let Some(call) = calls.iter_mut().rev().find(|call| call.id == id) {
            change(call);
        }
    });
}

fn metadata(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if name.as_str().ends_with("-bin") {
                format!("({} bytes, binary)", value.len())
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// Ends the call with the status in `headers` (trailers, or trailers-only headers).
fn finish(id: u64, headers: &HeaderMap) {
    if !headers.contains_key("grpc-status") {
        return;
    }
    let status = tonic::Status::from_header_map(headers)
        .unwrap_or_else(|| tonic::Status::unknown("unreadable grpc-status"));
    end(id, &status);
}

fn end(id: u64, status: &tonic::Status) {
    let crate::api::CallError {
        code,
        message,
        details,
    } = status.clone().into();
    let mut ended = false;
    update(id, |call| {
        if call.status.is_none() {
            let code = proto::status::code_name(code).to_owned();
            call.status = Some((code, message, Vec::new()));
            call.duration = Some(now() - call.started);
            ended = true;
        }
    });
    // The details for people once their decoder is there (`lazy::detail_lines`).
    if ended && !details.is_empty() {
        leptos::task::spawn_local(async move {
            let lines = crate::lazy::detail_lines(details).await;
            update(id, |call| {
                if let Some((_, _, details)) = &mut call.status {
                    *details = lines;
                }
            });
        });
    }
}

fn transport_name(via: grpc_ws::client::Via) -> &'static str {
    match via {
        grpc_ws::client::Via::Socket => "socket",
        grpc_ws::client::Via::Other => "fetch",
    }
}

/// The inspecting layer around a transport.
#[derive(Debug, Clone)]
pub struct Inspect<S>(pub S);

impl<S, B> tower_service::Service<http::Request<tonic::body::Body>> for Inspect<S>
where
    S: tower_service::Service<http::Request<tonic::body::Body>, Response = http::Response<B>>,
    S::Future: 'static,
    S::Error: std::fmt::Display,
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Response = http::Response<Inspected<B>>;
    type Error = S::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let id = NEXT.with(|next| next.replace(next.get() + 1));
        let method = request.uri().path().to_owned();
        let started = now();
        calls().try_update(|calls| {
            if calls.len() == KEPT_CALLS {
                calls.pop_front();
            }
            calls.push_back(Call {
                id,
                mode: proto::mode(&method),
                method,
                transport: "",
                started,
                request_metadata: metadata(request.headers()),
                response_metadata: Vec::new(),
                messages: Vec::new(),
                more: (0, 0),
                sent: (0, 0),
                received: (0, 0),
                status: None,
                duration: None,
            });
        });
        let mut request = request;
        request
            .extensions_mut()
            .insert(grpc_ws::client::OnVia(std::sync::Arc::new(move |via| {
                update(id, |call| call.transport = transport_name(via));
            })));
        let request = request.map(|body| {
            tonic::body::Body::new(Inspected {
                inner: body,
                id,
                outgoing: true,
                framing: Framing::default(),
                ended: false,
            })
        });
        let answer = self.0.call(request);
        Box::pin(async move {
            match answer.await {
                Ok(response) => {
                    let headers = metadata(response.headers());
                    update(id, |call| call.response_metadata = headers);
                    finish(id, response.headers());
                    Ok(response.map(|body| Inspected {
                        inner: body,
                        id,
                        outgoing: false,
                        framing: Framing::default(),
                        ended: false,
                    }))
                }
                Err(error) => {
                    // tonic turns transport errors into UNAVAILABLE/UNKNOWN with this text.
                    end(id, &tonic::Status::unavailable(error.to_string()));
                    Err(error)
                }
            }
        })
    }
}

/// Where the reader is in the gRPC message framing.
#[derive(Debug, Default)]
struct Framing {
    header: Vec<u8>,
    /// Payload bytes still to come for the current message.
    remaining: usize,
}

impl Framing {
    /// The messages whose prefix completes in `bytes`: (size, compressed).
    fn feed(&mut self, mut bytes: &[u8]) -> Vec<(usize, bool)> {
        let mut found = Vec::new();
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let skip = self.remaining.min(bytes.len());
                self.remaining -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let take = (5 - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.header.len() == 5 {
                let size = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]) as usize;
                found.push((size, self.header[0] & 1 == 1));
                self.remaining = size;
                self.header.clear();
            }
        }
        found
    }
}

/// A body passing through, its messages recorded.
pub struct Inspected<B> {
    inner: B,
    id: u64,
    outgoing: bool,
    framing: Framing,
    ended: bool,
}

impl<B> http_body::Body for Inspected<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(context);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let found = this.framing.feed(data);
                    if !found.is_empty() {
                        let (id, outgoing) = (this.id, this.outgoing);
                        update(id, |call| {
                            let at = now() - call.started;
                            for (size, compressed) in found {
                                let total = if outgoing {
                                    &mut call.sent
                                } else {
                                    &mut call.received
                                };
                                total.0 += 1;
                                total.1 += size;
                                if call.messages.len() < KEPT_MESSAGES {
                                    call.messages.push(Message {
                                        outgoing,
                                        size,
                                        compressed,
                                        at,
                                    });
                                } else if outgoing {
                                    call.more.0 += 1;
                                } else {
                                    call.more.1 += 1;
                                }
                            }
                        });
                    }
                } else if let Some(trailers) = frame.trailers_ref()
                    && !this.outgoing
                {
                    this.ended = true;
                    finish(this.id, trailers);
                }
            }
            Poll::Ready(None) if !this.outgoing => this.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

impl<B> Drop for Inspected<B> {
    /// An answer dropped before its status: the page stopped the call.
    fn drop(&mut self) {
        if !self.outgoing && !self.ended {
            end(self.id, &tonic::Status::cancelled("stopped by the page"));
        }
    }
}

impl<B> std::fmt::Debug for Inspected<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspected")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_found_across_chunk_boundaries() {
        let mut framing = Framing::default();
        // Two messages (3 bytes, then 1 compressed byte), cut at awkward places.
        let wire = [0, 0, 0, 0, 3, b'a', b'b', b'c', 1, 0, 0, 0, 1, b'z'];
        assert_eq!(framing.feed(&wire[..2]), vec![]);
        assert_eq!(framing.feed(&wire[2..6]), vec![(3, false)]);
        assert_eq!(framing.feed(&wire[6..10]), vec![]);
        assert_eq!(framing.feed(&wire[10..]), vec![(1, true)]);
        assert_eq!(
            framing.feed(&[0, 0, 0, 0, 0]),
            vec![(0, false)],
            "an empty message"
        );
    }
}

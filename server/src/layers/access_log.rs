//! The access log and request ids, for every gRPC call in one place.
//!
//! Each call gets a request id, the client's `x-request-id` when it sends a sane one, a new
//! UUID otherwise. Handlers see it in the request metadata, the client gets it back in the
//! response headers, and it tags the call's tracing span. When the call ends (its trailers
//! are sent, or the client goes away) one line is logged: method, gRPC code, duration, peer,
//! request id, the deadline it came with (`timeout_ms`), user agent, and the trace it is
//! part of (`trace_id`, from `traceparent`: `ops::traces`).
//!
//! The call's metrics are recorded here too, from the same observations: both need the
//! method, the final code, the duration and the bytes each way, and taking them once per
//! call in one layer costs half of taking them in two.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::extract::{ConnectInfo, Request};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, uri::PathAndQuery};
use http_body::Frame;
use tokio::time::Instant;
use tracing::Instrument;

use super::calls::CallRequest;
use super::{
    body::{self, CallResponse},
    names,
};
use crate::ops::{
    logs,
    metrics::{CallGauge, Metrics},
    traces,
};

const MAX_REQUEST_ID_LEN: usize = 128;

/// The peer's address as its log lines write it, made once per connection
/// (`transport::accept`): formatting the address anew was 1.4 % of a unary call's
/// instructions. A call without it (one over grpc-ws) has its address formatted.
#[derive(Debug, Clone)]
pub struct PeerName(Arc<str>);

impl PeerName {
    pub fn new(peer: SocketAddr) -> Self {
        Self(peer.to_string().into())
    }
}

/// Which transport carried a call, for its log line: `grpc` (HTTP/2) unless marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport(pub &'static str);

/// A request map outside tonic-web (which turns gRPC-Web requests into plain gRPC ones): marks
/// gRPC-Web calls for the log.
pub fn mark_grpc_web(mut request: Request) -> Request {
    let is_grpc_web = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc-web"));
    if is_grpc_web && request.extensions().get::<Transport>().is_none() {
        request.extensions_mut().insert(Transport("grpc-web"));
    }
    request
}

/// A step of every call (`layers::calls`): request id, span, the access log
/// line, and the call's metrics.
pub async fn log_call(
    metrics: &Metrics,
    mut request: CallRequest,
    next: impl AsyncFnOnce(CallRequest) -> CallResponse,
) -> CallResponse {
    let mut request_id = request
        .headers()
        .get(names::REQUEST_ID)
        .filter(|value| is_sane(value))
        .cloned()
        .unwrap_or_else(new_request_id);
    // Never indexed by HPACK: a value that is new on every call, put into the connection's
    // header table, only pushes out the entries worth keeping, and each next call's id is
    // compared with every id the table still holds (twice the cost of encoding tonic's
    // own headers, by instructions: BENCHMARKS.md, "Log lines and header names").
    request_id.set_sensitive(true);
    request
        .headers_mut()
        .insert(names::REQUEST_ID, request_id.clone());

    // Shared with the request (reference-counted bytes), not copied: a call's log and
    // metrics cost as little as they can (issue 14).
    let method = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let request_bytes = Arc::new(AtomicU64::new(0));
    super::calls::map_body(&mut request, |body| {
        let bytes = Arc::clone(&request_bytes);
        body::on_frame(body, move |frame| {
            if let Some(data) = frame.data_ref() {
                bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
        })
    });
    let mut call = Call {
        gauge: metrics.started(method.path()),
        request_bytes,
        response_bytes: 0,
        method,
        peer: request.extensions().get::<PeerName>().cloned().or_else(|| {
            let ConnectInfo(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>()?;
            Some(PeerName::new(*peer))
        }),
        request_id: request_id.clone(),
        timeout_ms: request
            .headers()
            .get(names::GRPC_TIMEOUT)
            .and_then(|value| super::deadline::parse_grpc_timeout(value.to_str().ok()?))
            .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
        // gRPC-Web clients name themselves in `x-user-agent` (a page cannot set the other).
        agent: request
            .headers()
            .get(names::X_USER_AGENT)
            .or_else(|| request.headers().get(http::header::USER_AGENT))
            .cloned(),
        transport: request
            .extensions()
            .get::<Transport>()
            .map_or("grpc", |transport| transport.0),
        started: Instant::now(),
        trace_id: None,
        span: None,
    };
    // With traces exported, the span names itself as OpenTelemetry expects (`otel.*`,
    // `rpc.*`), lives until the call ends, and carries its code; without, it stays the two
    // fields the log lines show.
    let span = if traces::exporting() {
        let path = call.method.path();
        tracing::info_span!(
            "call",
            request_id = %text(&call.request_id),
            method = %path,
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.grpc.status_code = tracing::field::Empty,
        )
    } else {
        tracing::info_span!(
            "call",
            request_id = %text(&call.request_id),
            method = %call.method.path()
        )
    };
    call.trace_id = traces::adopt(&span, request.headers());
    if traces::exporting() {
        call.span = Some(span.clone());
    }
    // Made before the handler runs: a call dropped before it answers (a client stream
    // cancelled mid-way) is logged too, as CANCELLED.
    let mut ending = Ending {
        code: None,
        call: Some(call),
    };
    let mut response = next(request).instrument(span).await;
    response.headers_mut().insert(names::REQUEST_ID, request_id);

    // A trailers-only response (errors, mostly) has its status in the headers already.
    ending.code = grpc_status(response.headers());
    response.body_mut().observe(ending);
    response
}

fn is_sane(value: &HeaderValue) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value.as_bytes().iter().all(|b| b.is_ascii_graphic())
}

fn new_request_id() -> HeaderValue {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).expect("a UUID is a valid header")
}

/// A header's text for the log (request ids are checked to be printable ASCII; an agent
/// that is not text logs as empty).
fn text(value: &HeaderValue) -> &str {
    value.to_str().unwrap_or_default()
}

fn grpc_status(headers: &HeaderMap) -> Option<tonic::Code> {
    let code: i32 = headers
        .get(names::GRPC_STATUS)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(tonic::Code::from_i32(code))
}

#[derive(Debug)]
struct Call {
    /// Held for the call's life: dropping it ends the in-flight count.
    gauge: CallGauge,
    request_bytes: Arc<AtomicU64>,
    response_bytes: u64,
    method: PathAndQuery,
    peer: Option<PeerName>,
    request_id: HeaderValue,
    /// The deadline the call came with (`grpc-timeout`), if any.
    timeout_ms: Option<u64>,
    agent: Option<HeaderValue>,
    transport: &'static str,
    started: Instant,
    /// The trace the call is part of (`ops::traces`), if any.
    trace_id: Option<String>,
    /// The call's span, held to its end when spans are exported.
    span: Option<tracing::Span>,
}

impl Call {
    fn log(self, code: Option<tonic::Code>) {
        // No status at all: the client left (or the connection broke) before the end.
        let code_number = code.map_or(tonic::Code::Cancelled as i32, |code| code as i32);
        let code = code.map_or("CANCELLED", proto::status::code_name);
        let seconds = self.started.elapsed().as_secs_f64();
        self.gauge.finished(
            code,
            seconds,
            self.request_bytes.load(Ordering::Relaxed),
            self.response_bytes,
        );
        tracing::info!(
            target: logs::ACCESS,
            method = %self.method.path(),
            code = %code,
            duration_ms = seconds * 1000.0,
            peer = self.peer.as_ref().map(|peer| tracing::field::display(&*peer.0)),
            request_id = %text(&self.request_id),
            agent = %self.agent.as_ref().map_or("", text),
            timeout_ms = self.timeout_ms,
            transport = %self.transport,
            trace_id = self.trace_id.as_deref(),
            "call"
        );
        if let Some(span) = self.span {
            // Entered once more at the call's end: the exported span ends at its last exit,
            // which is otherwise when the handler returned (a stream's first answer).
            span.in_scope(|| {
                span.record("rpc.grpc.status_code", code_number);
                if is_server_error(code_number) {
                    span.record("otel.status_code", "ERROR");
                }
            });
        }
    }
}

/// Whether a gRPC code marks the server's span as failed (OpenTelemetry's gRPC
/// conventions: the codes that mean the server failed, not that the client asked wrongly).
fn is_server_error(code: i32) -> bool {
    use tonic::Code;
    [
        Code::Unknown,
        Code::DeadlineExceeded,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
    ]
    .iter()
    .any(|server| *server as i32 == code)
}

/// What the response body shows of the call's end: its `grpc-status` trailer and its bytes.
/// The call is logged when this is dropped with the body, at its end or when the client
/// goes away; no status by then means the client left before the end.
pub struct Ending {
    call: Option<Call>,
    code: Option<tonic::Code>,
}

impl Ending {
    pub fn observe(&mut self, frame: &Frame<Bytes>) {
        if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
            self.code = Some(code);
        }
        if let (Some(data), Some(call)) = (frame.data_ref(), self.call.as_mut()) {
            call.response_bytes += data.len() as u64;
        }
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.log(self.code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_request_id_is_never_indexed_whoever_made_it() {
        let metrics = Metrics::new(&[], &[]);
        for sent in [None, Some("trace-42")] {
            let mut request = Request::new(axum::body::Body::empty());
            if let Some(id) = sent {
                request
                    .headers_mut()
                    .insert(names::REQUEST_ID, HeaderValue::from_static(id));
            }
            let response = log_call(&metrics, Box::new(request), async |request| {
                assert!(request.headers()[names::REQUEST_ID].is_sensitive());
                body::CallBody::response(axum::response::Response::default())
            })
            .await;
            let id = &response.headers()[names::REQUEST_ID];
            assert!(id.is_sensitive(), "{sent:?}");
            if let Some(sent) = sent {
                assert_eq!(id, sent);
            }
        }
    }

    #[test]
    fn only_sane_request_ids_are_kept() {
        assert!(is_sane(&HeaderValue::from_static("abc-123")));
        assert!(!is_sane(&HeaderValue::from_static("")));
        assert!(!is_sane(&HeaderValue::from_static("has space")));
        let long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
        assert!(!is_sane(&HeaderValue::try_from(long).expect("ascii")));
        assert_eq!(new_request_id().len(), 36);
    }
}

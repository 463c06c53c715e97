//! Traces across services: W3C Trace Context (`traceparent`, `tracestate`) in gRPC
//! metadata, and, with `--otlp-endpoint`, each call's span exported over OTLP/gRPC.
//!
//! Every call's `call` span (the access log's, `layers::access_log`) takes its parent from
//! the caller's `traceparent`; a blog service calling another ([`crate::blog::forward`])
//! sends its own span as the callee's parent, so one request's calls form one trace however
//! many servers it crosses. The access log shows the trace id either way. Without an OTLP
//! endpoint nothing is exported and nothing is made per call: the caller's `traceparent`
//! goes along unchanged, and its trace id is read from the header for the log.
//!
//! The two adapters below between `http::HeaderMap`/`tonic::metadata::MetadataMap` and the
//! propagator's `Extractor`/`Injector` traits are written here: a few lines each, where the
//! crate that has them (`opentelemetry-http`) would bring an HTTP client stack along.

use std::sync::atomic::{AtomicBool, Ordering};

use http::HeaderMap;
use opentelemetry::{
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{SdkTracer, SdkTracerProvider},
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The metadata that carries a trace from caller to callee.
pub const TRACE_HEADERS: [&str; 2] = ["traceparent", "tracestate"];

/// Set once, when the exporter is installed: calls then make spans of their own.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (`--otlp-endpoint`).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The exporter and the tracer its spans come from. Dropping it (or [`Self::shutdown`])
/// sends what is still queued.
#[derive(Debug)]
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// Spans sent in batches to the OTLP/gRPC collector at `endpoint`
    /// (`http://collector:4317`). The service is named by `OTEL_SERVICE_NAME` when set,
    /// `server` otherwise; the batch timing follows the `OTEL_BSP_*` variables.
    pub fn install(endpoint: &str) -> Result<Self, String> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|error| format!("--otlp-endpoint {endpoint}: {error}"))?;
        let mut resource = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("server");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        EXPORTING.store(true, Ordering::Relaxed);
        Ok(Self { provider })
    }

    /// The tracer for `tracing-opentelemetry`'s layer.
    pub fn tracer(&self) -> SdkTracer {
        use opentelemetry::trace::TracerProvider as _;
        self.provider.tracer("server")
    }

    /// Sends what is queued and stops.
    pub fn shutdown(&self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "the OTLP exporter did not shut down cleanly");
        }
    }
}

/// Makes `span` (a call's, just made) the child of the caller's span named in `headers`,
/// when spans are exported. Returns the call's trace id for its log line: the span's own
/// when exported, else the caller's (`traceparent`), else none.
pub fn adopt(span: &tracing::Span, headers: &HeaderMap) -> Option<String> {
    if exporting() {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
        let context = span.context();
        let trace = context.span().span_context().trace_id();
        return (trace != opentelemetry::trace::TraceId::INVALID).then(|| trace.to_string());
    }
    headers
        .get(crate::layers::names::TRACEPARENT)
        .and_then(|value| caller_trace_id(value.as_bytes()))
}

/// The trace id of a `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if well formed and
/// not all zeros.
fn caller_trace_id(traceparent: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(traceparent).ok()?;
    let mut parts = text.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    // Version 00 has exactly four parts; later versions may add more after them.
    if version == "00" && parts.next().is_some() {
        return None;
    }
    let hex = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let well_formed = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(span, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && span.bytes().any(|b| b != b'0');
    well_formed.then(|| trace.to_owned())
}

/// The trace headers for a call made on behalf of `incoming`: the current span as the
/// parent when spans are exported, the caller's own headers passed on otherwise.
pub fn forward(
    incoming: &tonic::metadata::MetadataMap,
    outgoing: &mut tonic::metadata::MetadataMap,
) {
    if exporting() {
        let context = tracing::Span::current().context();
        TraceContextPropagator::new().inject_context(&context, &mut Metadata(outgoing));
        return;
    }
    for name in TRACE_HEADERS {
        if let Some(value) = incoming.get(name) {
            outgoing.insert(name, value.clone());
        }
    }
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct Metadata<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for Metadata<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            value.parse(),
        ) {
            self.0.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::caller_trace_id;

    #[test]
    fn a_traceparent_gives_its_trace_id_only_when_well_formed() {
        let good = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            caller_trace_id(good).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        // A later version may carry more parts.
        let later = b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
        assert!(caller_trace_id(later).is_some());
        for bad in [
            &b""[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        ] {
            assert_eq!(
                caller_trace_id(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

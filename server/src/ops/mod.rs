//! Operations: health and reflection (with the readiness loop), the log lines' format,
//! Prometheus metrics,
//! registration in etcd for discovery, the shutdown signal and drain helpers, and traces
//! across services (W3C Trace Context, OTLP).

pub mod health;
pub mod logs;
pub mod metrics;
pub mod registry;
pub mod shutdown;
pub mod traces;

//! Operations: health and reflection (with the readiness loop), Prometheus metrics,
//! registration in etcd for discovery, and the shutdown signal and drain helpers.

pub mod health;
pub mod metrics;
pub mod registry;
pub mod shutdown;

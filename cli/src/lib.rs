//! What native clients built from this project's crates can reuse: finding replicas (in
//! etcd, or a static/DNS list) and balancing calls over them. The `client` binary is built
//! on it.

pub mod discovery;

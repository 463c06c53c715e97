//! Connections: the accept loop (HTTP/1.1 and HTTP/2, plain or TLS, with the transport
//! limits and graceful drain), the TLS configuration, and the web app's static files.

pub mod accept;
pub mod static_files;
pub mod tls;

//! Connections: the accept loop (HTTP/1.1 and HTTP/2, plain or TLS, with the transport
//! limits and graceful drain), write coalescing, the TLS configuration, the web app's static files, and the
//! HTTP/1.1 request bodies left unread.

pub mod accept;
pub mod coalesce;
pub mod static_files;
pub mod tls;
pub mod unread_body;
pub mod websocket;

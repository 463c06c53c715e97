//! The header names calls read and write, made once here. A name given as a
//! `&str` is parsed and checked again at each lookup or insert: 1.6 % of a unary call's
//! CPU in a profile (BENCHMARKS.md, "Log lines and header names").

use http::HeaderName;

pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
pub const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// gRPC-Web clients name themselves here: a page cannot set `user-agent`.
pub const X_USER_AGENT: HeaderName = HeaderName::from_static("x-user-agent");
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

//! Middleware around every gRPC call, outermost first as `app.rs` stacks them: CORS, the
//! access log and metrics, call limits, deadlines, the oversized-message status, and
//! authentication; and the response-body helpers they share.

pub mod access_log;
pub mod auth;
pub mod body;
pub mod call_limits;
pub mod cors;
pub mod deadline;
pub mod message_limits;

//! What runs around every gRPC call: CORS, then (as the steps of one middleware, [`calls`],
//! outermost first) the gRPC content-type check, the access log and metrics,
//! authentication, call limits (per client, as [`client`] identifies it), the open
//! request's time limits, deadlines, and the oversized-message status; and the
//! response-body helpers they share.

pub mod access_log;
pub mod auth;
pub mod body;
pub mod call_limits;
pub mod call_time;
pub mod calls;
pub mod client;
pub mod content_type;
pub mod cors;
pub mod deadline;
pub mod message_limits;
pub mod names;

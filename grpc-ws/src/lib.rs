//! gRPC over one WebSocket (`docs/websocket-transport.md`): the frames both ends speak,
//! encoded and decoded without I/O, so the server, the browser client and the native test
//! client share one definition.
//!
//! Written by hand: no crate of the ecosystem carries gRPC's four modes over a multiplexed
//! WebSocket with flow control (the spec says what the known designs lack).

#[cfg(any(
    all(feature = "client", not(target_arch = "wasm32")),
    all(feature = "browser", target_arch = "wasm32")
))]
pub mod client;
mod frame;
#[cfg(feature = "window")]
pub mod window;

pub use frame::{Frame, FrameError, Kind, decode, encode};

/// The WebSocket subprotocol both ends name.
pub const SUBPROTOCOL: &str = "grpc-ws.v1";
/// The path the server takes the upgrade on.
pub const PATH: &str = "/grpc-ws";
/// Each stream's window in each direction at open, in DATA bytes.
pub const INITIAL_WINDOW: u32 = 64 * 1024;

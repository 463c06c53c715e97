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

use http::{HeaderMap, HeaderValue};

/// The WebSocket subprotocol both ends name.
pub const SUBPROTOCOL: &str = "grpc-ws.v1";
/// The path the server takes the upgrade on.
pub const PATH: &str = "/grpc-ws";
/// Each stream's window in each direction at open, in DATA bytes. 256 KiB: measured in
/// Chromium, a 100 MiB upload from the page went at 6.9 MiB/s with 64 KiB and 14.3 MiB/s
/// with this (BENCHMARKS.md); the server bounds what it holds by streams per socket.
pub const INITIAL_WINDOW: u32 = 256 * 1024;

/// Trailers that end a call with `code` and `message` (percent-encoded as `grpc-message`
/// is): what either end sends for a call it cuts or that the socket failed.
pub fn status_trailers(code: i32, message: &str) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(message) = HeaderValue::from_str(&percent_encode(message)) {
        trailers.insert("grpc-message", message);
    }
    trailers
}

/// grpc-message's percent-encoding of what is not printable ASCII (and `%`).
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_trailers_carry_the_code_and_the_message_percent_encoded() {
        let trailers = status_trailers(13, "50% off: é");
        assert_eq!(trailers["grpc-status"], "13");
        assert_eq!(trailers["grpc-message"], "50%25 off: %C3%A9");
    }
}

//! The real server for a test ([`testkit`]'s, shared with the other crates' tests), and a
//! macro that runs one test body over each transport.

pub use testkit::{PATIENCE, TestServer as TestApp};

pub async fn spawn_app() -> TestApp {
    TestApp::spawn().await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut server::Config)) -> TestApp {
    TestApp::spawn_with(configure).await
}

/// Defines one test per transport: `native_grpc` (HTTP/2), `grpc_web` (HTTP/1.1) and
/// `grpc_web_http2`, each on its own server (default configuration, or `configured ...;`).
/// The body sees the running app and a channel to build any generated client on.
macro_rules! over_both_transports {
    ($(#[$meta:meta])* async fn $name:ident($app:ident, $channel:ident) $body:block) => {
        $crate::helpers::over_both_transports! {
            $(#[$meta])* async fn $name($app, $channel) configured |_| {}; $body
        }
    };
    // The same, on a server configured by `$configure` (an `FnOnce(&mut Config)`).
    ($(#[$meta:meta])* async fn $name:ident($app:ident, $channel:ident)
        configured $configure:expr; $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn native_grpc() {
                let $app = crate::helpers::spawn_app_with($configure).await;
                let $channel = $app.native_channel().await;
                $body
            }

            #[tokio::test]
            async fn grpc_web() {
                let $app = crate::helpers::spawn_app_with($configure).await;
                let $channel = $app.grpc_web_channel();
                $body
            }

            #[tokio::test]
            async fn grpc_web_http2() {
                let $app = crate::helpers::spawn_app_with($configure).await;
                let $channel = $app.grpc_web_h2_channel();
                $body
            }
        }
    };
}
pub(crate) use over_both_transports;

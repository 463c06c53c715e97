//! The same call over the page's transport: grpc-ws, with tonic-web-wasm-client behind it.
use proto::greeter::{HelloRequest, greeter_client::GreeterClient};
fn main() {
    wasm_bindgen_futures::spawn_local(async {
        let socket = grpc_ws::client::Client::new("ws://x/".to_owned());
        let page = grpc_ws::client::Fallback::new(
            socket,
            tonic_web_wasm_client::Client::new("http://x".into()),
        );
        let mut client = GreeterClient::new(page);
        let text = match client.say_hello(HelloRequest { name: "a".into() }).await {
            Ok(reply) => reply.into_inner().message,
            Err(status) => status.message().to_owned(),
        };
        web_sys::console::log_1(&text.into());
    });
}

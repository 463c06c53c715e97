//! One unary SayHello through the generated client over tonic-web-wasm-client, nothing else.
use proto::greeter::{HelloRequest, greeter_client::GreeterClient};
fn main() {
    wasm_bindgen_futures::spawn_local(async {
        let mut client = GreeterClient::new(tonic_web_wasm_client::Client::new("http://x".into()));
        let text = match client.say_hello(HelloRequest { name: "a".into() }).await {
            Ok(reply) => reply.into_inner().message,
            Err(status) => status.message().to_owned(),
        };
        web_sys::console::log_1(&text.into());
    });
}

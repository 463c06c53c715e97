//! Clients for the gRPC services, built in one place. The transport is the browser's
//! `fetch`, speaking gRPC-Web to the origin that served the page.

use proto::{
    greeter::greeter_client::GreeterClient,
    weather::v1::weather_service_client::WeatherServiceClient,
};
use tonic_web_wasm_client::Client;

fn transport() -> Client {
    // Same origin as the page: the server (or `trunk serve`'s proxy) answers both.
    let origin = web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default();
    Client::new(origin)
}

pub fn greeter() -> GreeterClient<Client> {
    GreeterClient::new(transport())
}

pub fn weather() -> WeatherServiceClient<Client> {
    WeatherServiceClient::new(transport())
}

/// A failed call as the page shows it: the gRPC code and the server's message.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub code: tonic::Code,
    pub message: String,
}

impl CallError {
    /// The code as gRPC spells it (`NOT_FOUND`), which is what users search for.
    pub fn code_name(&self) -> &'static str {
        proto::code_name(self.code)
    }
}

impl From<tonic::Status> for CallError {
    fn from(status: tonic::Status) -> Self {
        Self {
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

//! Clients for the gRPC services, built in one place. Every call goes over the page's one
//! grpc-ws socket (all four modes), or over gRPC-Web `fetch` when the socket cannot be
//! opened or the user switched it off (unary and server streaming only: a request still
//! being written fails, saying why). The inspector records each call; gzipped replies are
//! decoded by the browser (`gunzip.rs`); an interceptor adds what every call carries.

use std::time::Duration;

use proto::{
    blog::v1::{
        author_service_client::AuthorServiceClient, comment_service_client::CommentServiceClient,
        post_service_client::PostServiceClient,
    },
    chat::v1::chat_service_client::ChatServiceClient,
    files::v1::file_service_client::FileServiceClient,
    greeter::greeter_client::GreeterClient,
    grpc_testing::test_service_client::TestServiceClient,
    weather::v1::weather_service_client::WeatherServiceClient,
};
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
};

use crate::{gunzip::Gunzip, inspector::Inspect};

/// How long the page waits for a unary answer. Sent as `grpc-timeout`, which the server
/// enforces (and the socket's client too); streams have none, the user stops them.
pub const UNARY_DEADLINE: Duration = Duration::from_secs(10);

type Fetch = tonic_web_wasm_client::Client;
type PageTransport = grpc_ws::client::Fallback<Fetch>;
pub type Transport = InterceptedService<Gunzip<Inspect<PageTransport>>, PageMetadata>;

/// After the socket fails to open, calls go to `fetch` for this long before it is tried
/// again.
const SOCKET_RETRY: Duration = Duration::from_secs(5);

thread_local! {
    /// The page's one socket (and `fetch` behind it), shared by every client.
    static PAGE: PageTransport = {
        let location = web_sys::window().map(|window| window.location());
        let (protocol, host, origin) = location
            .map(|location| {
                (
                    location.protocol().unwrap_or_default(),
                    location.host().unwrap_or_default(),
                    location.origin().unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        // Same origin as the page: the server (or `trunk serve`'s proxy) answers both.
        let scheme = if protocol == "https:" { "wss" } else { "ws" };
        let socket = grpc_ws::client::Client::new(format!("{scheme}://{host}{}", grpc_ws::PATH))
            .retry_after(SOCKET_RETRY);
        let page = grpc_ws::client::Fallback::new(socket, Fetch::new(origin));
        page.set_socket_first(transport_setting::load() != transport_setting::FETCH);
        page
    };
}

fn transport() -> Transport {
    PAGE.with(|page| InterceptedService::new(Gunzip(Inspect(page.clone())), PageMetadata))
}

/// Which transport the page tries first, kept in `localStorage`: the socket (the default) or
/// gRPC-Web over `fetch`.
pub mod transport_setting {
    const KEY: &str = "transport";
    pub const SOCKET: &str = "socket";
    pub const FETCH: &str = "fetch";

    pub fn load() -> String {
        crate::storage::get(KEY).unwrap_or_else(|| SOCKET.to_owned())
    }

    pub fn save(value: &str) {
        crate::storage::set(KEY, value);
        super::PAGE.with(|page| page.set_socket_first(value != FETCH));
    }
}

// Replies may come gzipped (the server offers it): `Gunzip` in the transport decodes them.
pub fn greeter() -> GreeterClient<Transport> {
    GreeterClient::new(transport())
}

pub fn weather() -> WeatherServiceClient<Transport> {
    WeatherServiceClient::new(transport())
}

pub fn chat() -> ChatServiceClient<Transport> {
    ChatServiceClient::new(transport())
}

pub fn files() -> FileServiceClient<Transport> {
    FileServiceClient::new(transport())
}

pub fn authors() -> AuthorServiceClient<Transport> {
    AuthorServiceClient::new(transport())
}

pub fn posts() -> PostServiceClient<Transport> {
    PostServiceClient::new(transport())
}

pub fn comments() -> CommentServiceClient<Transport> {
    CommentServiceClient::new(transport())
}

pub fn test_service() -> TestServiceClient<Transport> {
    TestServiceClient::new(transport())
}

/// The interop service over the socket (`true`) or gRPC-Web fetch, whatever the page's
/// switch says: for measuring one against the other. Same socket as the page.
pub fn test_service_over(socket: bool) -> TestServiceClient<Transport> {
    PAGE.with(|page| {
        let own = grpc_ws::client::Fallback::new(page.socket().clone(), page.other().clone());
        own.set_socket_first(socket);
        TestServiceClient::new(InterceptedService::new(Gunzip(Inspect(own)), PageMetadata))
    })
}

/// DATA bytes the page's socket has received so far (0 before it opens): set beside what
/// the page has read, how far the server is ahead of the page.
pub fn socket_data_received() -> u64 {
    PAGE.with(|page| page.socket().data_received())
}

/// A request with the page's unary deadline.
pub fn unary<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(UNARY_DEADLINE);
    request
}

/// Adds what every call from the page carries: the access token the user saved, if any,
/// and the client's name. (Browsers do not let a page set `User-Agent`, so gRPC-Web
/// clients name themselves in `x-user-agent`.)
#[derive(Debug, Clone, Copy)]
pub struct PageMetadata;

impl Interceptor for PageMetadata {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert(
            "x-user-agent",
            MetadataValue::from_static(concat!("grpc-browser-web/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(token) = access_token::load()
            && let Ok(value) = MetadataValue::try_from(format!("Bearer {token}"))
        {
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// The bearer token for the methods that change state, kept in this browser's
/// `localStorage` so it survives reloads. The server decides which methods need it.
pub mod access_token {
    use leptos::prelude::*;

    const KEY: &str = "access-token";

    pub fn load() -> Option<String> {
        crate::storage::get(KEY)
    }

    /// Saves `token` (trimmed), or forgets the saved one when it is empty.
    pub fn save(token: &str) {
        crate::storage::set(KEY, token.trim());
        changes().update(|count| *count += 1);
    }

    thread_local! {
        // Reference-counted: not disposed with the component that first asked for it.
        static CHANGES: ArcRwSignal<u64> = ArcRwSignal::new(0);
    }

    /// Counts saves: a call that holds the token for long (the chat's Join) follows it.
    pub fn changes() -> ArcRwSignal<u64> {
        CHANGES.with(Clone::clone)
    }
}
/// A failed call as the page shows it: the gRPC code, the server's message, and the error
/// details a user can act on (which field, which limit).
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub code: tonic::Code,
    pub message: String,
    /// The `google.rpc.Status` the server attached, as it came: its decoder is a chunk of its
    /// own, loaded with the first error that has details (`lazy::detail_lines`).
    pub details: bytes::Bytes,
}

impl CallError {
    /// An error the page found itself, before or instead of a call: no details.
    pub fn local(code: tonic::Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: bytes::Bytes::new(),
        }
    }

    pub fn code_name(&self) -> &'static str {
        proto::status::code_name(self.code)
    }
}

impl From<Status> for CallError {
    fn from(status: Status) -> Self {
        Self {
            code: status.code(),
            message: status.message().to_owned(),
            details: status.details().to_owned().into(),
        }
    }
}

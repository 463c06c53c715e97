//! The web app: a Leptos client-side app whose every call goes through the stubs generated
//! from `proto/`, over the page's grpc-ws socket (all four modes), or gRPC-Web
//! (tonic-web-wasm-client) when the socket cannot be had.

mod api;
mod components;
mod format;
mod gunzip;
mod inspector;
mod inspector_panel;

mod pages;
mod storage;
mod task;
mod units;

use leptos::prelude::*;
use leptos_router::{
    components::{A, Route, Router, Routes},
    path,
};

use crate::pages::{
    ApiPage, BlogPage, ChatPage, FilesPage, GreeterPage, InteropPage, NotFound, PostPage,
    WeatherPage,
};

#[component]
pub fn App() -> impl IntoView {
    units::provide_units();
    view! {
        <Router>
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="logo" aria-hidden="true"></span>
                    "gRPC in the browser"
                </a>
                <nav>
                    <A href="/" exact=true>"Greeter"</A>
                    <A href="/weather">"Weather"</A>
                    <A href="/chat">"Chat"</A>
                    <A href="/files">"Files"</A>
                    <A href="/blog">"Blog"</A>
                    <A href="/api">"API"</A>
                    <A href="/interop">"Interop"</A>
                </nav>
            </header>
            <main class="container">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=GreeterPage />
                    <Route path=path!("/weather") view=WeatherPage />
                    <Route path=path!("/chat") view=ChatPage />
                    <Route path=path!("/files") view=FilesPage />
                    <Route path=path!("/blog") view=BlogPage />
                    <Route path=path!("/blog/:id") view=PostPage />
                    <Route path=path!("/api") view=ApiPage />
                    <Route path=path!("/interop") view=InteropPage />
                </Routes>
            </main>
            <inspector_panel::InspectorPanel />
            <footer class="footer">
                "Rust all the way: tonic + tonic-web on the server, Leptos and "
                "tonic-web-wasm-client in the browser, one .proto contract between them."
            </footer>
        </Router>
    }
}

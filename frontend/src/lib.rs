//! The web app: a Leptos client-side app whose every call goes through the stubs generated
//! from `proto/`, over the page's grpc-ws socket (all four modes), or gRPC-Web
//! (tonic-web-wasm-client) when the socket cannot be had.

mod api;
mod components;
mod format;
mod gunzip;
mod inspector;
mod inspector_panel;
mod lazy;
mod pages;
mod route;
mod storage;
mod task;
mod units;

use leptos::prelude::*;

use crate::{
    pages::{GreeterPage, NotFound},
    route::{NavLink, Page},
};

#[component]
pub fn App() -> impl IntoView {
    units::provide_units();
    route::start();
    let page = route::page();
    view! {
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="logo" aria-hidden="true"></span>
                    "gRPC in the browser"
                </a>
                <nav>
                    <NavLink href="/" exact=true>"Greeter"</NavLink>
                    <NavLink href="/weather">"Weather"</NavLink>
                    <NavLink href="/chat">"Chat"</NavLink>
                    <NavLink href="/files">"Files"</NavLink>
                    <NavLink href="/blog">"Blog"</NavLink>
                    <NavLink href="/api">"API"</NavLink>
                    <NavLink href="/interop">"Interop"</NavLink>
                </nav>
            </header>
            <main class="container">
                // A page is made again only when another page is shown.
                {move || match page.get() {
                    Page::Greeter => view! { <GreeterPage /> }.into_any(),
                    // The others load with their code (lazy.rs).
                    Page::Weather => lazy::weather_page(),
                    Page::Chat => lazy::chat_page(),
                    Page::Files => lazy::files_page(),
                    Page::Blog => lazy::blog_page(),
                    Page::Post(id) => lazy::post_page(id),
                    Page::Api => lazy::api_page(),
                    Page::Interop => lazy::interop_page(),
                    Page::NotFound => view! { <NotFound /> }.into_any(),
                }}
            </main>
            <inspector_panel::InspectorPanel />
            <footer class="footer">
                "Rust all the way: tonic + tonic-web on the server, Leptos and "
                "tonic-web-wasm-client in the browser, one .proto contract between them."
            </footer>
    }
}

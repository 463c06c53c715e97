//! Entry point of the web app: mounts [`frontend::App`] on the page.
//!
//! Built by Trunk (see `Trunk.toml`); run with `cargo xtask run`, or `trunk serve` next to a
//! running server.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(frontend::App);
}

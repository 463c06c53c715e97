//! The server library. `main.rs` only wires it to the process (flags, logging, signals);
//! tests build the same [`App`] on `127.0.0.1:0` and drive its shutdown themselves.
//!
//! Where things live: one folder per product area, each with its domain code beside its gRPC
//! handler (`chat/`, `files/`, `greeter/`, `interop/`, `weather/`); the middleware around
//! every call in `layers/`; connections, TLS and the web app's files in `transport/`;
//! health, reflection, metrics, discovery, shutdown and traces in `ops/`; `app.rs` wires them.

mod app;
mod blog;
mod chat;
pub mod config;
mod convert;
mod error;
mod files;
mod gateway;
mod greeter;
mod interop;
mod layers;
mod ops;
pub mod store;
mod transport;
pub mod weather;

pub use app::{App, BuildError};
pub use config::Config;
pub use ops::{logs, shutdown::signal as shutdown_signal, traces};
pub use transport::{static_files::has_embedded_frontend, tls::dev_certificate};

//! The server library: configuration, the application and its services. `main.rs` only
//! wires them to the process (flags, logging, signals); tests build the same [`App`] on
//! `127.0.0.1:0` and drive its shutdown themselves.

pub mod access_log;
pub mod app;
mod auth;
mod body;
mod call_limits;
pub mod chat;
pub mod config;
mod connections;
mod deadline;
pub mod error;
pub mod files;
mod interop;
mod message_limits;
pub mod metrics;
mod registry;
pub mod services;
pub mod shutdown;
mod static_files;
pub mod tls;
pub mod weather;

pub use app::App;
pub use config::Config;
pub use static_files::has_embedded_frontend;

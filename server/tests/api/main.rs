//! Integration tests: the real server on `127.0.0.1:0`, called through real clients, native
//! gRPC (HTTP/2) and gRPC-Web (HTTP/1.1, tonic-web's client layer), and plain HTTP.

mod helpers;

mod chat;
mod demo;
mod files;
mod greeter;
mod interop;
mod lifecycle;
mod limits;
mod live;
mod metrics;
mod open_meteo;
mod protocol;
mod rest;
mod transport;
mod weather;
mod web;
mod websocket;

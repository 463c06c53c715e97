//! gRPC handlers. Each is thin: validate the request, call plain domain code, map errors
//! through [`crate::error::ApiError`].

mod chat;
mod demo;
mod files;
mod greeter;
mod weather;

pub use chat::ChatService;
pub use demo::PredictService;
pub use files::FileService;
pub use greeter::GreeterService;
pub use weather::WeatherService;

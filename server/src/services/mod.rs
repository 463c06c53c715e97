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

/// An instant as protobuf's `google.protobuf.Timestamp`.
fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

//! The seeds' own services: `Greeter` (SayHello, and one method of each of the other three
//! call modes) and the tutorial's `demo.MyService.Predict`, both byte-compatible with the
//! seeds' protos so their Python clients run unchanged.

mod predict;
mod service;

pub use predict::PredictService;
pub use service::GreeterService;

//! One module per page of the app.

mod greeter;
mod not_found;
mod weather;

pub use greeter::GreeterPage;
pub use not_found::NotFound;
pub use weather::WeatherPage;

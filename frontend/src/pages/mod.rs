//! One module per page of the app.

mod chat;
mod greeter;
mod not_found;
mod weather;

pub use chat::ChatPage;
pub use greeter::GreeterPage;
pub use not_found::NotFound;
pub use weather::WeatherPage;

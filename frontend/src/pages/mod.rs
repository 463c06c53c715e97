//! One module per page of the app.

mod chat;
mod files;
mod greeter;
mod not_found;
mod weather;

pub use chat::ChatPage;
pub use files::FilesPage;
pub use greeter::GreeterPage;
pub use not_found::NotFound;
pub use weather::WeatherPage;

//! One module per page of the app.

mod api_docs;
mod blog;
mod chat;
mod files;
mod greeter;
mod interop;
mod not_found;
mod weather;

pub use api_docs::ApiPage;
pub use blog::{BlogPage, PostPage};
pub use chat::ChatPage;
pub use files::FilesPage;
pub use greeter::{GreeterPage, streams as greeter_streams};
pub use interop::InteropPage;
pub use not_found::NotFound;
pub use weather::WeatherPage;

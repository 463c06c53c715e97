//! The chat room (the learning path's bidi project): bounded rooms in memory, and
//! `chat.v1.ChatService` on top of them (post, subscribe, and both at once over `Join`).

mod rooms;
mod service;

pub use rooms::Rooms;
pub use service::ChatService;

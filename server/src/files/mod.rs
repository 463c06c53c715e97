//! File upload (the learning path's client-streaming project): the upload store on disk,
//! and `files.v1.FileService` on top of it (upload, list, download).

mod service;
mod store;

pub use service::FileService;
pub use store::FileStore;

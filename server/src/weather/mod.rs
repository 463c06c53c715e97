//! Weather: the city catalog, the offline model, and the hub that shares one producer of
//! live updates per city among all its subscribers.

mod catalog;
pub mod live;
mod model;

pub use catalog::{Catalog, City};
pub use live::LiveHub;
pub use model::{Conditions, Sky, conditions};

//! Weather: the city catalog, where conditions and forecasts come from (the offline model
//! or Open-Meteo), and the hub that shares one producer of live updates per city among all
//! its subscribers.

mod catalog;
pub mod forecast;
pub mod live;
mod model;
pub mod open_meteo;
pub mod provider;

pub use catalog::{Catalog, City};
pub use live::LiveHub;
pub use model::{Conditions, Sky, conditions};
pub use provider::{Provider, Reading};

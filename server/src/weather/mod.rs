//! Weather (the learning path's unary + server-streaming project): the city catalog, where
//! conditions and forecasts come from (the offline model or Open-Meteo), the hub that
//! shares one producer of live updates per city among all its subscribers, and
//! `weather.v1.WeatherService` on top of them.

mod catalog;
pub mod climate;
pub mod forecast;
pub mod live;
mod model;
pub mod open_meteo;
pub mod provider;
mod service;

pub use catalog::{Catalog, City};
pub use live::LiveHub;
pub use model::{Conditions, Sky, conditions};
pub use provider::{Provider, Reading};
pub use service::WeatherService;

//! Where weather comes from: the offline model (the default) or Open-Meteo, chosen by
//! configuration. The service and the live hub ask a [`Provider`] and do not know which.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    City, Conditions,
    forecast::{Forecast, model_forecast},
    model,
    open_meteo::{OpenMeteo, ProviderError},
};

/// Conditions in a city at an instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub city: Arc<City>,
    pub conditions: Conditions,
    pub observed_at: DateTime<Utc>,
}

#[derive(Debug)]
pub enum Provider {
    /// Deterministic, offline: computed on demand for the clock's time, never fails.
    Model(Clock),
    OpenMeteo(OpenMeteo),
}

/// The time the model computes for.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    /// Tokio's clock, from `start` on: under paused time, a test decides when time passes.
    Tokio {
        start: DateTime<Utc>,
        at: tokio::time::Instant,
    },
}

impl Clock {
    pub fn tokio(start: DateTime<Utc>) -> Self {
        Self::Tokio {
            start,
            at: tokio::time::Instant::now(),
        }
    }

    pub fn now(self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Tokio { start, at } => {
                start + chrono::Duration::from_std(at.elapsed()).unwrap_or_default()
            }
        }
    }
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Model(_) => "model",
            Self::OpenMeteo(_) => "open-meteo",
        }
    }

    pub async fn current(&self, city: &Arc<City>) -> Result<Reading, ProviderError> {
        match self {
            Self::Model(clock) => {
                let observed_at = clock.now();
                Ok(Reading {
                    conditions: model::conditions(city, observed_at),
                    city: Arc::clone(city),
                    observed_at,
                })
            }
            Self::OpenMeteo(open_meteo) => {
                let fetched = open_meteo.weather(city).await?;
                Ok(Reading {
                    city: Arc::clone(city),
                    conditions: fetched.current,
                    observed_at: fetched.observed_at,
                })
            }
        }
    }

    pub async fn forecast(&self, city: &City) -> Result<Forecast, ProviderError> {
        match self {
            Self::Model(clock) => Ok(model_forecast(city, clock.now())),
            Self::OpenMeteo(open_meteo) => Ok(open_meteo.weather(city).await?.forecast.clone()),
        }
    }
}

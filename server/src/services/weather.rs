//! `weather.v1.WeatherService`: catalog search, current conditions, live updates.

use std::sync::Arc;

use chrono::{Offset, TimeZone};
use proto::weather::v1::{
    self as pb, CurrentConditions, GetCurrentConditionsRequest, SearchCitiesRequest,
    SearchCitiesResponse, WatchConditionsRequest, weather_service_server,
};
use tokio_stream::{StreamExt, wrappers::WatchStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{
    error::ApiError,
    shutdown::{ResponseStream, until_shutdown},
    weather::{Catalog, City, LiveHub, Sky, live::Reading},
};

pub(crate) const DEFAULT_SEARCH_LIMIT: u32 = 10;
pub(crate) const MAX_SEARCH_LIMIT: u32 = 50;
pub(crate) const MAX_QUERY_CHARS: usize = 100;

#[derive(Debug)]
pub struct WeatherService {
    catalog: Arc<Catalog>,
    hub: LiveHub,
    shutdown: CancellationToken,
}

impl WeatherService {
    pub fn new(catalog: Arc<Catalog>, hub: LiveHub, shutdown: CancellationToken) -> Self {
        Self {
            catalog,
            hub,
            shutdown,
        }
    }

    fn city(&self, id: &str) -> Result<&Arc<City>, ApiError> {
        if id.is_empty() {
            return Err(ApiError::invalid("city_id", "must not be empty"));
        }
        self.catalog.get(id).ok_or_else(|| ApiError::NotFound {
            kind: "city",
            id: id.to_owned(),
        })
    }
}

#[tonic::async_trait]
impl weather_service_server::WeatherService for WeatherService {
    async fn search_cities(
        &self,
        request: Request<SearchCitiesRequest>,
    ) -> Result<Response<SearchCitiesResponse>, Status> {
        let SearchCitiesRequest { query, limit } = request.into_inner();
        let limit = match limit {
            0 => DEFAULT_SEARCH_LIMIT,
            1..=MAX_SEARCH_LIMIT => limit,
            _ => {
                return Err(ApiError::invalid(
                    "limit",
                    format!("must be at most {MAX_SEARCH_LIMIT}, got {limit}"),
                )
                .into());
            }
        };
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::invalid(
                "query",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            )
            .into());
        }
        let cities = self
            .catalog
            .search(&query, limit as usize)
            .iter()
            .map(|city| city_to_proto(city))
            .collect();
        Ok(Response::new(SearchCitiesResponse { cities }))
    }

    async fn get_current_conditions(
        &self,
        request: Request<GetCurrentConditionsRequest>,
    ) -> Result<Response<CurrentConditions>, Status> {
        let city = self.city(&request.get_ref().city_id)?;
        Ok(Response::new(reading_to_proto(&Reading::now(Arc::clone(
            city,
        )))))
    }

    type WatchConditionsStream = ResponseStream<CurrentConditions>;

    async fn watch_conditions(
        &self,
        request: Request<WatchConditionsRequest>,
    ) -> Result<Response<Self::WatchConditionsStream>, Status> {
        let city = self.city(&request.get_ref().city_id)?;
        // The stream owns the receiver: when tonic drops the stream (client gone, deadline,
        // shutdown), the receiver goes with it and the hub may stop the producer.
        let updates = WatchStream::new(self.hub.subscribe(city))
            .map(|reading| Ok(reading_to_proto(&reading)));
        Ok(Response::new(until_shutdown(
            updates,
            self.shutdown.clone(),
        )))
    }
}

fn city_to_proto(city: &City) -> pb::City {
    pb::City {
        id: city.id.clone(),
        name: city.name.clone(),
        country_code: city.country_code.clone(),
        country: city.country.clone(),
        latitude: city.latitude,
        longitude: city.longitude,
        time_zone: city.time_zone.name().to_owned(),
        population: city.population,
    }
}

fn reading_to_proto(reading: &Reading) -> CurrentConditions {
    let c = &reading.conditions;
    let offset = reading
        .city
        .time_zone
        .offset_from_utc_datetime(&reading.observed_at.naive_utc())
        .fix()
        .local_minus_utc();
    CurrentConditions {
        city: Some(city_to_proto(&reading.city)),
        conditions: Some(pb::Conditions {
            temperature_c: c.temperature_c,
            feels_like_c: c.feels_like_c,
            humidity_percent: c.humidity_percent,
            wind_speed_kmh: c.wind_speed_kmh,
            wind_direction_deg: c.wind_direction_deg,
            sky: sky_to_proto(c.sky).into(),
            precipitation_mm_h: c.precipitation_mm_h,
            is_day: c.is_day,
        }),
        observed_at: Some(prost_types::Timestamp {
            seconds: reading.observed_at.timestamp(),
            nanos: reading.observed_at.timestamp_subsec_nanos() as i32,
        }),
        utc_offset_seconds: offset,
    }
}

fn sky_to_proto(sky: Sky) -> pb::Sky {
    match sky {
        Sky::Clear => pb::Sky::Clear,
        Sky::PartlyCloudy => pb::Sky::PartlyCloudy,
        Sky::Cloudy => pb::Sky::Cloudy,
        Sky::Fog => pb::Sky::Fog,
        Sky::Drizzle => pb::Sky::Drizzle,
        Sky::Rain => pb::Sky::Rain,
        Sky::Thunderstorm => pb::Sky::Thunderstorm,
        Sky::Snow => pb::Sky::Snow,
    }
}

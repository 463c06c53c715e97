//! `weather.v1.WeatherService`: catalog search, current conditions, forecasts, live updates.

use std::{
    collections::HashSet,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use chrono::{Offset, TimeZone, Utc};
use futures_util::Stream;
use proto::weather::v1::{
    self as pb, ConditionsUpdate, CurrentConditions, GetCurrentConditionsRequest,
    GetForecastRequest, Heartbeat, SearchCitiesRequest, SearchCitiesResponse,
    WatchConditionsRequest, WatchEvent, WatchRequest, watch_event, weather_service_server,
};
use tokio::{
    sync::watch,
    time::{Instant, Sleep},
};
use tokio_stream::{StreamExt, StreamMap, wrappers::WatchStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{
    convert::timestamp,
    error::ApiError,
    ops::shutdown::{ResponseStream, until_shutdown},
    weather::{
        Catalog, City, LiveHub, Provider, Reading, Sky, forecast::Forecast, live::Update,
        open_meteo::ProviderError,
    },
};

pub(crate) const DEFAULT_SEARCH_LIMIT: u32 = 10;
pub(crate) const MAX_SEARCH_LIMIT: u32 = 50;
pub(crate) const MAX_QUERY_CHARS: usize = 100;
/// Cities one Watch call may follow.
pub(crate) const MAX_WATCHED_CITIES: usize = 20;

#[derive(Debug)]
pub struct WeatherService {
    catalog: Arc<Catalog>,
    provider: Arc<Provider>,
    hub: LiveHub,
    heartbeat: Duration,
    shutdown: CancellationToken,
}

impl WeatherService {
    pub fn new(
        catalog: Arc<Catalog>,
        provider: Arc<Provider>,
        hub: LiveHub,
        heartbeat: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            catalog,
            provider,
            hub,
            heartbeat,
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

    async fn subscribe(&self, city: &Arc<City>) -> Result<watch::Receiver<Arc<Update>>, ApiError> {
        self.hub.subscribe(city).await.map_err(provider_failed)
    }
}

fn provider_failed(error: ProviderError) -> ApiError {
    ApiError::DependencyFailed {
        dependency: "the weather provider",
        reason: error.0,
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
        let reading = self.provider.current(city).await.map_err(provider_failed)?;
        Ok(Response::new(reading_to_proto(&reading)))
    }

    async fn get_forecast(
        &self,
        request: Request<GetForecastRequest>,
    ) -> Result<Response<pb::Forecast>, Status> {
        let city = self.city(&request.get_ref().city_id)?;
        let forecast = self
            .provider
            .forecast(city)
            .await
            .map_err(provider_failed)?;
        Ok(Response::new(forecast_to_proto(city, &forecast)))
    }

    type WatchConditionsStream = ResponseStream<CurrentConditions>;

    async fn watch_conditions(
        &self,
        request: Request<WatchConditionsRequest>,
    ) -> Result<Response<Self::WatchConditionsStream>, Status> {
        let city = self.city(&request.get_ref().city_id)?;
        // The stream owns the receiver: when tonic drops the stream (client gone, deadline,
        // shutdown), the receiver goes with it and the hub may stop the producer.
        let updates = WatchStream::new(self.subscribe(city).await?)
            .map(|update| Ok(reading_to_proto(&update.reading)));
        Ok(Response::new(until_shutdown(
            updates,
            self.shutdown.clone(),
        )))
    }

    type WatchStream = ResponseStream<WatchEvent>;

    async fn watch(
        &self,
        request: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let ids = request.into_inner().city_ids;
        if ids.is_empty() || ids.len() > MAX_WATCHED_CITIES {
            return Err(ApiError::invalid(
                "city_ids",
                format!(
                    "must name 1 to {MAX_WATCHED_CITIES} cities, got {}",
                    ids.len()
                ),
            )
            .into());
        }
        let mut seen = HashSet::new();
        let mut cities = Vec::with_capacity(ids.len());
        for id in &ids {
            if !seen.insert(id.as_str()) {
                return Err(ApiError::invalid("city_ids", format!("'{id}' is named twice")).into());
            }
            cities.push(self.city(id)?);
        }
        // All at once: a provider's first readings need not wait for each other.
        let receivers =
            futures_util::future::try_join_all(cities.iter().map(|city| self.subscribe(city)))
                .await?;
        let mut feeds = StreamMap::new();
        for (city, receiver) in cities.iter().zip(receivers) {
            feeds.insert(city.id.clone(), numbered(receiver));
        }
        let events = with_heartbeats(feeds.map(|(_, update)| update), self.heartbeat);
        Ok(Response::new(until_shutdown(
            events.map(Ok),
            self.shutdown.clone(),
        )))
    }
}

/// A feed as the updates one subscriber gets, each saying how many it skipped since the
/// one before (none for the first).
fn numbered(
    receiver: watch::Receiver<Arc<Update>>,
) -> impl Stream<Item = ConditionsUpdate> + Unpin {
    let mut last_seq = None;
    WatchStream::new(receiver).map(move |update| {
        let skipped = last_seq.map_or(0, |last: u64| update.seq.saturating_sub(last + 1));
        last_seq = Some(update.seq);
        ConditionsUpdate {
            conditions: Some(reading_to_proto(&update.reading)),
            skipped,
        }
    })
}

/// The updates, with a heartbeat whenever `every` passes without one.
fn with_heartbeats(
    updates: impl Stream<Item = ConditionsUpdate> + Send + Unpin + 'static,
    every: Duration,
) -> Pin<Box<dyn Stream<Item = WatchEvent> + Send>> {
    Box::pin(Heartbeats {
        updates,
        every,
        last: Instant::now(),
        timer: Box::pin(tokio::time::sleep(every)),
    })
}

/// [`with_heartbeats`]'s stream. Written by hand rather than with `unfold` + `select!`, so
/// the timer is not made anew for every update: it stays set, and when it fires early
/// (updates came meanwhile) moves to `every` after the last one. A timer made and dropped
/// per message was two operations on the runtime's timer wheel for each update of each
/// subscriber (issue 14, the live fan-out's profile).
struct Heartbeats<S> {
    updates: S,
    every: Duration,
    /// When the last event (update or heartbeat) went out.
    last: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<S: Stream<Item = ConditionsUpdate> + Unpin> Stream for Heartbeats<S> {
    type Item = WatchEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        let this = self.get_mut();
        if let Poll::Ready(update) = Pin::new(&mut this.updates).poll_next(cx) {
            this.last = Instant::now();
            return Poll::Ready(update.map(|update| WatchEvent {
                event: Some(watch_event::Event::Update(update)),
            }));
        }
        loop {
            ready!(this.timer.as_mut().poll(cx));
            let (due, now) = (this.last + this.every, Instant::now());
            if now < due {
                this.timer.as_mut().reset(due);
                continue;
            }
            this.last = now;
            this.timer.as_mut().reset(now + this.every);
            return Poll::Ready(Some(WatchEvent {
                event: Some(watch_event::Event::Heartbeat(Heartbeat {
                    sent_at: Some(timestamp(Utc::now())),
                })),
            }));
        }
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
        ascii_name: city.ascii_name.clone(),
        region: city.region.clone(),
    }
}

fn utc_offset(city: &City, at: chrono::DateTime<Utc>) -> i32 {
    city.time_zone
        .offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

fn forecast_to_proto(city: &City, forecast: &Forecast) -> pb::Forecast {
    pb::Forecast {
        city: Some(city_to_proto(city)),
        hourly: forecast
            .hourly
            .iter()
            .map(|hour| pb::HourlyForecast {
                time: Some(timestamp(hour.time)),
                temperature_c: hour.temperature_c,
                precipitation_mm: hour.precipitation_mm,
                precipitation_probability_percent: hour.precipitation_probability_percent,
                sky: sky_to_proto(hour.sky).into(),
                is_day: hour.is_day,
            })
            .collect(),
        daily: forecast
            .daily
            .iter()
            .map(|day| pb::DailyForecast {
                date: day.date.to_string(),
                temperature_min_c: day.temperature_min_c,
                temperature_max_c: day.temperature_max_c,
                precipitation_mm: day.precipitation_mm,
                sky: sky_to_proto(day.sky).into(),
            })
            .collect(),
        utc_offset_seconds: utc_offset(city, Utc::now()),
        issued_at: Some(timestamp(forecast.issued_at)),
    }
}

fn reading_to_proto(reading: &Reading) -> CurrentConditions {
    let c = &reading.conditions;
    let offset = utc_offset(&reading.city, reading.observed_at);
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
        observed_at: Some(timestamp(reading.observed_at)),
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

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::UnboundedReceiverStream;

    use super::*;

    fn is_heartbeat(event: &WatchEvent) -> bool {
        matches!(event.event, Some(watch_event::Event::Heartbeat(_)))
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_come_only_after_a_quiet_interval() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut events = with_heartbeats(UnboundedReceiverStream::new(rx), Duration::from_secs(1));
        let started = Instant::now();
        // Updates every 0.6 s for 3 s: the timer fires in between, and no heartbeat goes out.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(600)).await;
            tx.send(ConditionsUpdate::default()).expect("open");
            let event = events.next().await.expect("an event");
            assert!(!is_heartbeat(&event), "{event:?}");
        }
        // Then quiet: a heartbeat a second after the last update, and every second after.
        let last = Instant::now();
        for beat in 1..=2 {
            let event = events.next().await.expect("an event");
            assert!(is_heartbeat(&event), "{event:?}");
            assert_eq!(Instant::now() - last, Duration::from_secs(beat));
        }
        assert_eq!(last - started, Duration::from_secs(3));
        drop(tx);
        assert!(
            events.next().await.is_none(),
            "the stream ends with its updates"
        );
    }
}

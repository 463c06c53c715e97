//! The weather commands: search, current conditions, forecast, and live updates of several
//! cities over one Watch stream.

use futures_util::future::join_all;
use proto::weather::v1::{
    CurrentConditions, Forecast, GetCurrentConditionsRequest, GetForecastRequest,
    SearchCitiesRequest, WatchRequest, watch_event, weather_service_client::WeatherServiceClient,
};
use tonic::Status;

use super::{Calls, GZIP};
use crate::args::WeatherCommand;

impl Calls {
    pub(super) async fn weather(&self, command: WeatherCommand) -> Result<(), Status> {
        let mut client = WeatherServiceClient::new(self.transport.clone()).accept_compressed(GZIP);
        match command {
            WeatherCommand::Search { query, limit } => {
                let found = self.unary(
                    client
                        .search_cities(SearchCitiesRequest { query, limit })
                        .await?,
                );
                self.printer
                    .reply("weather.v1.SearchCitiesResponse", &found, |found| {
                        found
                            .cities
                            .iter()
                            .map(|c| format!("{:<24} {}, {}", c.id, c.name, c.country))
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
            }
            WeatherCommand::Current { city_ids } => {
                // Concurrent calls, multiplexed on the one HTTP/2 connection.
                let calls = city_ids.into_iter().map(|city_id| {
                    let mut client = client.clone();
                    async move {
                        client
                            .get_current_conditions(GetCurrentConditionsRequest { city_id })
                            .await
                    }
                });
                // Every answer prints; the first failure is returned (and printed last), the
                // others print where they come.
                let mut first_error = None;
                for result in join_all(calls).await {
                    match result {
                        Ok(reading) => self.print_conditions(&self.unary(reading)),
                        Err(status) if first_error.is_none() => first_error = Some(status),
                        Err(status) => self.printer.error(&status),
                    }
                }
                if let Some(status) = first_error {
                    return Err(status);
                }
            }
            WeatherCommand::Forecast { city_id } => {
                let forecast =
                    self.unary(client.get_forecast(GetForecastRequest { city_id }).await?);
                self.printer
                    .reply("weather.v1.Forecast", &forecast, format_forecast);
            }
            WeatherCommand::Watch { city_ids } => {
                let mut events = self.streaming(client.watch(WatchRequest { city_ids }).await?);
                while let Some(event) = events.message().await? {
                    match event.event {
                        Some(watch_event::Event::Update(update)) if !self.printer.is_json() => {
                            if update.skipped > 0 {
                                eprintln!(
                                    "({} updates skipped: reading too slowly)",
                                    update.skipped
                                );
                            }
                            self.print_conditions(&update.conditions.unwrap_or_default());
                        }
                        Some(watch_event::Event::Heartbeat(_)) if !self.printer.is_json() => {
                            if self.printer.is_verbose() {
                                eprintln!("(heartbeat)");
                            }
                        }
                        _ => self
                            .printer
                            .reply("weather.v1.WatchEvent", &event, |_| String::new()),
                    }
                }
                self.finished(&mut events).await?;
            }
        }
        Ok(())
    }

    fn print_conditions(&self, reading: &CurrentConditions) {
        self.printer
            .reply("weather.v1.CurrentConditions", reading, |reading| {
                let city = reading.city.clone().unwrap_or_default();
                let c = reading.conditions.unwrap_or_default();
                let sky = c
                    .sky()
                    .as_str_name()
                    .trim_start_matches("SKY_")
                    .replace('_', " ");
                let seconds = reading
                    .observed_at
                    .map_or(0, |t| t.seconds)
                    .rem_euclid(86_400);
                format!(
                    "{}, {}: {:.1} °C (feels like {:.1} °C), {}, humidity {}%, wind {:.1} km/h \
                     from {}°, precipitation {:.1} mm/h; observed {:02}:{:02}:{:02} UTC",
                    city.name,
                    city.country_code,
                    c.temperature_c,
                    c.feels_like_c,
                    sky.to_lowercase(),
                    c.humidity_percent,
                    c.wind_speed_kmh,
                    c.wind_direction_deg,
                    c.precipitation_mm_h,
                    seconds / 3600,
                    seconds % 3600 / 60,
                    seconds % 60,
                )
            });
    }
}

/// A forecast for people: one line per 3 hours of the next 48, then one per day.
fn format_forecast(forecast: &Forecast) -> String {
    let offset = i64::from(forecast.utc_offset_seconds);
    let sky = |sky: proto::weather::v1::Sky| {
        sky.as_str_name()
            .trim_start_matches("SKY_")
            .replace('_', " ")
            .to_lowercase()
    };
    let city = forecast.city.clone().unwrap_or_default();
    let mut lines = vec![format!("{}, {} (local times)", city.name, city.country)];
    for hour in forecast.hourly.iter().step_by(3) {
        let local = (hour.time.map_or(0, |t| t.seconds) + offset).rem_euclid(86_400);
        lines.push(format!(
            "  {:02}:00  {:>5.1} °C  {:>4.1} mm  {:>3}%  {}",
            local / 3600,
            hour.temperature_c,
            hour.precipitation_mm,
            hour.precipitation_probability_percent,
            sky(hour.sky()),
        ));
    }
    for day in &forecast.daily {
        lines.push(format!(
            "  {}  {:>5.1} to {:>5.1} °C  {:>4.1} mm  {}",
            day.date,
            day.temperature_min_c,
            day.temperature_max_c,
            day.precipitation_mm,
            sky(day.sky()),
        ));
    }
    lines.join("\n")
}

//! The Open-Meteo provider: current conditions and forecasts from Open-Meteo's public
//! forecast API (https://open-meteo.com/en/docs, no key needed).
//!
//! One request per city fetches everything (current, 48+ hours, 7 days), with a time
//! limit, retried with exponential backoff when the failure may pass (time-outs, broken
//! connections, 429 and 5xx answers), and kept in a cache for at most `max_age`. Concurrent
//! calls for one city share one request. Failures become [`ProviderError`]s that say what
//! happened upstream.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::time::Instant;

use super::{
    City, Conditions, Sky,
    forecast::{DAYS, Day, Forecast, HOURS, Hour},
};

/// How many times one fetch is tried, and the wait before the second try (doubled after).
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

#[derive(Debug, Clone)]
pub struct OpenMeteoConfig {
    /// e.g. `https://api.open-meteo.com`; tests point it at a local replay server.
    pub base_url: String,
    pub timeout: Duration,
    pub max_age: Duration,
}

#[derive(Debug)]
pub struct OpenMeteo {
    http: reqwest::Client,
    config: OpenMeteoConfig,
    cache: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Cached>>>>>,
}

/// One city's last answer.
#[derive(Debug, Clone)]
struct Cached {
    fetched: Instant,
    weather: Arc<Fetched>,
}

/// Everything one request brings back, converted.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub current: Conditions,
    pub observed_at: DateTime<Utc>,
    pub forecast: Forecast,
}

impl OpenMeteo {
    pub fn new(config: OpenMeteoConfig) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("grpc-browser-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ProviderError(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self {
            http,
            config,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The city's weather, from the cache if fresh, else fetched.
    pub async fn weather(&self, city: &City) -> Result<Arc<Fetched>, ProviderError> {
        let slot = Arc::clone(
            self.cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(city.id.clone())
                .or_default(),
        );
        // Held across the fetch: a second caller for this city waits and then finds it fresh.
        let mut cached = slot.lock().await;
        if let Some(hit) = cached.as_ref()
            && hit.fetched.elapsed() <= self.config.max_age
        {
            return Ok(Arc::clone(&hit.weather));
        }
        let weather = Arc::new(self.fetch(city).await?);
        *cached = Some(Cached {
            fetched: Instant::now(),
            weather: Arc::clone(&weather),
        });
        Ok(weather)
    }

    async fn fetch(&self, city: &City) -> Result<Fetched, ProviderError> {
        let url = format!("{}/v1/forecast", self.config.base_url.trim_end_matches('/'));
        let query = [
            ("latitude", city.latitude.to_string()),
            ("longitude", city.longitude.to_string()),
            (
                "current",
                "temperature_2m,relative_humidity_2m,apparent_temperature,is_day,precipitation,\
                 weather_code,wind_speed_10m,wind_direction_10m"
                    .into(),
            ),
            (
                "hourly",
                "temperature_2m,precipitation,precipitation_probability,weather_code,is_day".into(),
            ),
            (
                "daily",
                "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum".into(),
            ),
            ("timezone", "auto".into()),
            ("timeformat", "unixtime".into()),
            // Today and two more: enough for 48 hours from any hour of today.
            ("forecast_days", "8".into()),
        ];
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.try_fetch(&url, &query).await {
                Ok(body) => return convert(body),
                Err(Failure::Permanent(reason)) => {
                    return Err(ProviderError(format!(
                        "Open-Meteo refused the request: {reason}"
                    )));
                }
                Err(Failure::Transient(reason)) if attempt >= ATTEMPTS => {
                    return Err(ProviderError(format!(
                        "Open-Meteo did not answer after {ATTEMPTS} attempts: {reason}"
                    )));
                }
                Err(Failure::Transient(reason)) => {
                    tracing::warn!(city = %city.id, attempt, %reason, "Open-Meteo failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    async fn try_fetch(&self, url: &str, query: &[(&str, String)]) -> Result<Body, Failure> {
        let response = self
            .http
            .get(url)
            .query(query)
            .send()
            .await
            .map_err(|error| Failure::Transient(describe(&error)))?;
        let status = response.status();
        if status.is_success() {
            return response.json::<Body>().await.map_err(|error| {
                Failure::Permanent(format!("unreadable answer: {}", describe(&error)))
            });
        }
        // Open-Meteo explains a refused request as `{"error": true, "reason": "..."}`.
        let reason = response.json::<ErrorBody>().await.map_or_else(
            |_| status.to_string(),
            |body| format!("{status}: {}", body.reason),
        );
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(Failure::Transient(reason))
        } else {
            Err(Failure::Permanent(reason))
        }
    }
}

enum Failure {
    /// Worth another try: the upstream may recover.
    Transient(String),
    /// Trying again gets the same answer.
    Permanent(String),
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            text = format!("{text}: {inner}");
            source = inner.source();
        }
        text
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    reason: String,
}

/// The documented response, as requested above (`timeformat=unixtime`).
#[derive(Debug, Deserialize)]
struct Body {
    utc_offset_seconds: i32,
    current: Current,
    hourly: Hourly,
    daily: Daily,
}

#[derive(Debug, Deserialize)]
struct Current {
    time: i64,
    /// Seconds the `precipitation` sum covers.
    interval: u32,
    temperature_2m: f64,
    relative_humidity_2m: f64,
    apparent_temperature: f64,
    is_day: u8,
    precipitation: f64,
    weather_code: u32,
    wind_speed_10m: f64,
    wind_direction_10m: f64,
}

#[derive(Debug, Deserialize)]
struct Hourly {
    time: Vec<i64>,
    temperature_2m: Vec<Option<f64>>,
    precipitation: Vec<Option<f64>>,
    precipitation_probability: Vec<Option<f64>>,
    weather_code: Vec<Option<u32>>,
    is_day: Vec<Option<u8>>,
}

#[derive(Debug, Deserialize)]
struct Daily {
    time: Vec<i64>,
    weather_code: Vec<Option<u32>>,
    temperature_2m_max: Vec<Option<f64>>,
    temperature_2m_min: Vec<Option<f64>>,
    precipitation_sum: Vec<Option<f64>>,
}

fn convert(body: Body) -> Result<Fetched, ProviderError> {
    let bad = |what: &str| ProviderError(format!("Open-Meteo answered without {what}"));
    let timestamp =
        |seconds: i64| DateTime::from_timestamp(seconds, 0).ok_or_else(|| bad("valid times"));
    let current = &body.current;
    let observed_at = timestamp(current.time)?;
    let per_hour = 3600.0 / f64::from(current.interval.max(1));
    let conditions = Conditions {
        temperature_c: current.temperature_2m,
        feels_like_c: current.apparent_temperature,
        humidity_percent: current.relative_humidity_2m.clamp(0.0, 100.0).round() as u32,
        wind_speed_kmh: current.wind_speed_10m,
        wind_direction_deg: current.wind_direction_10m.rem_euclid(360.0).round() as u32 % 360,
        sky: sky(current.weather_code),
        precipitation_mm_h: (current.precipitation * per_hour * 10.0).round() / 10.0,
        is_day: current.is_day == 1,
    };

    // The hours from the current one on.
    let this_hour = current.time - current.time.rem_euclid(3600);
    let h = &body.hourly;
    let mut hourly = Vec::with_capacity(HOURS);
    for (i, &time) in h.time.iter().enumerate() {
        if time < this_hour {
            continue;
        }
        if hourly.len() == HOURS {
            break;
        }
        let at = |values: &[Option<f64>]| values.get(i).copied().flatten();
        hourly.push(Hour {
            time: timestamp(time)?,
            temperature_c: at(&h.temperature_2m).ok_or_else(|| bad("hourly temperatures"))?,
            precipitation_mm: at(&h.precipitation).unwrap_or(0.0),
            precipitation_probability_percent: at(&h.precipitation_probability)
                .unwrap_or(0.0)
                .clamp(0.0, 100.0)
                .round() as u32,
            sky: sky(h.weather_code.get(i).copied().flatten().unwrap_or(0)),
            is_day: h.is_day.get(i).copied().flatten() == Some(1),
        });
    }
    if hourly.len() < HOURS {
        return Err(bad("48 hours of forecast"));
    }

    // Daily times are local midnights: the offset turns them into the local date.
    let d = &body.daily;
    let today =
        (observed_at + chrono::Duration::seconds(body.utc_offset_seconds.into())).date_naive();
    let mut daily = Vec::with_capacity(DAYS);
    for (i, &time) in d.time.iter().enumerate() {
        let date = DateTime::from_timestamp(time + i64::from(body.utc_offset_seconds), 0)
            .map(|t| t.date_naive())
            .ok_or_else(|| bad("valid dates"))?;
        if date < today || daily.len() == DAYS {
            continue;
        }
        let at = |values: &[Option<f64>]| values.get(i).copied().flatten();
        daily.push(Day {
            date,
            temperature_min_c: at(&d.temperature_2m_min).ok_or_else(|| bad("daily minimums"))?,
            temperature_max_c: at(&d.temperature_2m_max).ok_or_else(|| bad("daily maximums"))?,
            precipitation_mm: at(&d.precipitation_sum).unwrap_or(0.0),
            sky: sky(d.weather_code.get(i).copied().flatten().unwrap_or(0)),
        });
    }
    if daily.len() < DAYS {
        return Err(bad("7 days of forecast"));
    }
    Ok(Fetched {
        current: conditions,
        observed_at,
        forecast: Forecast {
            issued_at: observed_at,
            hourly,
            daily,
        },
    })
}

/// WMO weather interpretation codes, as Open-Meteo documents them.
fn sky(code: u32) -> Sky {
    match code {
        0 => Sky::Clear,
        1 | 2 => Sky::PartlyCloudy,
        3 => Sky::Cloudy,
        45 | 48 => Sky::Fog,
        51..=57 => Sky::Drizzle,
        61..=67 | 80..=82 => Sky::Rain,
        71..=77 | 85 | 86 => Sky::Snow,
        95..=99 => Sky::Thunderstorm,
        _ => Sky::Cloudy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response in Open-Meteo's documented shape (the fields requested above, as
    /// `timeformat=unixtime` gives them) for Berlin, UTC+1, at 2026-11-21 12:15 UTC. The
    /// integration tests replay the same file over HTTP.
    const SAMPLE: &str = include_str!("../../tests/fixtures/open-meteo-forecast.json");

    fn sample_body() -> serde_json::Value {
        serde_json::from_str(SAMPLE).expect("valid JSON")
    }

    #[test]
    fn a_documented_response_converts() {
        let body: Body = serde_json::from_value(sample_body()).expect("parses");
        let fetched = convert(body).expect("converts");
        assert_eq!(
            fetched.observed_at.to_rfc3339(),
            "2026-11-21T12:15:00+00:00"
        );
        assert_eq!(fetched.current.sky, Sky::Rain);
        assert_eq!(
            fetched.current.precipitation_mm_h, 1.2,
            "0.3 mm in 15 minutes"
        );
        assert_eq!(fetched.current.humidity_percent, 81);
        let hourly = &fetched.forecast.hourly;
        assert_eq!(hourly.len(), HOURS);
        assert_eq!(hourly[0].time.to_rfc3339(), "2026-11-21T12:00:00+00:00");
        assert_eq!(fetched.forecast.daily.len(), DAYS);
        assert_eq!(fetched.forecast.daily[0].date.to_string(), "2026-11-21");
        assert_eq!(fetched.forecast.daily[1].sky, Sky::Rain);
        assert_eq!(fetched.forecast.daily[3].sky, Sky::Snow);
        // A null probability reads as 0, not as a failure.
        assert!(
            hourly
                .iter()
                .all(|h| h.precipitation_probability_percent <= 100)
        );
    }

    #[test]
    fn too_short_a_response_is_an_error_not_a_panic() {
        let mut value = sample_body();
        value["hourly"]["time"] = serde_json::json!([]);
        let body: Body = serde_json::from_value(value).expect("parses");
        let error = convert(body).expect_err("no hours");
        assert_eq!(error.0, "Open-Meteo answered without 48 hours of forecast");
    }

    #[test]
    fn wmo_codes_map_to_skies() {
        assert_eq!(sky(0), Sky::Clear);
        assert_eq!(sky(2), Sky::PartlyCloudy);
        assert_eq!(sky(48), Sky::Fog);
        assert_eq!(sky(55), Sky::Drizzle);
        assert_eq!(sky(81), Sky::Rain);
        assert_eq!(sky(86), Sky::Snow);
        assert_eq!(sky(99), Sky::Thunderstorm);
    }
}

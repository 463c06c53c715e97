//! Forecasts: 48 hours hour by hour and 7 local days, whichever provider made them; and
//! the offline model's forecast, sampled from the same model as current conditions.

use chrono::{DateTime, Duration, DurationRound, NaiveDate, TimeZone, Utc};

use super::{City, Sky, conditions};

pub const HOURS: usize = 48;
pub const DAYS: usize = 7;

#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub issued_at: DateTime<Utc>,
    pub hourly: Vec<Hour>,
    pub daily: Vec<Day>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hour {
    /// The start of the hour.
    pub time: DateTime<Utc>,
    pub temperature_c: f64,
    pub precipitation_mm: f64,
    pub precipitation_probability_percent: u32,
    pub sky: Sky,
    pub is_day: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day {
    pub date: NaiveDate,
    pub temperature_min_c: f64,
    pub temperature_max_c: f64,
    pub precipitation_mm: f64,
    pub sky: Sky,
}

/// The model's forecast from `now`: each hour sampled every quarter hour (its
/// precipitation is the sum, its probability the share of quarters with any), each local
/// day summarised from its 24 hours.
pub fn model_forecast(city: &City, now: DateTime<Utc>) -> Forecast {
    let this_hour = now
        .duration_trunc(Duration::hours(1))
        .expect("an hour divides any instant");
    let hour_at = |start: DateTime<Utc>| {
        let quarters: Vec<_> = (0..4)
            .map(|q| conditions(city, start + Duration::minutes(15 * q)))
            .collect();
        let wet = quarters
            .iter()
            .filter(|c| c.precipitation_mm_h > 0.0)
            .count();
        Hour {
            time: start,
            temperature_c: quarters[0].temperature_c,
            // An hour with any rain shows at least 0.1 mm (a trace), so its amount and its
            // probability agree.
            precipitation_mm: if wet > 0 {
                round1(quarters.iter().map(|c| c.precipitation_mm_h / 4.0).sum()).max(0.1)
            } else {
                0.0
            },
            precipitation_probability_percent: (wet * 25) as u32,
            sky: quarters[0].sky,
            is_day: quarters[0].is_day,
        }
    };
    let hourly = (0..HOURS as i64)
        .map(|h| hour_at(this_hour + Duration::hours(h)))
        .collect();

    let today = now.with_timezone(&city.time_zone).date_naive();
    let daily = (0..DAYS as u64)
        .map(|d| {
            let date = today + chrono::Days::new(d);
            let midnight = city
                .time_zone
                .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map_or_else(
                    || date.and_time(chrono::NaiveTime::MIN).and_utc(),
                    |t| t.to_utc(),
                );
            let hours: Vec<Hour> = (0..24)
                .map(|h| hour_at(midnight + Duration::hours(h)))
                .collect();
            summarise(date, &hours)
        })
        .collect();
    Forecast {
        issued_at: now,
        hourly,
        daily,
    }
}

/// A day from its hours: extremes, total precipitation, and its sky: the most severe one
/// that lasted three hours or more, else the most common.
fn summarise(date: NaiveDate, hours: &[Hour]) -> Day {
    let temperatures = hours.iter().map(|h| h.temperature_c);
    let mut counts = [0_usize; 8];
    for hour in hours {
        counts[severity(hour.sky)] += 1;
    }
    let most_common = (0..counts.len()).max_by_key(|&i| (counts[i], usize::MAX - i));
    let lasting = (0..counts.len())
        .rev()
        .find(|&i| counts[i] >= 3 && i >= severity(Sky::Fog));
    Day {
        date,
        temperature_min_c: temperatures.clone().fold(f64::INFINITY, f64::min),
        temperature_max_c: temperatures.fold(f64::NEG_INFINITY, f64::max),
        precipitation_mm: round1(hours.iter().map(|h| h.precipitation_mm).sum()),
        sky: SKIES_BY_SEVERITY[lasting.or(most_common).unwrap_or(0)],
    }
}

const SKIES_BY_SEVERITY: [Sky; 8] = [
    Sky::Clear,
    Sky::PartlyCloudy,
    Sky::Cloudy,
    Sky::Fog,
    Sky::Drizzle,
    Sky::Rain,
    Sky::Snow,
    Sky::Thunderstorm,
];

fn severity(sky: Sky) -> usize {
    SKIES_BY_SEVERITY
        .iter()
        .position(|s| *s == sky)
        .unwrap_or(0)
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weather::Catalog;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 17, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn the_model_forecast_has_48_hours_from_this_hour_and_7_local_days() {
        let catalog = Catalog::embedded();
        let tokyo = catalog.get("tokyo-jp").expect("Tokyo");
        let now = at(2026, 11, 21, 20);
        let forecast = model_forecast(tokyo, now);
        assert_eq!(forecast.hourly.len(), HOURS);
        assert_eq!(
            forecast.hourly[0].time,
            at(2026, 11, 21, 20) - Duration::minutes(17)
        );
        assert!(
            forecast
                .hourly
                .windows(2)
                .all(|w| w[1].time - w[0].time == Duration::hours(1))
        );
        // 20:17 UTC is already the 22nd in Tokyo (UTC+9).
        let dates: Vec<String> = forecast.daily.iter().map(|d| d.date.to_string()).collect();
        assert_eq!(dates[0], "2026-11-22");
        assert_eq!(dates.len(), DAYS);
        for day in &forecast.daily {
            assert!(day.temperature_min_c <= day.temperature_max_c, "{day:?}");
            assert!(day.precipitation_mm >= 0.0);
        }
        for hour in &forecast.hourly {
            assert!(hour.precipitation_probability_percent <= 100);
            assert_eq!(
                hour.precipitation_mm > 0.0,
                hour.precipitation_probability_percent > 0,
                "{hour:?}"
            );
        }
        // Deterministic: the same instant gives the same forecast.
        assert_eq!(model_forecast(tokyo, now), forecast);
    }

    #[test]
    fn a_day_is_named_by_its_lasting_severe_weather_or_else_its_usual_sky() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        let hour = |sky, precipitation_mm| Hour {
            time: DateTime::UNIX_EPOCH,
            temperature_c: 1.0,
            precipitation_mm,
            precipitation_probability_percent: 0,
            sky,
            is_day: true,
        };
        let mut hours = vec![hour(Sky::Clear, 0.0); 20];
        hours.extend([hour(Sky::Rain, 1.0); 2]);
        hours.extend([hour(Sky::Thunderstorm, 4.0); 2]);
        assert_eq!(
            summarise(date, &hours).sky,
            Sky::Clear,
            "two hours do not name a day"
        );
        hours[0] = hour(Sky::Rain, 1.0);
        let day = summarise(date, &hours);
        assert_eq!(day.sky, Sky::Rain);
        assert_eq!(day.precipitation_mm, 11.0);
    }
}

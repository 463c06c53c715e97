//! The offline weather model: deterministic, plausible conditions for any city at any
//! instant, with no network and no stored state.
//!
//! Climate comes from latitude (annual mean and seasonal swing, hemispheres opposed), the
//! day from the sun's position at the city's longitude, and the weather itself from smooth
//! pseudo-random noise seeded by the city, so the same city at the same instant always gets
//! the same conditions, and nearby instants get nearby ones.

use std::f64::consts::TAU;

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::catalog::City;

/// Conditions as the model computes them; the service turns them into protobuf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    pub temperature_c: f64,
    pub feels_like_c: f64,
    pub humidity_percent: u32,
    pub wind_speed_kmh: f64,
    pub wind_direction_deg: u32,
    pub sky: Sky,
    pub precipitation_mm_h: f64,
    pub is_day: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sky {
    Clear,
    PartlyCloudy,
    Cloudy,
    Fog,
    Drizzle,
    Rain,
    Thunderstorm,
    Snow,
}

/// Weather systems pass in about six hours; small swings of temperature take a minute; wind
/// gusts come and go within seconds (which is what makes a live feed visibly live).
const SYNOPTIC_SECS: f64 = 6.0 * 3600.0;
const SWING_SECS: f64 = 60.0;
const GUST_SECS: f64 = 6.0;

/// Independent noise channels, so temperature, clouds and wind do not move together.
#[derive(Clone, Copy)]
enum Channel {
    Temperature = 1,
    Cloud,
    Rain,
    Wind,
    WindDirection,
    Gust,
    Flicker,
}

pub fn conditions(city: &City, at: DateTime<Utc>) -> Conditions {
    let seed = seed_of(&city.id);
    let t = at.timestamp() as f64 + f64::from(at.timestamp_subsec_millis()) / 1000.0;
    let noise = |channel: Channel, period: f64| smooth_noise(seed, channel, t / period);

    let lat = city.latitude;
    let day_of_year =
        f64::from(at.ordinal0()) + f64::from(at.num_seconds_from_midnight()) / 86_400.0;
    let utc_hours = f64::from(at.num_seconds_from_midnight()) / 3600.0;
    let solar_hour = (utc_hours + city.longitude / 15.0).rem_euclid(24.0);

    // Clouds first: they damp the daily swing.
    let cloud = (0.45 + 0.55 * noise(Channel::Cloud, SYNOPTIC_SECS)).clamp(0.0, 1.0);

    // Climate: warm equator, cold poles; summer peaks about 20 July in the north and
    // 20 January in the south, with a swing that grows with latitude.
    let annual_mean = 27.0 - 0.0055 * lat * lat;
    let seasonal_swing = 0.2 * lat.abs();
    let season = (TAU * (day_of_year - 200.0) / 365.25).cos() * lat.signum();
    // Coolest just before dawn, warmest mid-afternoon.
    let daily_swing = 2.5 + 4.5 * (1.0 - cloud);
    let daily = (TAU * (solar_hour - 15.0) / 24.0).cos();

    let temperature = annual_mean
        + seasonal_swing * season
        + daily_swing * daily
        + 3.5 * noise(Channel::Temperature, SYNOPTIC_SECS)
        + 0.3 * noise(Channel::Flicker, SWING_SECS);

    let rain_chance = noise(Channel::Rain, SYNOPTIC_SECS);
    let precipitation = if cloud > 0.6 && rain_chance > 0.1 {
        (rain_chance - 0.1) * 9.0 * cloud
    } else {
        0.0
    };

    let wind_base = 6.0 + 12.0 * (noise(Channel::Wind, SYNOPTIC_SECS) + 1.0);
    let wind = (wind_base * (1.0 + 0.25 * noise(Channel::Gust, GUST_SECS))).max(0.0);
    let wind_direction =
        (180.0 + 180.0 * noise(Channel::WindDirection, SYNOPTIC_SECS)).rem_euclid(360.0);

    // Radiation fog: a calm, overcast-ish, cool early morning without rain.
    let foggy = precipitation == 0.0
        && wind_base < 10.0
        && cloud > 0.6
        && temperature < 18.0
        && (4.0..9.0).contains(&solar_hour);

    let night_damp = 8.0 * (1.0 - daily) / 2.0;
    let mut humidity = 40.0 + 35.0 * cloud + night_damp - 0.4 * (temperature - 15.0).max(0.0);
    if precipitation > 0.0 {
        humidity = humidity.max(85.0);
    }
    if foggy {
        humidity = humidity.max(96.0);
    }
    let humidity = humidity.clamp(12.0, 100.0).round();

    let is_day = solar_elevation_deg(lat, day_of_year, solar_hour) > -0.833;
    let sky = if foggy {
        Sky::Fog
    } else {
        sky(temperature, cloud, precipitation)
    };

    Conditions {
        temperature_c: round1(temperature),
        feels_like_c: round1(feels_like(temperature, humidity, wind)),
        humidity_percent: humidity as u32,
        wind_speed_kmh: round1(wind),
        wind_direction_deg: wind_direction.round() as u32 % 360,
        sky,
        precipitation_mm_h: round1(precipitation),
        is_day,
    }
}

fn sky(temperature: f64, cloud: f64, precipitation: f64) -> Sky {
    if precipitation > 0.0 {
        if temperature <= 0.5 {
            Sky::Snow
        } else if temperature > 20.0 && precipitation > 3.5 {
            Sky::Thunderstorm
        } else if precipitation < 0.6 {
            Sky::Drizzle
        } else {
            Sky::Rain
        }
    } else if cloud > 0.75 {
        Sky::Cloudy
    } else if cloud > 0.35 {
        Sky::PartlyCloudy
    } else {
        Sky::Clear
    }
}

/// Wind chill when cold and windy, heat index when hot and humid (both the standard
/// NWS formulas), the air temperature otherwise.
fn feels_like(temperature: f64, humidity: f64, wind_kmh: f64) -> f64 {
    if temperature <= 10.0 && wind_kmh > 4.8 {
        let v = wind_kmh.powf(0.16);
        13.12 + 0.6215 * temperature - 11.37 * v + 0.3965 * temperature * v
    } else if temperature >= 27.0 && humidity >= 40.0 {
        let t = temperature * 9.0 / 5.0 + 32.0;
        let r = humidity;
        let f = -42.379 + 2.049_015_23 * t + 10.143_331_27 * r
            - 0.224_755_41 * t * r
            - 0.006_837_83 * t * t
            - 0.054_817_17 * r * r
            + 0.001_228_74 * t * t * r
            + 0.000_852_82 * t * r * r
            - 0.000_001_99 * t * t * r * r;
        (f - 32.0) * 5.0 / 9.0
    } else {
        temperature
    }
}

/// The sun's elevation above the horizon, from the declination on this day of the year
/// and the hour angle of the local solar time.
fn solar_elevation_deg(latitude: f64, day_of_year: f64, solar_hour: f64) -> f64 {
    let declination = 23.44_f64.to_radians() * (TAU * (284.0 + day_of_year) / 365.0).sin();
    let hour_angle = (15.0 * (solar_hour - 12.0)).to_radians();
    let lat = latitude.to_radians();
    (lat.sin() * declination.sin() + lat.cos() * declination.cos() * hour_angle.cos())
        .asin()
        .to_degrees()
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// FNV-1a of the city id: a stable seed (unlike `DefaultHasher`, which may change).
fn seed_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Value noise in [-1, 1]: a pseudo-random value at each integer `x`, smoothly
/// interpolated between them.
fn smooth_noise(seed: u64, channel: Channel, x: f64) -> f64 {
    let knot = x.floor();
    let frac = x - knot;
    let at = |k: f64| {
        lattice(
            seed ^ (channel as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            k as i64,
        )
    };
    let eased = frac * frac * (3.0 - 2.0 * frac);
    at(knot) + (at(knot + 1.0) - at(knot)) * eased
}

/// SplitMix64 of (seed, knot), mapped to [-1, 1].
fn lattice(seed: u64, knot: i64) -> f64 {
    let mut z = seed.wrapping_add((knot as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::weather::Catalog;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("valid date")
    }

    /// Mean temperature of a city over every hour of the 30 days from `start`.
    fn monthly_mean(city: &City, start: DateTime<Utc>) -> f64 {
        let hours = 30 * 24;
        (0..hours)
            .map(|h| conditions(city, start + chrono::Duration::hours(h)).temperature_c)
            .sum::<f64>()
            / hours as f64
    }

    #[test]
    fn same_city_and_instant_give_the_same_conditions() {
        let catalog = Catalog::embedded();
        let paris = catalog.get("paris-fr").expect("Paris");
        assert_eq!(
            conditions(paris, at(2026, 3, 1, 12)),
            conditions(paris, at(2026, 3, 1, 12))
        );
    }

    #[test]
    fn seasons_are_opposite_in_the_two_hemispheres() {
        let catalog = Catalog::embedded();
        let oslo = catalog.get("oslo-no").expect("Oslo");
        let sydney = catalog.get("sydney-au").expect("Sydney");
        assert!(
            monthly_mean(oslo, at(2026, 7, 1, 0)) > monthly_mean(oslo, at(2026, 1, 1, 0)) + 10.0
        );
        assert!(
            monthly_mean(sydney, at(2026, 1, 1, 0)) > monthly_mean(sydney, at(2026, 7, 1, 0)) + 5.0
        );
    }

    #[test]
    fn the_tropics_are_warmer_than_the_arctic() {
        let catalog = Catalog::embedded();
        let singapore = catalog.get("singapore-sg").expect("Singapore");
        let murmansk = catalog.get("murmansk-ru").expect("Murmansk");
        let start = at(2026, 1, 1, 0);
        let (hot, cold) = (
            monthly_mean(singapore, start),
            monthly_mean(murmansk, start),
        );
        assert!((24.0..32.0).contains(&hot), "Singapore in January: {hot}");
        assert!((-20.0..0.0).contains(&cold), "Tromsø in January: {cold}");
    }

    #[test]
    fn afternoons_are_warmer_than_dawns() {
        let catalog = Catalog::embedded();
        let madrid = catalog.get("madrid-es").expect("Madrid");
        // Madrid is near UTC-0.25h in solar time: 15:00 and 05:00 UTC are close enough.
        let (mut afternoon, mut dawn) = (0.0, 0.0);
        for day in 0..60 {
            let base = at(2026, 4, 1, 0) + chrono::Duration::days(day);
            afternoon += conditions(madrid, base + chrono::Duration::hours(15)).temperature_c;
            dawn += conditions(madrid, base + chrono::Duration::hours(5)).temperature_c;
        }
        assert!(
            afternoon > dawn + 60.0 * 3.0,
            "afternoon {afternoon} vs dawn {dawn}"
        );
    }

    #[test]
    fn every_city_stays_in_physical_ranges_and_changes_smoothly() {
        let catalog = Catalog::embedded();
        let start = at(2026, 1, 1, 0);
        let mut skies = std::collections::HashSet::new();
        // Every 10th city (about 500, every latitude band): the whole catalog takes long.
        for city in catalog.search("", catalog.len()).into_iter().step_by(10) {
            for step in 0..(365 * 4) {
                let instant = start + chrono::Duration::hours(step * 6);
                let now = conditions(&city, instant);
                let later = conditions(&city, instant + chrono::Duration::minutes(1));
                assert!(
                    (-60.0..55.0).contains(&now.temperature_c),
                    "{}: {now:?}",
                    city.id
                );
                assert!(now.humidity_percent <= 100);
                assert!(now.wind_speed_kmh >= 0.0 && now.wind_direction_deg < 360);
                assert!(now.precipitation_mm_h >= 0.0);
                assert!(
                    (now.temperature_c - later.temperature_c).abs() < 1.0,
                    "{}: jump",
                    city.id
                );
                skies.insert(format!("{:?}", now.sky));
            }
        }
        assert_eq!(
            skies.len(),
            8,
            "every kind of sky occurs somewhere: {skies:?}"
        );
    }

    #[test]
    fn day_and_night_follow_the_sun() {
        let catalog = Catalog::embedded();
        let tokyo = catalog.get("tokyo-jp").expect("Tokyo");
        // 03:00 UTC is noon in Tokyo; 15:00 UTC is midnight.
        assert!(conditions(tokyo, at(2026, 6, 1, 3)).is_day);
        assert!(!conditions(tokyo, at(2026, 6, 1, 15)).is_day);
        let murmansk = catalog.get("murmansk-ru").expect("Murmansk");
        // Midnight sun in June, polar night in December.
        assert!(conditions(murmansk, at(2026, 6, 21, 23)).is_day);
        assert!(!conditions(murmansk, at(2026, 12, 21, 11)).is_day);
    }

    #[test]
    fn feels_like_uses_wind_chill_and_heat_index() {
        assert!(feels_like(-5.0, 50.0, 30.0) < -10.0);
        assert!(feels_like(35.0, 60.0, 5.0) > 40.0);
        assert_eq!(feels_like(18.0, 50.0, 10.0), 18.0);
    }
}

//! The offline weather model: deterministic, plausible conditions for any city at any
//! instant, with no network and no stored state.
//!
//! Climate comes from the city's monthly normals (`climate.rs`: mean daily maximum and
//! minimum, precipitation and wet days, interpolated day by day); the day from the sun's
//! position at the city's longitude; the weather itself from smooth pseudo-random noise
//! seeded by the city, drawn around those normals, so the same city at the same instant
//! always gets the same conditions, nearby instants get nearby ones, and a month of them
//! averages out to the city's climate.

use std::f64::consts::TAU;

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::{catalog::City, climate::Season};

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
/// Rain comes in spells of a few hours.
const SHOWER_SECS: f64 = 2.0 * 3600.0;

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

/// How far the weather moves temperatures from the day's normal curve (°C, at the noise's
/// extremes): fronts, warm spells, cold snaps.
const SYNOPTIC_SWING_C: f64 = 3.0;

/// Hours of rain on a day that gets any: a wet day's rain falls in a few spells.
const RAIN_HOURS_PER_WET_DAY: f64 = 6.0;

pub fn conditions(city: &City, at: DateTime<Utc>) -> Conditions {
    let seed = seed_of(&city.id);
    let t = at.timestamp() as f64 + f64::from(at.timestamp_subsec_millis()) / 1000.0;
    let noise = |channel: Channel, period: f64| smooth_noise(seed, channel, t / period);

    let lat = city.latitude;
    let day_of_year =
        f64::from(at.ordinal0()) + f64::from(at.num_seconds_from_midnight()) / 86_400.0;
    let utc_hours = f64::from(at.num_seconds_from_midnight()) / 3600.0;
    let solar_hour = (utc_hours + city.longitude / 15.0).rem_euclid(24.0);
    let normal = city.normals.on(day_of_year);

    // Rain as often and as much as the month's normals say; the sky closes in as the rain
    // comes near, over minutes (a sudden overcast would jump the temperature with it).
    let Rain {
        mm_h: precipitation,
        closeness,
    } = rain(&normal, noise(Channel::Rain, SHOWER_SECS));
    let mut cloud = (0.45 + 0.55 * noise(Channel::Cloud, SYNOPTIC_SECS)).clamp(0.0, 1.0);
    cloud += (0.85 - cloud).max(0.0) * closeness;

    // The normal day runs from the mean minimum just before dawn to the mean maximum in
    // mid-afternoon; clear days swing wider than cloudy ones, the same on average.
    let mid = (normal.tmax_c + normal.tmin_c) / 2.0;
    let half_range = (normal.tmax_c - normal.tmin_c) / 2.0;
    let daily_swing = half_range * (0.6 + 0.8 * (1.0 - cloud)) / (0.6 + 0.8 * 0.55);
    let daily = (TAU * (solar_hour - 15.0) / 24.0).cos();

    let temperature = mid
        + daily_swing * daily
        + SYNOPTIC_SWING_C * noise(Channel::Temperature, SYNOPTIC_SECS)
        + 0.3 * noise(Channel::Flicker, SWING_SECS);

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

/// The rain at one instant: how much falls, and how near it is.
struct Rain {
    mm_h: f64,
    /// 0 far from rain, rising smoothly to 1 as it starts: the cloud it brings.
    closeness: f64,
}

/// How far below the rain threshold the rain channel's noise starts closing the sky in
/// (the noise moves about 0.01 a minute at most, so this takes ten minutes or more).
const RAIN_APPROACH: f64 = 0.15;

/// The rain for the rain channel's noise `r`: it rains in the share of hours the month's
/// wet days call for (the noise above its matching quantile), at a rate scaled so that
/// those hours bring the month's normal precipitation on average.
fn rain(normal: &Season, r: f64) -> Rain {
    let wet_share =
        (normal.wet_days * RAIN_HOURS_PER_WET_DAY / (24.0 * MONTH_DAYS)).clamp(0.0, 0.5);
    if wet_share <= 0.0 || normal.precipitation_mm <= 0.0 {
        return Rain {
            mm_h: 0.0,
            closeness: 0.0,
        };
    }
    let (threshold, mean_excess, wet_share) = NoiseQuantiles::get().above(wet_share);
    let near = ((r - threshold + RAIN_APPROACH) / RAIN_APPROACH).clamp(0.0, 1.0);
    let mm_h = if r > threshold {
        let mean_rate = normal.precipitation_mm / (wet_share * 24.0 * MONTH_DAYS);
        mean_rate * (r - threshold) / mean_excess
    } else {
        0.0
    };
    Rain {
        mm_h,
        closeness: near * near * (3.0 - 2.0 * near),
    }
}

const MONTH_DAYS: f64 = 365.25 / 12.0;

/// The distribution of [`smooth_noise`]'s values (the same for every seed and channel),
/// sampled once: which value it exceeds a given share of the time, and by how much on
/// average when it does.
struct NoiseQuantiles {
    sorted: Vec<f64>,
    /// `tail_sums[i]`: the sum of `sorted[i..]`.
    tail_sums: Vec<f64>,
}

impl NoiseQuantiles {
    const SAMPLES: usize = 1 << 16;

    fn get() -> &'static Self {
        static QUANTILES: std::sync::LazyLock<NoiseQuantiles> = std::sync::LazyLock::new(|| {
            // Irrational steps cover every position between the lattice's knots.
            let mut sorted: Vec<f64> = (0..NoiseQuantiles::SAMPLES)
                .map(|i| smooth_noise(0x5eed, Channel::Rain, i as f64 * 0.618_034))
                .collect();
            sorted.sort_by(f64::total_cmp);
            let mut tail_sums = vec![0.0; sorted.len() + 1];
            for i in (0..sorted.len()).rev() {
                tail_sums[i] = tail_sums[i + 1] + sorted[i];
            }
            NoiseQuantiles { sorted, tail_sums }
        });
        &QUANTILES
    }

    /// Fewest samples a tail is measured on: rarer shares are rounded up to it (rain
    /// about 40 minutes a month), so the mean excess is never a sliver.
    const MIN_TAIL: usize = 64;

    /// The value the noise exceeds `share` of the time, its mean excess over it then, and
    /// the share that threshold really gives (`share`, or the least one measured).
    fn above(&self, share: f64) -> (f64, f64, f64) {
        let n = self.sorted.len();
        let first = ((1.0 - share) * n as f64)
            .floor()
            .clamp(0.0, (n - Self::MIN_TAIL) as f64) as usize;
        let threshold = self.sorted[first];
        let tail = n - first;
        let mean = self.tail_sums[first] / tail as f64;
        (threshold, mean - threshold, tail as f64 / n as f64)
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

    fn days_in(month: u32) -> u32 {
        if month == 2 {
            28
        } else {
            30 + (month + month / 8) % 2
        }
    }

    /// A month of 2026 in `city`, each local solar day sampled hourly: the mean of the
    /// days' highest and lowest temperatures.
    fn highs_and_lows(city: &City, month: u32) -> (f64, f64) {
        let days = days_in(month);
        let offset = chrono::Duration::seconds((city.longitude / 15.0 * 3600.0) as i64);
        let (mut highs, mut lows) = (0.0, 0.0);
        for day in 1..=days {
            let midnight = at(2026, month, day, 0) - offset;
            let temperatures: Vec<f64> = (0..24)
                .map(|h| conditions(city, midnight + chrono::Duration::hours(h)).temperature_c)
                .collect();
            highs += temperatures.iter().copied().fold(f64::MIN, f64::max);
            lows += temperatures.iter().copied().fold(f64::MAX, f64::min);
        }
        (highs / f64::from(days), lows / f64::from(days))
    }

    /// The month's precipitation in `city` (mm), averaged over 2026 to 2030 as normals are
    /// averages of years (one month's rain varies far more than its temperatures). Sampled
    /// every 97 minutes: a step out of step with the noise's knots (every 2 hours for
    /// showers), which on the hour would see only the knots and their midpoints and
    /// overweight the noise's extremes.
    fn mean_precipitation(city: &City, month: u32) -> f64 {
        const STEP_MINUTES: i64 = 97;
        let years = 2026..2031;
        let steps = i64::from(days_in(month)) * 24 * 60 / STEP_MINUTES;
        let total: f64 = years
            .clone()
            .map(|year| {
                (0..steps)
                    .map(|step| {
                        let instant =
                            at(year, month, 1, 0) + chrono::Duration::minutes(STEP_MINUTES * step);
                        conditions(city, instant).precipitation_mm_h * STEP_MINUTES as f64 / 60.0
                    })
                    .sum::<f64>()
            })
            .sum();
        total / years.len() as f64
    }

    /// The climate groups a sample must cover (Köppen's main groups, roughly, from the
    /// normals): tropical, dry, temperate, cold-winter continental.
    fn climate_group(city: &City) -> &'static str {
        let n = &city.normals;
        let means: Vec<f64> = (0..12)
            .map(|m| f64::from(n.tmax_c[m] + n.tmin_c[m]) / 2.0)
            .collect();
        let coldest = means.iter().copied().fold(f64::MAX, f64::min);
        let warmest = means.iter().copied().fold(f64::MIN, f64::max);
        let rain: f32 = n.precipitation_mm.iter().sum();
        if rain < 300.0 {
            "dry"
        } else if coldest >= 18.0 {
            "tropical"
        } else if coldest <= -3.0 && warmest >= 10.0 {
            "continental"
        } else {
            "temperate"
        }
    }

    /// Where a city is, by its time zone's region.
    fn continent(city: &City) -> &'static str {
        match city.time_zone.name().split('/').next() {
            Some("Africa") => "Africa",
            Some("America") => "America",
            Some("Asia") => "Asia",
            Some("Australia" | "Pacific") => "Australia",
            Some("Europe") => "Europe",
            _ => "other",
        }
    }

    /// A sample of the catalog by a rule, not by hand: every 75th city by population (66
    /// cities), then the most populous city of each continent and of each climate group
    /// the first pass missed. Over each month of the year, the model's mean daily high and
    /// low are within 2 °C of each city's normals, and its wet months are wet and its dry
    /// months dry.
    #[test]
    fn each_city_follows_its_normals_month_by_month() {
        let catalog = Catalog::embedded();
        let by_population = catalog.search("", catalog.len());
        let mut sample: Vec<_> = by_population.iter().step_by(75).cloned().collect();
        for city in &by_population {
            let new_continent = !sample.iter().any(|c| continent(c) == continent(city));
            let new_group = !sample
                .iter()
                .any(|c| climate_group(c) == climate_group(city));
            if new_continent || new_group {
                sample.push(city.clone());
            }
        }
        assert!(sample.len() >= 50, "{} cities", sample.len());
        let continents: std::collections::BTreeSet<&str> =
            sample.iter().map(|city| continent(city)).collect();
        for continent in ["Africa", "America", "Asia", "Australia", "Europe"] {
            assert!(
                continents.contains(continent),
                "no city in {continent}: {continents:?}"
            );
        }
        let groups: std::collections::BTreeSet<&str> =
            sample.iter().map(|city| climate_group(city)).collect();
        assert_eq!(groups.len(), 4, "every climate group: {groups:?}");

        let mut failures = Vec::new();
        for city in &sample {
            let n = &city.normals;
            for month in 1..=12u32 {
                let m = month as usize - 1;
                let (high, low) = highs_and_lows(city, month);
                let rain = mean_precipitation(city, month);
                let (tmax, tmin) = (f64::from(n.tmax_c[m]), f64::from(n.tmin_c[m]));
                let normal_rain = f64::from(n.precipitation_mm[m]);
                if (high - tmax).abs() > 2.0 || (low - tmin).abs() > 2.0 {
                    failures.push(format!(
                        "{} month {month}: high {high:.1} (normal {tmax}), low {low:.1} (normal {tmin})",
                        city.id
                    ));
                }
                // Wet months wet (within a third of the normal, over five years), dry
                // months dry.
                let wet_and_off = normal_rain >= 50.0
                    && !(normal_rain * 2.0 / 3.0..=normal_rain * 1.5).contains(&rain);
                if wet_and_off || (normal_rain <= 10.0 && rain > 20.0) {
                    failures.push(format!(
                        "{} month {month}: {rain:.0} mm (normal {normal_rain})",
                        city.id
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Rain closes the sky in over minutes, not at once: the five most populous dry
    /// cities (where rain starts steepest), minute by minute through their wettest month,
    /// never move 1 °C in a minute, and rain does start in them.
    #[test]
    fn rain_arrives_without_a_jump_in_temperature() {
        let catalog = Catalog::embedded();
        let dry: Vec<_> = catalog
            .search("", catalog.len())
            .into_iter()
            .filter(|city| climate_group(city) == "dry")
            .take(5)
            .collect();
        assert_eq!(dry.len(), 5);
        let mut onsets = 0;
        for city in &dry {
            let rain = &city.normals.precipitation_mm;
            let wettest = (0..12)
                .max_by(|a, b| rain[*a].total_cmp(&rain[*b]))
                .expect("twelve months");
            let start = at(2026, wettest as u32 + 1, 1, 0);
            let mut before = conditions(city, start);
            for minute in 1..28 * 24 * 60 {
                let instant = start + chrono::Duration::minutes(minute);
                let now = conditions(city, instant);
                assert!(
                    (now.temperature_c - before.temperature_c).abs() < 1.0,
                    "{} at {instant}: {before:?} then {now:?}",
                    city.id
                );
                if before.precipitation_mm_h == 0.0 && now.precipitation_mm_h > 0.0 {
                    onsets += 1;
                }
                before = now;
            }
        }
        assert!(onsets > 0, "no rain started: the test saw no onset");
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

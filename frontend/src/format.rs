//! Formatting of values for display.

use proto::weather::v1::Sky;

/// `HH:MM:SS` at a UTC offset, from Unix seconds.
pub fn clock(unix_seconds: i64, utc_offset_seconds: i32) -> String {
    let seconds = (unix_seconds + i64::from(utc_offset_seconds)).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// `UTC+2`, `UTC−3:30`, `UTC`.
pub fn utc_offset(seconds: i32) -> String {
    if seconds == 0 {
        return "UTC".into();
    }
    let sign = if seconds > 0 { '+' } else { '−' };
    let minutes = seconds.unsigned_abs() / 60;
    match minutes % 60 {
        0 => format!("UTC{sign}{}", minutes / 60),
        rest => format!("UTC{sign}{}:{rest:02}", minutes / 60),
    }
}

/// Label and icon of a sky condition; night gets a moon instead of the sun.
pub fn sky(sky: Sky, is_day: bool) -> (&'static str, &'static str) {
    match sky {
        Sky::Clear if is_day => ("Clear", "☀️"),
        Sky::Clear => ("Clear", "🌙"),
        Sky::PartlyCloudy if is_day => ("Partly cloudy", "⛅"),
        Sky::PartlyCloudy => ("Partly cloudy", "☁️"),
        Sky::Cloudy => ("Cloudy", "☁️"),
        Sky::Fog => ("Fog", "🌫️"),
        Sky::Drizzle => ("Drizzle", "🌦️"),
        Sky::Rain => ("Rain", "🌧️"),
        Sky::Thunderstorm => ("Thunderstorm", "⛈️"),
        Sky::Snow => ("Snow", "🌨️"),
        Sky::Unspecified => ("Unknown", "❔"),
    }
}

/// The 16-point compass direction the wind comes from.
pub fn compass(degrees: u32) -> &'static str {
    const POINTS: [&str; 16] = [
        "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW",
        "NW", "NNW",
    ];
    POINTS[((degrees % 360) as usize * 2 + 22) / 45 % 16]
}

/// The short weekday name of a `YYYY-MM-DD` date (proleptic Gregorian).
pub fn weekday(date: &str) -> Option<&'static str> {
    const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const OFFSETS: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let mut parts = date.splitn(3, '-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Sakamoto's method.
    let y = if month < 3 { year - 1 } else { year };
    let index = (y + y / 4 - y / 100 + y / 400 + OFFSETS[(month - 1) as usize] + day).rem_euclid(7);
    Some(NAMES[index as usize])
}

/// A byte count for people: `512 B`, `1.5 KiB`, `3.2 MiB`. In whole numbers: formatting a
/// float pulls 9.6 KB of core's float printing into the app's first load.
pub fn bytes(count: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if count < 1024 {
        return format!("{count} B");
    }
    let (mut unit, mut scale) = (0, 1024_u128);
    while u128::from(count) >= scale * 1024 && unit < UNITS.len() - 1 {
        scale *= 1024;
        unit += 1;
    }
    let tenths = (u128::from(count) * 10 + scale / 2) / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_applies_the_offset_and_wraps_days() {
        assert_eq!(clock(0, 0), "00:00:00");
        assert_eq!(clock(3_661, 3_600), "02:01:01");
        assert_eq!(clock(60, -3_600), "23:01:00");
    }

    #[test]
    fn offsets_read_like_a_clock() {
        assert_eq!(utc_offset(0), "UTC");
        assert_eq!(utc_offset(7_200), "UTC+2");
        assert_eq!(utc_offset(19_800), "UTC+5:30");
        assert_eq!(utc_offset(-12_600), "UTC−3:30");
    }

    #[test]
    fn compass_points() {
        assert_eq!(compass(0), "N");
        assert_eq!(compass(11), "N");
        assert_eq!(compass(12), "NNE");
        assert_eq!(compass(90), "E");
        assert_eq!(compass(225), "SW");
        assert_eq!(compass(359), "N");
    }

    #[test]
    fn byte_counts_read_naturally() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(700_000), "683.6 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(bytes(1024 * 1024 - 1), "1024.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
        assert_eq!(bytes(u64::MAX), "16777216.0 TiB");
    }

    #[test]
    fn weekdays() {
        assert_eq!(weekday("2026-11-21"), Some("Sat"));
        assert_eq!(weekday("2024-02-29"), Some("Thu"));
        assert_eq!(weekday("2000-01-01"), Some("Sat"));
        assert_eq!(weekday("2026-13-01"), None);
        assert_eq!(weekday("nonsense"), None);
    }
}

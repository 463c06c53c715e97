//! Each city's climate: monthly normals (mean daily maximum and minimum, precipitation,
//! wet days), generated into `data/climate.tsv` by `data/make_climate.py` from ERA5 and
//! CHELSA climatologies (the script and the file's header say where each number comes
//! from, and which are estimates). The build compresses it into the binary beside the city
//! catalog. A city the file does not have (a catalog made in a test) gets normals from its
//! latitude alone: [`Normals::from_latitude`].

use std::{collections::HashMap, f64::consts::TAU, io::Read};

const CLIMATE_TSV_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/climate.tsv.gz"));

/// Average length of a month in days, and the day of the year (0-based) at the middle of
/// January: where each month's normal sits on the year's curve.
const MONTH_DAYS: f64 = 365.25 / 12.0;
const MID_JANUARY: f64 = MONTH_DAYS / 2.0;

/// A city's monthly normals, January to December.
#[derive(Debug, Clone, PartialEq)]
pub struct Normals {
    /// Mean daily maximum temperature, °C.
    pub tmax_c: [f32; 12],
    /// Mean daily minimum temperature, °C.
    pub tmin_c: [f32; 12],
    /// Precipitation, mm in the month.
    pub precipitation_mm: [f32; 12],
    /// Days with at least 1 mm.
    pub wet_days: [u8; 12],
    /// The curve through the year whose monthly means are these normals.
    curve: Curve,
}

/// Values at the middle of each month such that, joined by straight lines, each month's
/// mean is its normal: a month's mean of such a line is `(k[m-1] + 6 k[m] + k[m+1]) / 8`,
/// so the normals themselves as the knots would pull every peak and trough a quarter of the
/// way towards its neighbours (a continental July 0.5 °C too cool, a dry month between wet
/// ones twice as wet).
#[derive(Debug, Clone, PartialEq)]
struct Curve {
    tmax_c: [f64; 12],
    tmin_c: [f64; 12],
    precipitation_mm: [f64; 12],
    wet_days: [f64; 12],
}

impl Curve {
    fn through(normals: [&[f64; 12]; 4]) -> Self {
        let [tmax, tmin, precipitation, wet] = normals.map(knots);
        // Where the curves would cross (a month with almost no daily range between two
        // with wide ones), the day has no range rather than an upside-down one.
        let (mut tmax_c, mut tmin_c) = (tmax, tmin);
        for m in 0..12 {
            if tmin_c[m] > tmax_c[m] {
                let mid = (tmin_c[m] + tmax_c[m]) / 2.0;
                (tmax_c[m], tmin_c[m]) = (mid, mid);
            }
        }
        Self {
            tmax_c,
            tmin_c,
            // Rain cannot go below nothing: there the month keeps a little more than its
            // normal.
            precipitation_mm: precipitation.map(|k| k.max(0.0)),
            wet_days: wet.map(|k| k.max(0.0)),
        }
    }
}

/// The knots for `means` (see [`Curve`]): Jacobi's iteration on the cyclic system, which
/// converges by a factor of 3 a step (the diagonal is three times the rest of its row).
fn knots(means: &[f64; 12]) -> [f64; 12] {
    let mut knots = *means;
    for _ in 0..12 {
        knots = std::array::from_fn(|m| {
            (means[m] - 0.125 * (knots[(m + 11) % 12] + knots[(m + 1) % 12])) / 0.75
        });
    }
    knots
}

/// The normals for one instant of the year: a curve through the middles of the months
/// whose monthly means are the normals ([`Curve`]), so the climate changes smoothly day by
/// day and a month of it averages to its normal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Season {
    pub tmax_c: f64,
    pub tmin_c: f64,
    pub precipitation_mm: f64,
    pub wet_days: f64,
}

impl Normals {
    /// The climate a latitude alone suggests (warm equator, cold poles, seasons opposite
    /// in the hemispheres, a 10 °C daily range, 60 mm on 10 days a month): the fallback
    /// for a city without normals.
    pub fn from_latitude(latitude: f64) -> Self {
        let annual_mean = 27.0 - 0.0055 * latitude * latitude;
        let seasonal_swing = 0.2 * latitude.abs();
        let mean = |month: usize| {
            let day = MID_JANUARY + MONTH_DAYS * month as f64;
            // Summer peaks about 20 July in the north and 20 January in the south.
            annual_mean + seasonal_swing * (TAU * (day - 200.0) / 365.25).cos() * latitude.signum()
        };
        Self::new(
            std::array::from_fn(|m| (mean(m) + 5.0) as f32),
            std::array::from_fn(|m| (mean(m) - 5.0) as f32),
            [60.0; 12],
            [10; 12],
        )
    }

    /// The normals given, January to December.
    pub fn new(
        tmax_c: [f32; 12],
        tmin_c: [f32; 12],
        precipitation_mm: [f32; 12],
        wet_days: [u8; 12],
    ) -> Self {
        let curve = Curve::through([
            &tmax_c.map(f64::from),
            &tmin_c.map(f64::from),
            &precipitation_mm.map(f64::from),
            &wet_days.map(f64::from),
        ]);
        Self {
            tmax_c,
            tmin_c,
            precipitation_mm,
            wet_days,
            curve,
        }
    }

    /// The normals on `day_of_year` (0-based, fractional).
    pub fn on(&self, day_of_year: f64) -> Season {
        let position = ((day_of_year - MID_JANUARY) / MONTH_DAYS).rem_euclid(12.0);
        let before = (position.floor() as usize).min(11);
        let after = (before + 1) % 12;
        let frac = position - before as f64;
        let mix = |knots: &[f64; 12]| knots[before] + (knots[after] - knots[before]) * frac;
        let curve = &self.curve;
        Season {
            tmax_c: mix(&curve.tmax_c),
            tmin_c: mix(&curve.tmin_c),
            precipitation_mm: mix(&curve.precipitation_mm),
            wet_days: mix(&curve.wet_days),
        }
    }
}

/// The embedded normals, by city id. Its validity is a unit test, so this cannot fail at
/// run time.
pub fn embedded() -> HashMap<String, Normals> {
    let mut tsv = String::new();
    flate2::read::GzDecoder::new(CLIMATE_TSV_GZ)
        .read_to_string(&mut tsv)
        .expect("the build compressed valid UTF-8");
    parse(&tsv).expect("data/climate.tsv is valid (checked by unit tests)")
}

/// Parses `id, tmax, tmin, precip, wet_days`, tab separated, each of the last four 12
/// comma-separated values (January to December); `#` starts a comment line, and the line
/// naming the columns is skipped.
pub fn parse(tsv: &str) -> Result<HashMap<String, Normals>, String> {
    let mut normals = HashMap::new();
    for (index, line) in tsv.lines().enumerate() {
        if line.starts_with('#') || line.starts_with("id\t") || line.trim().is_empty() {
            continue;
        }
        let (id, city) =
            parse_line(line).map_err(|error| format!("line {}: {error}", index + 1))?;
        if normals.insert(id.to_owned(), city).is_some() {
            return Err(format!("line {}: duplicate city '{id}'", index + 1));
        }
    }
    Ok(normals)
}

fn parse_line(line: &str) -> Result<(&str, Normals), String> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [id, tmax, tmin, precipitation, wet_days] = fields.as_slice() else {
        return Err(format!(
            "expected 5 tab-separated fields, found {}",
            fields.len()
        ));
    };
    let tmax_c = months(tmax, "tmax", -70.0..=60.0)?;
    let tmin_c = months(tmin, "tmin", -80.0..=50.0)?;
    if tmax_c.iter().zip(&tmin_c).any(|(max, min)| max < min) {
        return Err(format!("{id}: a month's tmax is below its tmin"));
    }
    let precipitation_mm = months(precipitation, "precip", 0.0..=5000.0)?;
    let wet = months(wet_days, "wet_days", 0.0..=31.0)?;
    Ok((
        id,
        Normals::new(tmax_c, tmin_c, precipitation_mm, wet.map(|days| days as u8)),
    ))
}

/// Twelve comma-separated values, each in `range`, into an array (no allocation: the
/// file has a quarter of a million of them).
fn months(
    field: &str,
    name: &str,
    range: std::ops::RangeInclusive<f32>,
) -> Result<[f32; 12], String> {
    let mut values = [0.0; 12];
    let mut count = 0;
    for value in field.split(',') {
        let parsed = value
            .parse::<f32>()
            .ok()
            .filter(|parsed| range.contains(parsed))
            .ok_or_else(|| format!("bad {name} value '{value}'"))?;
        if let Some(slot) = values.get_mut(count) {
            *slot = parsed;
        }
        count += 1;
    }
    if count == 12 {
        Ok(values)
    } else {
        Err(format!("{name}: expected 12 months, found {count}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_normals_are_valid_and_cover_every_city() {
        let normals = embedded();
        let catalog = super::super::Catalog::embedded();
        assert_eq!(normals.len(), catalog.len());
        for city in catalog.search("", catalog.len()) {
            assert!(normals.contains_key(&city.id), "{} has no normals", city.id);
        }
    }

    #[test]
    fn normals_change_smoothly_through_the_year_and_meet_at_new_year() {
        let tmax = [
            0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 10.0, 8.0, 6.0, 4.0, 2.0,
        ];
        let mut rain = [30.0; 12];
        rain[1] = 0.0;
        let normals = Normals::new(tmax, [-10.0; 12], rain, [5; 12]);
        // Each month's mean over the curve is its normal (within the iteration's error),
        // the peak included.
        for (m, normal) in tmax.iter().enumerate() {
            let start = MONTH_DAYS * m as f64;
            let mean = (0..1000)
                .map(|i| {
                    normals
                        .on(start + MONTH_DAYS * (f64::from(i) + 0.5) / 1000.0)
                        .tmax_c
                })
                .sum::<f64>()
                / 1000.0;
            assert!(
                (mean - f64::from(*normal)).abs() < 0.01,
                "month {m}: {mean} vs {normal}"
            );
        }
        // Rain never below nothing, even for a dry month between wet ones.
        assert!((0..3650).all(|i| normals.on(f64::from(i) / 10.0).precipitation_mm >= 0.0));
        // Late December leads into January.
        let (late, early) = (normals.on(364.9).tmax_c, normals.on(0.1).tmax_c);
        assert!((late - early).abs() < 0.05, "{late} vs {early}");
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let twelve = "1,1,1,1,1,1,1,1,1,1,1,1";
        let line = |tmax: &str| format!("x-xx\t{tmax}\t{twelve}\t{twelve}\t{twelve}\n");
        assert!(parse(&line(twelve)).is_ok());
        assert_eq!(
            parse(&format!("# header\n{}", line("1,1"))).expect_err("too few"),
            "line 2: tmax: expected 12 months, found 2"
        );
        assert_eq!(
            parse(&line("0,1,1,1,1,1,1,1,1,1,1,1")).expect_err("tmax < tmin"),
            "line 1: x-xx: a month's tmax is below its tmin"
        );
        assert!(parse(&line("x,1,1,1,1,1,1,1,1,1,1,1")).is_err());
    }
}

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
}

/// The normals for one instant of the year: the monthly values interpolated between the
/// middles of the months, so the climate changes smoothly day by day.
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
        Self {
            tmax_c: std::array::from_fn(|m| (mean(m) + 5.0) as f32),
            tmin_c: std::array::from_fn(|m| (mean(m) - 5.0) as f32),
            precipitation_mm: [60.0; 12],
            wet_days: [10; 12],
        }
    }

    /// The normals on `day_of_year` (0-based, fractional).
    pub fn on(&self, day_of_year: f64) -> Season {
        let position = ((day_of_year - MID_JANUARY) / MONTH_DAYS).rem_euclid(12.0);
        let before = (position.floor() as usize).min(11);
        let after = (before + 1) % 12;
        let frac = position - before as f64;
        let mix = |values: [f64; 2]| values[0] + (values[1] - values[0]) * frac;
        Season {
            tmax_c: mix([self.tmax_c[before], self.tmax_c[after]].map(f64::from)),
            tmin_c: mix([self.tmin_c[before], self.tmin_c[after]].map(f64::from)),
            precipitation_mm: mix(
                [self.precipitation_mm[before], self.precipitation_mm[after]].map(f64::from),
            ),
            wet_days: mix([self.wet_days[before], self.wet_days[after]].map(f64::from)),
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
        Normals {
            tmax_c,
            tmin_c,
            precipitation_mm,
            wet_days: wet.map(|days| days as u8),
        },
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
        let normals = Normals {
            tmax_c: [
                0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 10.0, 8.0, 6.0, 4.0, 2.0,
            ],
            tmin_c: [-10.0; 12],
            precipitation_mm: [30.0; 12],
            wet_days: [5; 12],
        };
        // The middle of a month is its normal; halfway between two, their mean.
        assert!((normals.on(MID_JANUARY).tmax_c - 0.0).abs() < 1e-9);
        assert!((normals.on(MID_JANUARY + 6.5 * MONTH_DAYS).tmax_c - 11.0).abs() < 1e-9);
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

//! The offline model beside each city's normals, season by season: the table in
//! BENCHMARKS.md ("The offline weather against the normals").
//!
//! `cargo run --release -p server --example climate -- new-york-city-us moscow-ru`
//!
//! It also says how long the embedded normals take to load (on stderr). For each city
//! and season (December to February, March to May, June to August,
//! September to November, of 2026), the mean of the model's daily highs and lows (each
//! local solar day sampled hourly) and the mean of the city's normals for those months.

use chrono::{Duration, TimeZone, Utc};
use server::weather::{Catalog, City, conditions};

const SEASONS: [(&str, [u32; 3]); 4] = [
    ("DJF", [12, 1, 2]),
    ("MAM", [3, 4, 5]),
    ("JJA", [6, 7, 8]),
    ("SON", [9, 10, 11]),
];

fn main() {
    // What the normals add to the server's start: decompressing and parsing them.
    let started = std::time::Instant::now();
    let normals = server::weather::climate::embedded();
    let parsed = started.elapsed();
    let started = std::time::Instant::now();
    let catalog = Catalog::embedded();
    eprintln!(
        "normals of {} cities parsed in {parsed:.1?}; the catalog with them in {:.1?}",
        normals.len(),
        started.elapsed()
    );
    let ids: Vec<String> = std::env::args().skip(1).collect();
    if ids.is_empty() {
        eprintln!("usage: climate CITY_ID...  (e.g. new-york-city-us moscow-ru)");
        std::process::exit(2);
    }
    println!("| City | Season | Model high / low (°C) | Normal high / low (°C) |");
    println!("| --- | --- | ---: | ---: |");
    for id in &ids {
        let Some(city) = catalog.get(id) else {
            eprintln!("no city '{id}'");
            std::process::exit(1);
        };
        for (name, months) in SEASONS {
            let (mut high, mut low, mut normal_high, mut normal_low) = (0.0, 0.0, 0.0, 0.0);
            for month in months {
                let (h, l) = highs_and_lows(city, month);
                high += h / 3.0;
                low += l / 3.0;
                normal_high += f64::from(city.normals.tmax_c[month as usize - 1]) / 3.0;
                normal_low += f64::from(city.normals.tmin_c[month as usize - 1]) / 3.0;
            }
            println!(
                "| {} | {name} | {high:.1} / {low:.1} | {normal_high:.1} / {normal_low:.1} |",
                city.name
            );
        }
    }
}

/// The mean of the days' highest and lowest temperatures over `month` of 2026.
fn highs_and_lows(city: &City, month: u32) -> (f64, f64) {
    let next = if month == 12 {
        (2027, 1)
    } else {
        (2026, month + 1)
    };
    let start = Utc
        .with_ymd_and_hms(2026, month, 1, 0, 0, 0)
        .single()
        .expect("a valid date");
    let end = Utc
        .with_ymd_and_hms(next.0, next.1, 1, 0, 0, 0)
        .single()
        .expect("a valid date");
    let days = (end - start).num_days();
    let offset = Duration::seconds((city.longitude / 15.0 * 3600.0) as i64);
    let (mut highs, mut lows) = (0.0, 0.0);
    for day in 0..days {
        let midnight = start + Duration::days(day) - offset;
        let temperatures: Vec<f64> = (0..24)
            .map(|hour| conditions(city, midnight + Duration::hours(hour)).temperature_c)
            .collect();
        highs += temperatures.iter().copied().fold(f64::MIN, f64::max);
        lows += temperatures.iter().copied().fold(f64::MAX, f64::min);
    }
    (highs / days as f64, lows / days as f64)
}

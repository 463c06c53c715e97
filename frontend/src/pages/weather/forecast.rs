//! The forecast: a 48-hour chart of temperature and precipitation, drawn as SVG by the
//! app, and a strip of the next 7 days.

use leptos::prelude::*;
use proto::weather::v1::{DailyForecast, Forecast, HourlyForecast};

use crate::{format, units::use_units};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 22.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 28.0;

/// Where each hour goes on the chart.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    /// (x, y) of each hour's temperature.
    points: Vec<(f64, f64)>,
    /// (x, y, height) of each hour's precipitation bar.
    bars: Vec<(f64, f64, f64)>,
    /// The temperatures at the top and bottom of the plot, °C.
    range: (f64, f64),
    /// The wettest hour the scale allows for, mm (at least 2, so drizzle stays small).
    rain_scale: f64,
}

fn layout(hours: &[HourlyForecast]) -> Layout {
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let temperatures = hours.iter().map(|h| h.temperature_c);
    let low = temperatures.clone().fold(f64::INFINITY, f64::min);
    let high = temperatures.fold(f64::NEG_INFINITY, f64::max);
    // At least 4 degrees of range, so a flat day does not look dramatic.
    let middle = (low + high) / 2.0;
    let half = ((high - low) / 2.0).max(2.0) + 1.0;
    let (bottom, top) = ((middle - half).floor(), (middle + half).ceil());
    let rain_scale = hours.iter().map(|h| h.precipitation_mm).fold(2.0, f64::max);
    let step = plot_width / (hours.len().max(2) - 1) as f64;
    let x = |i: usize| LEFT + i as f64 * step;
    let points = hours
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                x(i),
                TOP + (top - h.temperature_c) / (top - bottom) * plot_height,
            )
        })
        .collect();
    let bars = hours
        .iter()
        .enumerate()
        .filter(|(_, h)| h.precipitation_mm > 0.0)
        .map(|(i, h)| {
            // Rain uses the lower half of the plot at most.
            let height = h.precipitation_mm / rain_scale * plot_height / 2.0;
            (x(i), TOP + plot_height - height, height)
        })
        .collect();
    Layout {
        points,
        bars,
        range: (bottom, top),
        rain_scale,
    }
}

#[component]
pub fn HourlyChart(forecast: Forecast) -> impl IntoView {
    let units = use_units();
    let offset = forecast.utc_offset_seconds;
    let hours = forecast.hourly;
    let Layout {
        points,
        bars,
        range: (bottom, top),
        rain_scale,
    } = layout(&hours);
    let line = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let bar_width = (WIDTH - LEFT - RIGHT) / hours.len().max(1) as f64 * 0.7;
    // An hour label every 6 hours, at local time.
    let labels: Vec<(f64, String)> = hours
        .iter()
        .zip(&points)
        .filter(|(hour, _)| {
            let local = hour.time.map_or(0, |t| t.seconds) + i64::from(offset);
            local.rem_euclid(6 * 3600) < 3600
        })
        .map(|(hour, (x, _))| {
            let local = hour.time.map_or(0, |t| t.seconds);
            (*x, format::clock(local, offset)[..5].to_owned())
        })
        .collect();
    let summary = format!(
        "Next 48 hours: temperatures from {} to {}, {} hours with precipitation",
        units.get_untracked().temperature(points_low(&hours)),
        units.get_untracked().temperature(points_high(&hours)),
        bars.len()
    );
    let plot_bottom = HEIGHT - BOTTOM;

    view! {
        <figure class="chart">
            // Scrolls sideways on a phone rather than shrinking its labels.
            <div class="chart-scroll">
            <svg id="forecast-chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
                aria-label=summary data-hours=hours.len()>
                <line class="axis" x1=LEFT y1=plot_bottom x2=WIDTH - RIGHT y2=plot_bottom />
                <text class="tick" x=LEFT - 6.0 y=TOP + 4.0 text-anchor="end">
                    {move || units.get().degrees(top)}
                </text>
                <text class="tick" x=LEFT - 6.0 y=plot_bottom text-anchor="end">
                    {move || units.get().degrees(bottom)}
                </text>
                {labels.into_iter().map(|(x, label)| view! {
                    <line class="grid" x1=x y1=TOP x2=x y2=plot_bottom />
                    <text class="tick" x=x y=HEIGHT - 8.0 text-anchor="middle">{label}</text>
                }).collect_view()}
                <g class="rain">
                    {bars.into_iter().map(|(x, y, height)| view! {
                        <rect x=x - bar_width / 2.0 y=y width=bar_width height=height rx="1.5" />
                    }).collect_view()}
                </g>
                <polyline class="temperature-line" points=line />
            </svg>
            </div>
            <figcaption class="muted small">
                <span class="key temperature-key"></span> "Temperature "
                <span class="key rain-key"></span>
                {move || format!("Precipitation (bar height up to {})", units.get().precipitation(rain_scale))}
            </figcaption>
        </figure>
    }
}

fn points_low(hours: &[HourlyForecast]) -> f64 {
    hours
        .iter()
        .map(|h| h.temperature_c)
        .fold(f64::INFINITY, f64::min)
}

fn points_high(hours: &[HourlyForecast]) -> f64 {
    hours
        .iter()
        .map(|h| h.temperature_c)
        .fold(f64::NEG_INFINITY, f64::max)
}

#[component]
pub fn DailyStrip(days: Vec<DailyForecast>) -> impl IntoView {
    let units = use_units();
    view! {
        <ol id="daily" class="days">
            {days.into_iter().enumerate().map(|(index, day)| {
                let (label, icon) = format::sky(day.sky(), true);
                let name = if index == 0 {
                    "Today".to_owned()
                } else {
                    format::weekday(&day.date).unwrap_or("").to_owned()
                };
                view! {
                    <li class="day" data-date=day.date.clone()>
                        <span class="day-name">{name}</span>
                        <span class="day-icon" title=label aria-label=label>{icon}</span>
                        <span class="day-temps">
                            <strong>{move || units.get().degrees(day.temperature_max_c)}</strong>
                            " "
                            <span class="muted">{move || units.get().degrees(day.temperature_min_c)}</span>
                        </span>
                        <span class="muted small">{move || units.get().precipitation(day.precipitation_mm)}</span>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(temperature_c: f64, precipitation_mm: f64) -> HourlyForecast {
        HourlyForecast {
            temperature_c,
            precipitation_mm,
            ..Default::default()
        }
    }

    #[test]
    fn the_chart_spans_the_plot_and_scales_rain_to_the_wettest_hour() {
        let hours: Vec<_> = (0..48)
            .map(|i| hour(f64::from(i % 24), if i == 10 { 6.0 } else { 0.0 }))
            .collect();
        let chart = layout(&hours);
        assert_eq!(chart.points.len(), 48);
        assert_eq!(chart.points[0].0, LEFT);
        assert!((chart.points[47].0 - (WIDTH - RIGHT)).abs() < 1e-9);
        // Warmer is higher (a smaller y), and every point is inside the plot.
        assert!(chart.points[23].1 < chart.points[0].1);
        assert!(
            chart
                .points
                .iter()
                .all(|(_, y)| (TOP..=HEIGHT - BOTTOM).contains(y))
        );
        assert_eq!(chart.rain_scale, 6.0);
        assert_eq!(chart.bars.len(), 1);
        let (_, _, height) = chart.bars[0];
        assert!((height - (HEIGHT - TOP - BOTTOM) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_flat_day_still_has_a_range() {
        let chart = layout(&vec![hour(10.0, 0.0); 48]);
        assert!(chart.range.1 - chart.range.0 >= 4.0);
        assert!(chart.bars.is_empty());
        assert_eq!(chart.rain_scale, 2.0);
    }
}

//! The Weather page: search with autocomplete, a city's current conditions with live
//! updates (a server stream), its 48-hour chart and 7-day strip, and a dashboard of cities
//! that update live over one stream. The chosen city lives in the URL (`?city=paris-fr`),
//! so a link to a city works, and so does a link to one that does not exist. Units and
//! the dashboard's cities are remembered across visits.

mod dashboard;
mod forecast;
mod search;

use leptos::prelude::*;
use proto::weather::v1::{
    CurrentConditions, GetCurrentConditionsRequest, GetForecastRequest, WatchConditionsRequest,
};

use self::{
    dashboard::{Dashboard, MAX_CITIES, Watched},
    forecast::{DailyStrip, HourlyChart},
    search::CitySearch,
};
use crate::{
    api::{self, CallError},
    components::{ErrorBanner, Spinner},
    format,
    task::Task,
    units::{Units, use_units},
};

#[component]
pub fn WeatherPage() -> impl IntoView {
    let query = crate::route::query("city");
    let city_id = Memo::new(move |_| query.get().filter(|id| !id.is_empty()));
    Watched::provide();

    view! {
        <div class="page-head">
            <h1>"Weather"</h1>
            <UnitsSwitch />
        </div>
        <p class="lead">
            "Current conditions and forecasts are unary calls; live updates are server "
            "streams that one producer per city feeds to every watcher."
        </p>
        <CitySearch />
        {move || match city_id.get() {
            Some(id) => view! { <CityWeather city_id=id /> }.into_any(),
            None => view! {
                <section class="card empty">
                    <p class="muted">"Search for a city above to see its weather."</p>
                </section>
            }.into_any(),
        }}
        <Dashboard />
    }
}

#[component]
fn UnitsSwitch() -> impl IntoView {
    let units = use_units();
    view! {
        <div class="units" role="group" aria-label="Units">
            <button id="units-metric" type="button" class="toggle"
                aria-pressed=move || (units.get() == Units::Metric).to_string()
                on:click=move |_| units.set(Units::Metric)>"°C, km/h"</button>
            <button id="units-imperial" type="button" class="toggle"
                aria-pressed=move || (units.get() == Units::Imperial).to_string()
                on:click=move |_| units.set(Units::Imperial)>"°F, mph"</button>
        </div>
    }
}

/// Whether the live stream is on, and how it is doing.
#[derive(Debug, Clone, PartialEq)]
enum Live {
    Off,
    Connecting,
    On,
    Failed(CallError),
}

#[component]
fn CityWeather(city_id: String) -> impl IntoView {
    // Stored, so the closures below that use it are `Copy`.
    let city_id = StoredValue::new(city_id);
    let current = LocalResource::new(move || {
        let city_id = city_id.get_value();
        async move {
            api::weather()
                .get_current_conditions(api::unary(GetCurrentConditionsRequest { city_id }))
                .await
                .map(tonic::Response::into_inner)
                .map_err(CallError::from)
        }
    });
    let live = RwSignal::new(Live::Off);
    let latest = RwSignal::new(None::<CurrentConditions>);
    let updates = RwSignal::new(0_u32);
    let task = Task::new();

    let start = move || {
        live.set(Live::Connecting);
        updates.set(0);
        let city_id = city_id.get_value();
        task.start(async move {
            let watch = async move {
                let mut stream = api::weather()
                    .watch_conditions(WatchConditionsRequest { city_id })
                    .await?
                    .into_inner();
                live.set(Live::On);
                while let Some(reading) = stream.message().await? {
                    latest.set(Some(reading));
                    updates.update(|n| *n += 1);
                }
                Err::<(), _>(tonic::Status::unavailable(
                    "the server ended the live stream",
                ))
            };
            if let Err(status) = watch.await {
                live.set(Live::Failed(status.into()));
            }
        });
    };
    let toggle = move |on: bool| {
        if on {
            start();
        } else {
            task.stop();
            live.set(Live::Off);
        }
    };

    // The newest reading: the stream's while it runs, the unary answer otherwise.
    let shown = move || {
        latest
            .get()
            .filter(|_| live.get() != Live::Off)
            .map(Ok)
            .or_else(|| current.get())
    };

    view! {
        <section class="card weather" id="weather-card">
            {move || match shown() {
                None => view! { <Spinner label="Loading conditions…" /> }.into_any(),
                Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
                Some(Ok(reading)) => view! { <Conditions reading /> }.into_any(),
            }}
            // Live updates only for a city the server knows.
            <Show when=move || matches!(current.get(), Some(Ok(_)))>
            <div class="live-bar">
                <label class="switch">
                    <input id="live-toggle" type="checkbox"
                        prop:checked=move || live.get() != Live::Off
                        on:change=move |event| toggle(event_target_checked(&event)) />
                    <span>"Live updates"</span>
                </label>
                <span id="live-status" class="status">
                    {move || match live.get() {
                        Live::Off => view! { <span class="muted">"off"</span> }.into_any(),
                        Live::Connecting => view! { <Spinner label="connecting…" /> }.into_any(),
                        Live::On => view! {
                            <span class="dot on" aria-hidden="true"></span>
                            <span id="live-count">{move || updates.get()}</span>
                            " updates received"
                        }.into_any(),
                        Live::Failed(error) => view! { <ErrorBanner error /> }.into_any(),
                    }}
                </span>
                <DashboardButton city_id=city_id.get_value() />
            </div>
            </Show>
        </section>
        <Show when=move || matches!(current.get(), Some(Ok(_)))>
            <CityForecast city_id=city_id.get_value() />
        </Show>
    }
}

/// Adds the city to the dashboard, or takes it off.
#[component]
fn DashboardButton(city_id: String) -> impl IntoView {
    let watched = Watched::use_context();
    let city_id = StoredValue::new(city_id);
    let on = move || watched.contains(&city_id.get_value());
    let full = move || watched.0.read().len() >= MAX_CITIES;
    view! {
        <button id="dashboard-toggle" type="button" class="secondary"
            aria-pressed=move || on().to_string()
            disabled=move || !on() && full()
            on:click=move |_| watched.toggle(&city_id.get_value())>
            {move || if on() { "★ On the dashboard" } else { "☆ Add to dashboard" }}
        </button>
    }
}

#[component]
fn CityForecast(city_id: String) -> impl IntoView {
    let forecast = LocalResource::new(move || {
        let city_id = city_id.clone();
        async move {
            api::weather()
                .get_forecast(api::unary(GetForecastRequest { city_id }))
                .await
                .map(tonic::Response::into_inner)
                .map_err(CallError::from)
        }
    });
    view! {
        <section class="card" id="forecast">
            <h2>"Next 48 hours"</h2>
            {move || match forecast.get() {
                None => view! { <Spinner label="Loading the forecast…" /> }.into_any(),
                Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
                Some(Ok(forecast)) => {
                    let days = forecast.daily.clone();
                    view! {
                        <HourlyChart forecast />
                        <h2>"Next 7 days"</h2>
                        <DailyStrip days />
                    }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn Conditions(reading: CurrentConditions) -> impl IntoView {
    let units = use_units();
    let city = reading.city.unwrap_or_default();
    let c = reading.conditions.unwrap_or_default();
    let offset = reading.utc_offset_seconds;
    let observed = reading.observed_at.map_or(0, |t| t.seconds);
    let (sky, icon) = format::sky(c.sky(), c.is_day);

    view! {
        <div class="conditions">
            <div class="place">
                <h2 id="city-name">{city.name.clone()}</h2>
                <p class="muted">
                    {[city.region.as_str(), city.country.as_str()]
                        .into_iter()
                        .filter(|part| !part.is_empty() && *part != city.name)
                        .collect::<Vec<_>>()
                        .join(", ")}
                    {format!(" · {} · {}", city.time_zone, format::utc_offset(offset))}
                </p>
            </div>
            <div class="now">
                <span class="icon" aria-hidden="true">{icon}</span>
                <span id="temperature" class="temperature">{move || units.get().temperature(c.temperature_c)}</span>
                <span id="sky" class="sky">{sky}</span>
            </div>
            <dl class="facts">
                <div><dt>"Feels like"</dt><dd>{move || units.get().temperature(c.feels_like_c)}</dd></div>
                <div><dt>"Humidity"</dt><dd>{format!("{}%", c.humidity_percent)}</dd></div>
                <div><dt>"Wind"</dt><dd id="wind">{move || format!("{} {}", units.get().speed(c.wind_speed_kmh), format::compass(c.wind_direction_deg))}</dd></div>
                <div><dt>"Precipitation"</dt><dd>{move || format!("{}/h", units.get().precipitation(c.precipitation_mm_h))}</dd></div>
            </dl>
            <p class="observed">
                "Observed at " <time id="observed-at">{format::clock(observed, offset)}</time>
                " local time"
            </p>
        </div>
    }
}

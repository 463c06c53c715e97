//! The Weather page: search the catalog, see a city's current conditions, and switch live
//! updates (a server stream) on and off. The chosen city lives in the URL (`?city=paris-fr`),
//! so a link to a city works, and so does a link to one that does not exist.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use proto::weather::v1::{
    CurrentConditions, GetCurrentConditionsRequest, SearchCitiesRequest, WatchConditionsRequest,
};

use crate::{
    api::{self, CallError},
    components::{ErrorBanner, Spinner},
    format,
    task::Task,
};

const SEARCH_LIMIT: u32 = 8;

#[component]
pub fn WeatherPage() -> impl IntoView {
    let query = use_query_map();
    let city_id = Memo::new(move |_| query.read().get("city").filter(|id| !id.is_empty()));

    view! {
        <h1>"Weather"</h1>
        <p class="lead">
            "Current conditions are a unary call; live updates are a server stream that one "
            "producer per city feeds to every watcher."
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
    }
}

#[component]
fn CitySearch() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let results = LocalResource::new(move || {
        let query = text.get();
        async move {
            api::weather()
                .search_cities(api::unary(SearchCitiesRequest {
                    query,
                    limit: SEARCH_LIMIT,
                }))
                .await
                .map(|response| response.into_inner().cities)
                .map_err(CallError::from)
        }
    });

    view! {
        <section class="card">
            <label class="field">
                <span>"City"</span>
                <input id="city-search" type="search" placeholder="Search 160+ cities, e.g. Paris"
                    autocomplete="off" bind:value=text />
            </label>
            <Show when=move || !text.read().trim().is_empty()>
                <div class="search-results">
                    {move || match results.get() {
                        None => view! { <Spinner label="Searching…" /> }.into_any(),
                        Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
                        Some(Ok(cities)) if cities.is_empty() => view! {
                            <p class="muted">"No city matches."</p>
                        }.into_any(),
                        Some(Ok(cities)) => view! {
                            <ul id="city-results" class="choices">
                                {cities.into_iter().map(|city| view! {
                                    <li>
                                        // A link, so the choice lands in the URL and history.
                                        <a class="choice" data-city=city.id.clone()
                                            href=format!("/weather?city={}", city.id)
                                            on:click=move |_| text.set(String::new())>
                                            {format!("{}, {}", city.name, city.country)}
                                        </a>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }}
                </div>
            </Show>
        </section>
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
            </div>
            </Show>
        </section>
    }
}

#[component]
fn Conditions(reading: CurrentConditions) -> impl IntoView {
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
                    {format!("{} · {} · {}", city.country, city.time_zone, format::utc_offset(offset))}
                </p>
            </div>
            <div class="now">
                <span class="icon" aria-hidden="true">{icon}</span>
                <span id="temperature" class="temperature">{format!("{:.1}°C", c.temperature_c)}</span>
                <span id="sky" class="sky">{sky}</span>
            </div>
            <dl class="facts">
                <div><dt>"Feels like"</dt><dd>{format!("{:.1}°C", c.feels_like_c)}</dd></div>
                <div><dt>"Humidity"</dt><dd>{format!("{}%", c.humidity_percent)}</dd></div>
                <div><dt>"Wind"</dt><dd>{format!("{:.1} km/h {}", c.wind_speed_kmh, format::compass(c.wind_direction_deg))}</dd></div>
                <div><dt>"Precipitation"</dt><dd>{format!("{:.1} mm/h", c.precipitation_mm_h)}</dd></div>
            </dl>
            <p class="observed">
                "Observed at " <time id="observed-at">{format::clock(observed, offset)}</time>
                " local time"
            </p>
        </div>
    }
}

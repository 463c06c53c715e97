//! The dashboard: several cities updating live over one Watch stream. Each card shows its
//! city's newest conditions and when they were observed; the stream's state shows on the
//! dashboard and on every card. When the stream breaks (the server restarts, the network
//! drops) the dashboard reconnects by itself, backing off from half a second to ten; a
//! stream silent for longer than three heartbeats counts as broken too.

use std::{collections::HashMap, time::Duration};

use futures_util::future::{Either, select};
use leptos::prelude::*;
use proto::weather::v1::{CurrentConditions, WatchRequest, watch_event};

use crate::{
    api::{self, CallError},
    components::ErrorBanner,
    format, storage,
    task::{Task, sleep},
    units::use_units,
};

/// The server's Watch limit.
pub const MAX_CITIES: usize = 20;
const KEY: &str = "dashboard";
/// The server's default heartbeat is 15 s: three missed mean the stream is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(45);
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// The watched cities, in the order added, remembered across visits.
#[derive(Debug, Clone, Copy)]
pub struct Watched(pub RwSignal<Vec<String>>);

impl Watched {
    pub fn provide() -> Self {
        let ids: Vec<String> = storage::get(KEY)
            .map(|saved| saved.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let watched = Self(RwSignal::new(ids));
        Effect::new(move || storage::set(KEY, &watched.0.get().join(",")));
        provide_context(watched);
        watched
    }

    pub fn use_context() -> Self {
        use_context::<Self>().expect("the weather page provides the dashboard")
    }

    pub fn contains(self, id: &str) -> bool {
        self.0.read().iter().any(|watched| watched == id)
    }

    pub fn toggle(self, id: &str) {
        self.0.update(|ids| {
            if let Some(at) = ids.iter().position(|watched| watched == id) {
                ids.remove(at);
            } else if ids.len() < MAX_CITIES {
                ids.push(id.to_owned());
            }
        });
    }
}

/// How the dashboard's stream is doing.
#[derive(Debug, Clone, PartialEq)]
enum Link {
    Connecting,
    Live,
    /// Broken; the next attempt comes after `retry_in`.
    Reconnecting {
        retry_in: Duration,
        cause: CallError,
    },
    /// Refused for good (a bad city list): retrying would not help.
    Failed(CallError),
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let watched = Watched::use_context();
    let latest = RwSignal::new(HashMap::<String, CurrentConditions>::new());
    let link = RwSignal::new(Link::Connecting);
    let task = Task::new();

    // A new city list is a new stream.
    Effect::new(move || {
        let ids = watched.0.get();
        latest.update(|latest| latest.retain(|id, _| ids.contains(id)));
        if ids.is_empty() {
            task.stop();
            return;
        }
        task.start(follow(ids, latest, link));
    });

    view! {
        <section class="card" id="dashboard">
            <div class="dashboard-head">
                <h2>"Dashboard " <span class="badge">"one stream"</span></h2>
                <Show when=move || !watched.0.read().is_empty()>
                    <span id="dashboard-status" class="status" role="status">
                        {move || match link.get() {
                            Link::Connecting => "connecting…".to_owned(),
                            Link::Live => "live".to_owned(),
                            Link::Reconnecting { retry_in, .. } => {
                                format!("reconnecting in {:.1} s…", retry_in.as_secs_f64())
                            }
                            Link::Failed(_) => "stopped".to_owned(),
                        }}
                    </span>
                </Show>
            </div>
            {move || match link.get() {
                Link::Failed(error) | Link::Reconnecting { cause: error, .. } => {
                    Some(view! { <ErrorBanner error /> })
                }
                _ => None,
            }}
            <Show when=move || watched.0.read().is_empty()>
                <p class="muted">"Add cities with “Add to dashboard” to follow them live, all over one stream."</p>
            </Show>
            <ul class="tiles">
                <For each=move || watched.0.get() key=|id| id.clone() let(id)>
                    <Tile id latest link />
                </For>
            </ul>
        </section>
    }
}

/// One watched city.
#[component]
fn Tile(
    id: String,
    latest: RwSignal<HashMap<String, CurrentConditions>>,
    link: RwSignal<Link>,
) -> impl IntoView {
    let units = use_units();
    let watched = Watched::use_context();
    let id = StoredValue::new(id);
    let reading = move || latest.read().get(&id.get_value()).cloned();
    view! {
        <li class="tile" data-city=id.get_value()
            class:stale=move || link.get() != Link::Live>
            {move || match reading() {
                None => view! {
                    <a class="tile-name" href=format!("/weather?city={}", id.get_value())>{id.get_value()}</a>
                    <span class="muted small">"waiting…"</span>
                }.into_any(),
                Some(reading) => {
                    let city = reading.city.clone().unwrap_or_default();
                    let c = reading.conditions.unwrap_or_default();
                    let (sky, icon) = format::sky(c.sky(), c.is_day);
                    let observed = reading.observed_at.map_or(0, |t| t.seconds);
                    view! {
                        <a class="tile-name" href=format!("/weather?city={}", city.id)>{city.name}</a>
                        <span class="tile-now">
                            <span aria-label=sky title=sky>{icon}</span>
                            <span class="tile-temperature">{move || units.get().temperature(c.temperature_c)}</span>
                        </span>
                        <span class="muted small">
                            <span class="dot" class:on=move || link.get() == Link::Live aria-hidden="true"></span>
                            "updated "
                            <time class="tile-updated">{format::clock(observed, reading.utc_offset_seconds)}</time>
                        </span>
                    }.into_any()
                }
            }}
            <button type="button" class="remove" aria-label=move || format!("Remove {} from the dashboard", id.get_value())
                on:click=move |_| watched.toggle(&id.get_value())>"×"</button>
        </li>
    }
}

/// Follows `ids` over one Watch stream for as long as the dashboard lives, reconnecting
/// whenever the stream breaks.
async fn follow(
    ids: Vec<String>,
    latest: RwSignal<HashMap<String, CurrentConditions>>,
    link: RwSignal<Link>,
) {
    let mut retry = FIRST_RETRY;
    loop {
        link.set(Link::Connecting);
        let error = match watch_once(ids.clone(), latest, link).await {
            Ok(never) => match never {},
            Err(error) => error,
        };
        if link.get_untracked() == Link::Live {
            // It had worked: start backing off afresh.
            retry = FIRST_RETRY;
        }
        if matches!(
            error.code,
            tonic::Code::InvalidArgument | tonic::Code::NotFound
        ) {
            link.set(Link::Failed(error));
            return;
        }
        link.set(Link::Reconnecting {
            retry_in: retry,
            cause: error,
        });
        sleep(retry).await;
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// One Watch call, until it breaks.
async fn watch_once(
    city_ids: Vec<String>,
    latest: RwSignal<HashMap<String, CurrentConditions>>,
    link: RwSignal<Link>,
) -> Result<std::convert::Infallible, CallError> {
    let mut stream = api::weather()
        .watch(WatchRequest { city_ids })
        .await?
        .into_inner();
    loop {
        let next = Box::pin(stream.message());
        let event = match select(next, Box::pin(sleep(SILENCE_LIMIT))).await {
            Either::Left((message, _)) => message?,
            Either::Right(((), _)) => {
                return Err(CallError::local(
                    tonic::Code::Unavailable,
                    "no heartbeat from the server: reconnecting",
                ));
            }
        };
        let Some(event) = event else {
            return Err(CallError::local(
                tonic::Code::Unavailable,
                "the server ended the stream",
            ));
        };
        if link.get_untracked() != Link::Live {
            link.set(Link::Live);
        }
        if let Some(watch_event::Event::Update(update)) = event.event
            && let Some(reading) = update.conditions
        {
            let id = reading
                .city
                .as_ref()
                .map(|city| city.id.clone())
                .unwrap_or_default();
            latest.update(|latest| {
                latest.insert(id, reading);
            });
        }
    }
}

//! City search with autocomplete: suggestions as you type, chosen with the mouse or the
//! keyboard (↓ ↑ to move, Enter to open, Escape to close), following the ARIA combobox
//! pattern so screen readers announce the active suggestion.

use leptos::{ev, prelude::*};
use proto::weather::v1::SearchCitiesRequest;

use crate::{
    api::{self, CallError},
    components::{ErrorBanner, Spinner},
};

const SUGGESTIONS: u32 = 8;

#[component]
pub fn CitySearch() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let open = RwSignal::new(false);
    // The suggestion the arrow keys point at.
    let active = RwSignal::new(None::<usize>);
    let results = LocalResource::new(move || {
        let query = text.get();
        async move {
            if query.trim().is_empty() {
                return Ok(Vec::new());
            }
            api::weather()
                .search_cities(api::unary(SearchCitiesRequest {
                    query,
                    limit: SUGGESTIONS,
                }))
                .await
                .map(|response| response.into_inner().cities)
                .map_err(CallError::from)
        }
    });
    let cities = move || results.get().and_then(Result::ok).unwrap_or_default();

    let choose = move |city_id: &str| {
        text.set(String::new());
        open.set(false);
        active.set(None);
        crate::route::navigate(&format!("/weather?city={city_id}"));
    };
    let on_keydown = move |event: ev::KeyboardEvent| {
        let count = cities().len();
        match event.key().as_str() {
            "ArrowDown" if count > 0 => {
                event.prevent_default();
                open.set(true);
                active.update(|a| *a = Some(a.map_or(0, |i| (i + 1) % count)));
            }
            "ArrowUp" if count > 0 => {
                event.prevent_default();
                active.update(|a| *a = Some(a.map_or(count - 1, |i| (i + count - 1) % count)));
            }
            "Enter" => {
                event.prevent_default();
                let list = cities();
                if let Some(city) = list.get(active.get_untracked().unwrap_or(0)) {
                    choose(&city.id);
                }
            }
            "Escape" => {
                open.set(false);
                active.set(None);
            }
            _ => {}
        }
    };

    view! {
        <section class="card search">
            <label class="field" for="city-search"><span>"City"</span></label>
            <input id="city-search" type="search" autocomplete="off" spellcheck="false"
                placeholder="Search 4,900+ cities, e.g. Zürich or sao paulo"
                role="combobox" aria-autocomplete="list" aria-controls="city-results"
                aria-expanded=move || (open.get() && !cities().is_empty()).to_string()
                aria-activedescendant=move || active.get().map(|i| format!("city-option-{i}"))
                prop:value=move || text.get()
                on:input=move |event| {
                    text.set(event_target_value(&event));
                    open.set(true);
                    active.set(None);
                }
                on:keydown=on_keydown />
            <Show when=move || open.get() && !text.read().trim().is_empty()>
                <div class="search-results">
                    {move || match results.get() {
                        None => view! { <Spinner label="Searching…" /> }.into_any(),
                        Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
                        Some(Ok(found)) if found.is_empty() => view! {
                            <p class="muted">"No city matches."</p>
                        }.into_any(),
                        Some(Ok(found)) => view! {
                            <ul id="city-results" class="suggestions" role="listbox">
                                {found.into_iter().enumerate().map(|(index, city)| {
                                    let place = [city.region.as_str(), city.country.as_str()]
                                        .into_iter()
                                        .filter(|part| !part.is_empty() && *part != city.name)
                                        .collect::<Vec<_>>()
                                        .join(", ");
                                    view! {
                                        <li role="option" id=format!("city-option-{index}")
                                            aria-selected=move || (active.get() == Some(index)).to_string()
                                            class:active=move || active.get() == Some(index)>
                                            // A link, so the choice lands in the URL and history.
                                            <a class="suggestion" data-city=city.id.clone() tabindex="-1"
                                                href=format!("/weather?city={}", city.id)
                                                on:click=move |_| {
                                                    text.set(String::new());
                                                    open.set(false);
                                                }>
                                                <span class="suggestion-name">{city.name.clone()}</span>
                                                <span class="muted small">{place}</span>
                                            </a>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }}
                </div>
            </Show>
        </section>
    }
}

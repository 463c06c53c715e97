//! Which page the address shows, and links that change it without reloading the app: the
//! browser's history (`pushState`, back and forward), the query's parameters, the nav's
//! current link.
//!
//! Written by hand rather than with `leptos_router`: the app needs one match on the path,
//! two query parameters and its links, and the router cost 57 KB of the 200 KB gzipped
//! budget for that, an eighth of the whole app (BENCHMARKS.md, "A router of the app's
//! own"). What it does is what `leptos_router` did for these pages: a click on a link to
//! one of the app's pages (same origin, no modifier key, no `target`, no `download`) is
//! taken by the app; any other link (`/openapi.json`, another site, an anchor on this
//! page) is the browser's. A new page starts at the top.

use leptos::{ev, prelude::*};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlAnchorElement;

/// The app's pages, by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Greeter,
    Weather,
    Chat,
    Files,
    Blog,
    /// `/blog/:id`
    Post(String),
    Api,
    Interop,
    NotFound,
}

impl Page {
    /// The page at `path` (the address's path, without its query).
    pub fn of(path: &str) -> Self {
        match path.trim_end_matches('/') {
            "" => Self::Greeter,
            "/weather" => Self::Weather,
            "/chat" => Self::Chat,
            "/files" => Self::Files,
            "/blog" => Self::Blog,
            "/api" => Self::Api,
            "/interop" => Self::Interop,
            other => match other.strip_prefix("/blog/") {
                Some(id) if !id.is_empty() && !id.contains('/') => Self::Post(decode(id)),
                _ => Self::NotFound,
            },
        }
    }
}

/// Where the page is: the address's path and its query (`?…`, or empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Location {
    path: String,
    search: String,
}

impl Location {
    fn current() -> Self {
        let location = window().location();
        Self {
            path: location.pathname().unwrap_or_default(),
            search: location.search().unwrap_or_default(),
        }
    }
}

thread_local! {
    // Reference-counted: it outlives every component that reads it.
    static LOCATION: ArcRwSignal<Location> = ArcRwSignal::new(Location::current());
}

fn location() -> ArcRwSignal<Location> {
    LOCATION.with(Clone::clone)
}

/// Follows the browser's back and forward buttons, and takes the clicks on links to the
/// app's pages. Called once, by the app.
pub fn start() {
    let location = location();
    // The handles are dropped without removing the listeners: they last as long as the page.
    let _ = window_event_listener(ev::popstate, move |_| location.set(Location::current()));
    let _ = window_event_listener(ev::click, on_click);
}

/// The page the address shows; changes only when another page is shown, not when the query
/// or the post's id stays the same.
pub fn page() -> Memo<Page> {
    let location = location();
    Memo::new(move |_| Page::of(&location.read().path))
}

/// The query parameter `key`, decoded; `None` when absent.
pub fn query(key: &'static str) -> Memo<Option<String>> {
    let location = location();
    Memo::new(move |_| {
        web_sys::UrlSearchParams::new_with_str(&location.read().search)
            .ok()?
            .get(key)
    })
}

/// Shows `href` (a path on this site, with its query if any) as a new entry in the
/// browser's history, at the top of the page.
pub fn navigate(href: &str) {
    let window = window();
    if let Ok(history) = window.history()
        && history
            .push_state_with_url(&JsValue::NULL, "", Some(href))
            .is_ok()
    {
        location().set(Location::current());
        window.scroll_to_with_x_and_y(0.0, 0.0);
    } else {
        // No history API: a full load still gets there.
        let _ = window.location().set_href(href);
    }
}

fn on_click(event: ev::MouseEvent) {
    if event.default_prevented()
        || event.button() != 0
        || event.meta_key()
        || event.ctrl_key()
        || event.shift_key()
        || event.alt_key()
    {
        return;
    }
    let Some(anchor) = event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .and_then(|element| element.closest("a[href]").ok().flatten())
        .and_then(|element| element.dyn_into::<HtmlAnchorElement>().ok())
    else {
        return;
    };
    if !matches!(anchor.target().as_str(), "" | "_self")
        || anchor.has_attribute("download")
        || anchor
            .rel()
            .split_ascii_whitespace()
            .any(|rel| rel == "external")
    {
        return;
    }
    let here = window().location();
    let (path, search, hash) = (anchor.pathname(), anchor.search(), anchor.hash());
    let in_page = !hash.is_empty()
        && here.pathname().is_ok_and(|here| here == path)
        && here.search().is_ok_and(|here| here == search);
    if here.origin().ok() != Some(anchor.origin()) || in_page || Page::of(&path) == Page::NotFound {
        return;
    }
    event.prevent_default();
    navigate(&format!("{path}{search}{hash}"));
}

/// `%`-escapes in a path segment decoded, as the browser encoded them; kept as they are if
/// they do not decode.
fn decode(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_owned();
    }
    js_sys::decode_uri_component(segment)
        .ok()
        .and_then(|decoded| decoded.as_string())
        .unwrap_or_else(|| segment.to_owned())
}

/// A link in the nav: `aria-current="page"` while its page, or with `exact` unset a page
/// under its path, is shown; pointing at it or focusing it starts loading its page's code.
#[component]
pub fn NavLink(
    href: &'static str,
    #[prop(optional)] exact: bool,
    children: Children,
) -> impl IntoView {
    let location = location();
    let current = move || {
        let location = location.read();
        let path = location.path.trim_end_matches('/');
        let active = if exact {
            path == href.trim_end_matches('/')
        } else {
            path.strip_prefix(href)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        active.then_some("page")
    };
    // The page's code starts to come before the click (`lazy::preload`).
    let intent = move || crate::lazy::preload(&Page::of(href));
    view! {
        <a href=href aria-current=current on:pointerenter=move |_| intent() on:focus=move |_| intent()>
            {children()}
        </a>
    }
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn each_path_shows_its_page() {
        for (path, page) in [
            ("/", Page::Greeter),
            ("", Page::Greeter),
            ("/weather", Page::Weather),
            ("/weather/", Page::Weather),
            ("/chat", Page::Chat),
            ("/files", Page::Files),
            ("/blog", Page::Blog),
            ("/blog/42", Page::Post("42".to_owned())),
            ("/blog/42/", Page::Post("42".to_owned())),
            ("/api", Page::Api),
            ("/interop", Page::Interop),
            ("/blog/42/comments", Page::NotFound),
            ("/openapi.json", Page::NotFound),
            ("/weatherx", Page::NotFound),
            ("/Weather", Page::NotFound),
        ] {
            assert_eq!(Page::of(path), page, "{path}");
        }
    }
}

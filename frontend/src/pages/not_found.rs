//! Shown for a path the app has no page for.

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is no page here. Try the " <a href="/">"Greeter"</a> " or the "
                <a href="/weather">"Weather"</a> "."</p>
        </section>
    }
}

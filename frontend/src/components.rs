//! Small views shared by the pages.

use leptos::prelude::*;

use crate::api::CallError;

/// A failed call: its gRPC code, message and details.
#[component]
pub fn ErrorBanner(error: CallError) -> impl IntoView {
    view! {
        <div class="error" role="alert">
            <span class="error-code">{error.code_name()}</span>
            <span class="error-message">{error.message}</span>
            <ul class="error-details">
                {error.details.into_iter().map(|detail| view! { <li>{detail}</li> }).collect_view()}
            </ul>
        </div>
    }
}

/// An inline "working on it" indicator.
#[component]
pub fn Spinner(#[prop(into)] label: String) -> impl IntoView {
    view! {
        <span class="spinner" role="status">
            <span class="spinner-dot" aria-hidden="true"></span>
            {label}
        </span>
    }
}

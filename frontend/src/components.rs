//! Small views shared by the pages.

use leptos::prelude::*;

use crate::api::{CallError, access_token};

/// A failed call: its gRPC code, message and details.
#[component]
pub fn ErrorBanner(error: CallError) -> impl IntoView {
    view! {
        <div class="error" role="alert">
            <span class="error-code">{error.code_name()}</span>
            <span class="error-message">{error.message}</span>
            <ul class="error-details">{crate::lazy::detail_items(error.details)}</ul>
        </div>
    }
}

/// A refused call that changes state: its error, and when the server wanted the token,
/// what to do (`then`: "send again", "upload again").
#[component]
pub fn RefusedBanner(error: CallError, then: &'static str) -> impl IntoView {
    let needs_token = matches!(
        error.code,
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
    );
    view! {
        <ErrorBanner error />
        {needs_token.then(|| view! {
            <p class="muted small">{format!("Save the server's access token above, then {then}.")}</p>
        })}
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

/// Saves (or forgets) the bearer token the interceptor sends.
#[component]
pub fn AccessToken() -> impl IntoView {
    let saved = RwSignal::new(access_token::load().is_some());
    let text = RwSignal::new(String::new());
    let save = move || {
        access_token::save(&text.get_untracked());
        text.set(String::new());
        saved.set(access_token::load().is_some());
    };

    view! {
        <section class="card">
            <form class="row" on:submit=move |event| {
                event.prevent_default();
                save();
            }>
                <label class="field grow">
                    <span>"Access token (sent as " <code>"authorization: Bearer …"</code> ")"</span>
                    <input id="token-input" type="password" autocomplete="off"
                        placeholder="the server's --auth-token" bind:value=text />
                </label>
                <button id="token-save" type="submit">"Save"</button>
                <button id="token-forget" type="button" class="secondary"
                    disabled=move || !saved.get()
                    on:click=move |_| {
                        access_token::save("");
                        saved.set(false);
                    }>"Forget"</button>
            </form>
            <p id="token-status" class="muted small">
                {move || if saved.get() {
                    "A token is saved in this browser and sent with every call."
                } else {
                    "No token saved: posting works only if the server requires none."
                }}
            </p>
        </section>
    }
}

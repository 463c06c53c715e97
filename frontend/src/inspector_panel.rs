//! The call inspector's panel: a toggle on every page, and the calls the page made (newest
//! first), each opening to its metadata and messages. Also where the transport is chosen.

use leptos::prelude::*;

use crate::{
    api::transport_setting,
    format::bytes,
    inspector::{Call, calls},
};

#[component]
pub fn InspectorPanel() -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <button id="inspector-toggle" type="button" class="inspector-toggle"
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|open| *open = !*open)>
            {move || if open.get() { "Hide calls" } else { "Calls" }}
            " (" {move || calls().read().len()} ")"
        </button>
        <Show when=move || open.get()>{crate::lazy::inspector_drawer()}</Show>
    }
}

/// The panel's list of calls, with the transport's choice: a chunk of its own, loaded when
/// the panel is first opened (`lazy.rs`).
pub fn drawer() -> AnyView {
    let transport = RwSignal::new(transport_setting::load());
    view! {
            <aside id="inspector" class="inspector" aria-label="Call inspector">
                <div class="row">
                    <h2 class="grow">"Calls"</h2>
                    <label class="field">
                        <span>"Transport"</span>
                        <select id="transport-select"
                            prop:value=move || transport.get()
                            on:change=move |event| {
                                let value = event_target_value(&event);
                                transport_setting::save(&value);
                                transport.set(value);
                            }>
                            <option value=transport_setting::SOCKET>"WebSocket (grpc-ws): all four modes"</option>
                            <option value=transport_setting::FETCH>"gRPC-Web over fetch: unary, server streaming"</option>
                        </select>
                    </label>
                    <button id="inspector-clear" type="button" class="secondary"
                        on:click=move |_| calls().update(|calls| calls.clear())>"Clear"</button>
                </div>
                <ol id="inspector-calls" class="calls" reversed>
                    // Keyed by id: a row stays (open, if the user opened it) as its call goes on.
                    <For each=move || calls().with(|calls| calls.iter().rev().map(|call| call.id).collect::<Vec<_>>())
                        key=|id| *id
                        let(id)>
                        <CallRow id />
                    </For>
                </ol>
            </aside>
    }
    .into_any()
}

#[component]
fn CallRow(id: u64) -> impl IntoView {
    let call = move || calls().with(|calls| calls.iter().find(|call| call.id == id).cloned());
    let attribute =
        move |pick: fn(&Call) -> String| move || call().map(|call| pick(&call)).unwrap_or_default();
    view! {
        <li class="call"
            data-method=attribute(|call| call.method.clone())
            data-transport=attribute(|call| call.transport.to_owned())
            data-mode=attribute(|call| call.mode.map_or("?", proto::Mode::name).to_owned())
            data-status=attribute(|call| call.status.as_ref().map_or_else(|| "open".to_owned(), |(code, _, _)| code.clone()))>
            <details>{move || call().map(contents)}</details>
        </li>
    }
}

/// What a row shows of its call.
fn contents(call: Call) -> impl IntoView {
    let mode = call.mode.map_or("?", proto::Mode::name);
    let status = call
        .status
        .as_ref()
        .map_or_else(|| "open".to_owned(), |(code, _, _)| code.clone());
    let duration = call
        .duration
        .map(|ms| format!("{} ms", whole(ms)))
        .unwrap_or_default();
    let metadata = |entries: Vec<(String, String)>| {
        entries
            .into_iter()
            .map(|(name, value)| view! { <li><code>{name}</code> ": " {value}</li> })
            .collect_view()
    };
    let (message, details) = call
        .status
        .clone()
        .map(|(_, message, details)| (message, details))
        .unwrap_or_default();
    view! {
                <summary>
                    <code class="call-method">{call.method.clone()}</code>
                    " " <span class="badge">{mode}</span>
                    " " <span class="badge call-transport">{call.transport}</span>
                    " " <span class="call-status">{status}</span>
                    " " <span class="muted small call-counts">
                        {format!("↑{} ({}) ↓{} ({}) {duration}",
                            call.sent.0, bytes(call.sent.1 as u64),
                            call.received.0, bytes(call.received.1 as u64))}
                    </span>
                </summary>
                {(!message.is_empty() || !details.is_empty()).then(|| view! {
                    <p class="call-message">{message} <ul>{details.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}</ul></p>
                })}
                <h3>"Request metadata"</h3>
                <ul class="call-request-metadata">{metadata(call.request_metadata)}</ul>
                <h3>"Response metadata"</h3>
                <ul class="call-response-metadata">{metadata(call.response_metadata)}</ul>
                <h3>"Messages"</h3>
                <ol class="call-messages">
                    {call.messages.into_iter().map(|message| view! {
                        <li class=if message.outgoing { "sent" } else { "received" }>
                            {if message.outgoing { "↑ " } else { "↓ " }}
                            {bytes(message.size as u64)}
                            {message.compressed.then_some(" (gzip)")}
                            {format!(" at {} ms", whole(message.at))}
                        </li>
                    }).collect_view()}
                </ol>
                {(call.more != (0, 0)).then(|| view! {
                    <p class="muted small">{format!("and {} more sent, {} more received", call.more.0, call.more.1)}</p>
                })}
    }
}

/// Milliseconds to the nearest whole one, printed as an integer (see `format::bytes`).
fn whole(ms: f64) -> u64 {
    ms.round() as u64
}

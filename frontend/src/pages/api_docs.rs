//! The API page: the server's OpenAPI 3.1 document (`/openapi.json`, generated from the
//! protos) for people: every REST operation with its parameters, body and schemas, and
//! "try it", which calls the operation from this page with the saved access token and shows
//! the answer (a stream's events as they come).
//!
//! Read with the browser's own JSON (`JSON.parse`, walked with `Reflect`) and called with
//! `fetch`: no JSON library or API viewer in the web app, which has a size budget.

use leptos::{prelude::*, task::spawn_local};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, RequestInit, Response};

use crate::{
    api::access_token,
    components::{AccessToken, Spinner},
    task::Task,
};

const VERBS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// One REST operation, as the page shows it.
#[derive(Debug, Clone, PartialEq)]
struct Operation {
    id: String,
    verb: String,
    path: String,
    tag: String,
    summary: String,
    description: String,
    secured: bool,
    streaming: bool,
    parameters: Vec<Parameter>,
    /// The request body's schema, as JSON text, when it takes one.
    body: Option<String>,
    /// The success answer's schema, as JSON text.
    answer: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Parameter {
    name: String,
    location: String,
    required: bool,
    description: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Document {
    title: String,
    version: String,
    operations: Vec<Operation>,
    /// Schema name and its JSON text.
    schemas: Vec<(String, String)>,
}

#[component]
pub fn ApiPage() -> impl IntoView {
    let document = RwSignal::new(None::<Result<Document, String>>);
    spawn_local(async move {
        document.set(Some(load().await.map_err(describe)));
    });

    view! {
        <h1>"API"</h1>
        <p class="lead">
            "The gRPC methods with a " <code>"google.api.http"</code> " binding, as REST with "
            "JSON, from " <a href="/openapi.json">"/openapi.json"</a> " (also "
            <a href="/openapi.yaml">"/openapi.yaml"</a> "), generated from the protos."
        </p>
        <AccessToken />
        {move || match document.get() {
            None => view! { <Spinner label="loading the document…" /> }.into_any(),
            Some(Err(error)) => view! {
                <div class="error" role="alert">
                    <span class="error-message">{format!("Cannot load /openapi.json: {error}")}</span>
                </div>
            }.into_any(),
            Some(Ok(document)) => view! { <Reference document /> }.into_any(),
        }}
    }
}

#[component]
fn Reference(document: Document) -> impl IntoView {
    view! {
        <p id="api-title" class="muted">{format!("{} {}", document.title, document.version)}</p>
        <section class="card">
            <h2>"Operations"</h2>
            <ul id="api-operations" class="operations">
                {document.operations.into_iter().map(|operation| view! { <OperationView operation /> }).collect_view()}
            </ul>
        </section>
        <section class="card">
            <h2>"Schemas"</h2>
            <ul id="api-schemas" class="schemas">
                {document.schemas.into_iter().map(|(name, schema)| {
                    let key = name.clone();
                    view! {
                    <li>
                        <details data-schema=key>
                            <summary><code>{name}</code></summary>
                            <pre class="schema"><code>{schema}</code></pre>
                        </details>
                    </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn OperationView(operation: Operation) -> impl IntoView {
    let verb_class = format!("verb verb-{}", operation.verb);
    let Operation {
        id,
        verb,
        path,
        tag,
        summary,
        description,
        secured,
        streaming,
        parameters,
        body,
        answer,
    } = operation;
    let key = id.clone();
    view! {
        <li class="operation" data-operation-id=key>
            <details>
                <summary class="operation-summary">
                    <span class=verb_class>{verb.to_uppercase()}</span>
                    <code class="operation-path">{path.clone()}</code>
                    <span class="muted small">{summary}</span>
                    <Show when=move || secured><span class="badge" title="needs the access token">"token"</span></Show>
                    <Show when=move || streaming><span class="badge">"stream"</span></Show>
                </summary>
                <p class="muted small">{tag} " · " <code>{id}</code></p>
                <p class="description">{description}</p>
                <h3>"Answer"</h3>
                <pre class="schema"><code>{answer}</code></pre>
                <TryIt verb path parameters body streaming />
            </details>
        </li>
    }
}

/// The operation's inputs and a button that calls it from this page.
#[component]
fn TryIt(
    verb: String,
    path: String,
    parameters: Vec<Parameter>,
    body: Option<String>,
    streaming: bool,
) -> impl IntoView {
    let values: Vec<(Parameter, RwSignal<String>)> = parameters
        .into_iter()
        .map(|parameter| (parameter, RwSignal::new(String::new())))
        .collect();
    let values = StoredValue::new(values);
    let has_body = body.is_some();
    let body_text = RwSignal::new(if has_body {
        "{}".to_owned()
    } else {
        String::new()
    });
    let status = RwSignal::new(String::new());
    let output = RwSignal::new(String::new());
    let running = RwSignal::new(false);
    let task = Task::new();
    let (verb, path) = (StoredValue::new(verb), StoredValue::new(path));
    let send = move || {
        let url = values.with_value(|values| url_of(&path.get_value(), values));
        let body = has_body.then(|| body_text.get_untracked());
        status.set("calling…".into());
        output.set(String::new());
        running.set(true);
        let verb = verb.get_value();
        task.start(async move {
            let outcome = call(&verb, &url, body.as_deref(), streaming, status, output).await;
            if let Err(error) = outcome {
                status.set(format!("failed: {}", describe(error)));
            }
            running.set(false);
        });
    };

    view! {
        <form class="stack try-it" on:submit=move |event| {
            event.prevent_default();
            send();
        }>
            <h3>"Try it"</h3>
            {values.get_value().into_iter().map(|(parameter, value)| view! {
                <label class="field">
                    <span>
                        <code>{parameter.name.clone()}</code>
                        {format!(" ({}{})", parameter.location, if parameter.required { ", required" } else { "" })}
                        <span class="muted small">" " {parameter.description.clone()}</span>
                    </span>
                    <input type="text" data-param=parameter.name.clone() bind:value=value />
                </label>
            }).collect_view()}
            <Show when=move || has_body>
                <label class="field">
                    <span>"Body (JSON)"</span>
                    <textarea class="try-body" rows="4" bind:value=body_text></textarea>
                </label>
            </Show>
            <div class="row">
                <button class="try-send" type="submit" disabled=move || running.get()>"Send"</button>
                <Show when=move || running.get() && streaming>
                    <button class="try-stop secondary" type="button" on:click=move |_| {
                        task.stop();
                        running.set(false);
                        status.set("stopped".into());
                    }>"Stop"</button>
                </Show>
            </div>
            <p class="try-status muted small" aria-live="polite">{move || status.get()}</p>
            <pre class="try-output"><code>{move || output.get()}</code></pre>
            {body.map(|schema| view! {
                <details><summary class="muted small">"Body schema"</summary><pre class="schema"><code>{schema}</code></pre></details>
            })}
        </form>
    }
}

/// The operation's URL with the path variables and the query filled in.
fn url_of(template: &str, values: &[(Parameter, RwSignal<String>)]) -> String {
    let mut path = template.to_owned();
    let mut query = Vec::new();
    for (parameter, value) in values {
        let value = value.get_untracked();
        let encoded = String::from(js_sys::encode_uri_component(&value));
        if parameter.location == "path" {
            path = path.replace(&format!("{{{}}}", parameter.name), &encoded);
        } else if !value.is_empty() {
            query.push(format!("{}={encoded}", parameter.name));
        }
    }
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Calls `verb url`, showing the status and the body (a stream's chunks as they come).
async fn call(
    verb: &str,
    url: &str,
    body: Option<&str>,
    streaming: bool,
    status: RwSignal<String>,
    output: RwSignal<String>,
) -> Result<(), JsValue> {
    let headers = Headers::new()?;
    if body.is_some() {
        headers.set("content-type", "application/json")?;
    }
    if let Some(token) = access_token::load() {
        headers.set("authorization", &format!("Bearer {token}"))?;
    }
    if streaming {
        headers.set("accept", "application/x-ndjson")?;
    }
    // Aborted when this future is dropped (Stop, or leaving the page): the server sees the
    // client go and cancels the call.
    let controller = AbortController::new()?;
    let _abort = AbortOnDrop(controller.clone());
    let init = RequestInit::new();
    init.set_method(&verb.to_uppercase());
    init.set_headers(&headers);
    init.set_signal(Some(&controller.signal()));
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    status.set(format!("{} {}", response.status(), response.status_text()));
    let Some(stream) = response.body() else {
        return Ok(());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().dyn_into()?;
    let mut text = String::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&chunk, &"done".into())?.is_truthy() {
            break;
        }
        let bytes: js_sys::Uint8Array =
            js_sys::Reflect::get(&chunk, &"value".into())?.dyn_into()?;
        text.push_str(&String::from_utf8_lossy(&bytes.to_vec()));
        output.set(pretty(&text));
    }
    output.set(pretty(&text));
    Ok(())
}

struct AbortOnDrop(AbortController);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// JSON indented, or the text as it is (a stream's lines, an empty body).
fn pretty(text: &str) -> String {
    js_sys::JSON::parse(text)
        .ok()
        .and_then(|value| {
            js_sys::JSON::stringify_with_replacer_and_space(&value, &JsValue::NULL, &2.into()).ok()
        })
        .and_then(|text| text.as_string())
        .unwrap_or_else(|| text.to_owned())
}

async fn load() -> Result<Document, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_str("/openapi.json"))
        .await?
        .dyn_into()?;
    if !response.ok() {
        return Err(format!("{} {}", response.status(), response.status_text()).into());
    }
    let document = JsFuture::from(response.json()?).await?;
    parse(&document)
}

fn get(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn text(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}

fn keys(value: &JsValue) -> Vec<String> {
    match value.dyn_ref::<js_sys::Object>() {
        Some(object) => js_sys::Object::keys(object)
            .iter()
            .filter_map(|key| key.as_string())
            .collect(),
        None => Vec::new(),
    }
}

fn json_text(value: &JsValue) -> String {
    js_sys::JSON::stringify_with_replacer_and_space(value, &JsValue::NULL, &2.into())
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

fn parse(document: &JsValue) -> Result<Document, JsValue> {
    let info = get(document, "info");
    let paths = get(document, "paths");
    let mut operations = Vec::new();
    for path in keys(&paths) {
        let item = get(&paths, &path);
        for verb in VERBS {
            let operation = get(&item, verb);
            if operation.is_undefined() {
                continue;
            }
            let parameters = js_sys::Array::from(&get(&operation, "parameters"))
                .iter()
                .map(|parameter| Parameter {
                    name: text(&parameter, "name"),
                    location: text(&parameter, "in"),
                    required: get(&parameter, "required").is_truthy(),
                    description: text(&parameter, "description"),
                })
                .collect();
            let content = get(&get(&get(&operation, "responses"), "200"), "content");
            let streaming = !get(&content, "text/event-stream").is_undefined();
            let answer = if streaming {
                get(&get(&content, "application/x-ndjson"), "x-itemSchema")
            } else {
                get(&get(&content, "application/json"), "schema")
            };
            let body = get(
                &get(&get(&operation, "requestBody"), "content"),
                "application/json",
            );
            operations.push(Operation {
                id: text(&operation, "operationId"),
                verb: (*verb).to_owned(),
                path: path.clone(),
                tag: js_sys::Array::from(&get(&operation, "tags"))
                    .get(0)
                    .as_string()
                    .unwrap_or_default(),
                summary: text(&operation, "summary"),
                description: text(&operation, "description"),
                secured: !get(&operation, "security").is_undefined(),
                streaming,
                parameters,
                body: (!body.is_undefined()).then(|| json_text(&get(&body, "schema"))),
                answer: json_text(&answer),
            });
        }
    }
    operations.sort_by(|a, b| (&a.tag, &a.path).cmp(&(&b.tag, &b.path)));
    let schemas_value = get(&get(document, "components"), "schemas");
    let mut schemas: Vec<(String, String)> = keys(&schemas_value)
        .into_iter()
        .map(|name| {
            let schema = json_text(&get(&schemas_value, &name));
            (name, schema)
        })
        .collect();
    schemas.sort();
    Ok(Document {
        title: text(&info, "title"),
        version: text(&info, "version"),
        operations,
        schemas,
    })
}

fn describe(error: JsValue) -> String {
    error
        .as_string()
        .or_else(|| {
            error
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
        })
        .unwrap_or_else(|| "unknown error".into())
}

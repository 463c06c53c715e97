//! The Files page: the stored files (ListFiles), downloading one (a server stream, saved as
//! it completes), and uploading one (Upload, client streaming; from a browser the whole
//! file goes as one request body, since gRPC-Web cannot stream a request).

use leptos::{prelude::*, task::spawn_local};
use proto::files::v1::{
    DownloadRequest, FileHeader, FileInfo, ListFilesRequest, UploadRequest, upload_request,
};
use wasm_bindgen::JsCast;

use crate::{
    api::{self, CallError},
    components::{AccessToken, ErrorBanner, Spinner},
    format,
};

/// Bytes per Upload message (the server takes up to 1 MiB).
const CHUNK_BYTES: usize = 256 * 1024;
/// The most this page reads into memory to upload; the server may allow less.
const PAGE_MAX_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

#[component]
pub fn FilesPage() -> impl IntoView {
    // Bumped after an upload, to list again.
    let uploads = RwSignal::new(0_u32);
    view! {
        <h1>"Files"</h1>
        <p class="lead">
            "The seeds' file upload. Uploading is client streaming and needs the server's "
            "access token when it has one; downloading is a server stream."
        </p>
        <AccessToken />
        <UploadForm uploads />
        <FileList uploads />
    }
}

#[component]
fn UploadForm(uploads: RwSignal<u32>) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let upload = Action::new_local(move |(): &()| {
        let file = input
            .get_untracked()
            .and_then(|input| input.files())
            .and_then(|files| files.get(0));
        async move {
            let file = file.ok_or_else(|| local_error("choose a file first"))?;
            if file.size() > PAGE_MAX_BYTES {
                return Err(local_error(
                    "this file is too large to upload from a browser; `client files upload` streams any size the server allows",
                ));
            }
            let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
                .await
                .map_err(|_| local_error("the browser could not read the file"))?;
            let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
            let header = UploadRequest {
                part: Some(upload_request::Part::Header(FileHeader {
                    name: file.name(),
                    size: bytes.len() as u64,
                    ..Default::default()
                })),
            };
            let parts: Vec<UploadRequest> = std::iter::once(header)
                .chain(bytes.chunks(CHUNK_BYTES).map(|chunk| UploadRequest {
                    part: Some(upload_request::Part::Chunk(chunk.to_vec())),
                }))
                .collect();
            let stored = api::files()
                .upload(api::unary(futures_util::stream::iter(parts)))
                .await
                .map(tonic::Response::into_inner)
                .map_err(CallError::from)?;
            uploads.update(|n| *n += 1);
            Ok(stored)
        }
    });
    let (pending, outcome) = (upload.pending(), upload.value());

    view! {
        <section class="card">
            <h2>"Upload " <span class="badge">"client streaming"</span></h2>
            <form class="row" on:submit=move |event| {
                event.prevent_default();
                upload.dispatch(());
            }>
                <label class="field grow">
                    <span>"File"</span>
                    <input id="file-input" type="file" node_ref=input />
                </label>
                <button id="file-upload" type="submit" disabled=move || pending.get()>"Upload"</button>
            </form>
            <div id="upload-result" class="result" aria-live="polite">
                {move || match outcome.get() {
                    _ if pending.get() => view! { <Spinner label="Uploading…" /> }.into_any(),
                    None => view! {
                        <p class="muted small">
                            "A browser cannot stream a request over gRPC-Web, so the page reads "
                            "the file and sends its chunks as one request body; "
                            <code>"client files upload FILE"</code> " streams it as it reads. "
                            "Either way the file appears only once all of it has arrived."
                        </p>
                    }.into_any(),
                    Some(Ok(stored)) => view! {
                        <p class="reply">
                            "Stored " <strong id="upload-name">{stored.name}</strong>
                            {format!(" ({})", format::bytes(stored.size))}
                        </p>
                        <p class="muted small">"SHA-256 " <code id="upload-sha256">{stored.sha256}</code></p>
                    }.into_any(),
                    Some(Err(error)) => {
                        let needs_token = matches!(
                            error.code,
                            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
                        );
                        view! {
                            <ErrorBanner error />
                            <Show when=move || needs_token>
                                <p class="muted small">
                                    "Save the server's access token above, then upload again."
                                </p>
                            </Show>
                        }.into_any()
                    }
                }}
            </div>
        </section>
    }
}

fn local_error(message: &str) -> CallError {
    CallError {
        code: tonic::Code::InvalidArgument,
        message: message.to_owned(),
        details: Vec::new(),
    }
}

#[component]
fn FileList(uploads: RwSignal<u32>) -> impl IntoView {
    let listed = LocalResource::new(move || {
        uploads.track();
        async move {
            api::files()
                .list_files(api::unary(ListFilesRequest {}))
                .await
                .map(|response| response.into_inner().files)
                .map_err(CallError::from)
        }
    });

    view! {
        <section class="card">
            <h2>"Stored files"</h2>
            {move || match listed.get() {
                None => view! { <Spinner label="Listing…" /> }.into_any(),
                Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
                Some(Ok(files)) if files.is_empty() => view! {
                    <p id="no-files" class="muted">"No files yet."</p>
                }.into_any(),
                Some(Ok(files)) => view! {
                    <ul id="file-list" class="files">
                        {files.into_iter().map(|file| view! { <FileRow file /> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

/// A download's progress.
#[derive(Debug, Clone, PartialEq)]
enum Download {
    Idle,
    Receiving(u64),
    Saved,
    Failed(CallError),
}

#[component]
fn FileRow(file: FileInfo) -> impl IntoView {
    let state = RwSignal::new(Download::Idle);
    let name = StoredValue::new(file.name.clone());
    let size = file.size;
    let download = move || {
        state.set(Download::Receiving(0));
        spawn_local(async move {
            let name = name.get_value();
            let received = async {
                let mut chunks = api::files()
                    .download(DownloadRequest { name: name.clone() })
                    .await?
                    .into_inner();
                let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                while let Some(part) = chunks.message().await? {
                    bytes.extend_from_slice(&part.chunk);
                    state.set(Download::Receiving(bytes.len() as u64));
                }
                Ok::<_, tonic::Status>(bytes)
            };
            state.set(match received.await {
                Ok(bytes) => match save(&name, &bytes) {
                    Ok(()) => Download::Saved,
                    Err(()) => {
                        Download::Failed(local_error("the browser refused to save the file"))
                    }
                },
                Err(status) => Download::Failed(status.into()),
            });
        });
    };

    view! {
        <li class="file" data-name=file.name.clone()>
            <div class="file-info">
                <span class="file-name">{file.name.clone()}</span>
                <span class="muted small">
                    {format!("{} · SHA-256 {}…", format::bytes(file.size), file.sha256.get(..16).unwrap_or_default())}
                </span>
            </div>
            <span class="file-state small" aria-live="polite">
                {move || match state.get() {
                    Download::Idle => ().into_any(),
                    Download::Receiving(bytes) => view! {
                        <Spinner label=format!("{} of {}", format::bytes(bytes), format::bytes(size)) />
                    }.into_any(),
                    Download::Saved => view! { <span class="saved">"Saved"</span> }.into_any(),
                    Download::Failed(error) => view! { <ErrorBanner error /> }.into_any(),
                }}
            </span>
            <button type="button" class="secondary download"
                disabled=move || matches!(state.get(), Download::Receiving(_))
                on:click=move |_| download()>"Download"</button>
        </li>
    }
}

/// Hands `bytes` to the browser as a download named `name`.
fn save(name: &str, bytes: &[u8]) -> Result<(), ()> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts).map_err(drop)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(drop)?;
    let anchor = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.create_element("a").ok())
        .and_then(|element| element.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        .ok_or(())?;
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    // The download has its own reference by the time this runs.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(30),
    );
    Ok(())
}

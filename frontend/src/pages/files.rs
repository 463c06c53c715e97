//! The Files page: the stored files (ListFiles), downloading one (a server stream, saved as
//! it completes), and uploading one (Upload, client streaming over the page's socket: the
//! file is read a slice at a time as the stream's window allows, with progress, speed and
//! cancel; over gRPC-Web, the whole file as one request body).

use leptos::{prelude::*, task::spawn_local};
use proto::files::v1::{
    DownloadRequest, FileHeader, FileInfo, ListFilesRequest, UploadRequest, upload_request,
};
use wasm_bindgen::JsCast;

use crate::{
    api::{self, CallError},
    components::{AccessToken, ErrorBanner, RefusedBanner, Spinner},
    format,
    task::Task,
};

/// Bytes per Upload message (the server takes up to 1 MiB). The page holds about one of
/// these and one stream window (256 KiB) of the file at a time, whatever its size.
const CHUNK_BYTES: f64 = 128.0 * 1024.0;
/// Over gRPC-Web the file is read whole first (a `fetch` body cannot stream): at most this.
const FETCH_MAX_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

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

/// Where an upload is.
#[derive(Debug, Clone, PartialEq)]
enum Upload {
    Idle,
    /// Bytes handed to the stream so far, of the file's size; when it began (ms).
    Sending {
        sent: f64,
        size: f64,
        began: f64,
    },
    /// Everything sent; the server is checking and committing it.
    Finishing,
    Stored(FileInfo),
    Cancelled,
    Failed(CallError),
}

#[component]
fn UploadForm(uploads: RwSignal<u32>) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let state = RwSignal::new(Upload::Idle);
    let task = Task::new();
    let start = move || {
        let Some(file) = input
            .get_untracked()
            .and_then(|input| input.files())
            .and_then(|files| files.get(0))
        else {
            state.set(Upload::Failed(local_error("choose a file first")));
            return;
        };
        state.set(Upload::Sending {
            sent: 0.0,
            size: file.size(),
            began: js_sys::Date::now(),
        });
        task.start(async move {
            let stored = async {
                let parts = if api::transport_setting::load() == api::transport_setting::FETCH {
                    futures_util::StreamExt::boxed(whole(&file).await?)
                } else {
                    streamed(file, state)
                };
                api::files()
                    .upload(parts)
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(CallError::from)
            };
            state.set(match stored.await {
                Ok(stored) => {
                    uploads.update(|n| *n += 1);
                    Upload::Stored(stored)
                }
                Err(error) => Upload::Failed(error),
            });
        });
    };
    let sending = move || matches!(state.get(), Upload::Sending { .. } | Upload::Finishing);

    view! {
        <section class="card">
            <h2>"Upload " <span class="badge">"client streaming"</span></h2>
            <form class="row" on:submit=move |event| {
                event.prevent_default();
                start();
            }>
                <label class="field grow">
                    <span>"File"</span>
                    <input id="file-input" type="file" node_ref=input />
                </label>
                <button id="file-upload" type="submit" disabled=sending>"Upload"</button>
                <button id="upload-cancel" type="button" class="secondary" disabled=move || !sending()
                    on:click=move |_| {
                        if task.stop() {
                            state.set(Upload::Cancelled);
                        }
                    }>"Cancel"</button>
            </form>
            <div id="upload-result" class="result" aria-live="polite">
                {move || match state.get() {
                    Upload::Idle => view! {
                        <p class="muted small">
                            "The file streams to the server in 128 KiB chunks as the page reads "
                            "it, within the socket's flow control, so any size the server "
                            "allows goes and the page holds a few hundred KiB of it at a time. "
                            "It appears in the list only once all of it has arrived; a "
                            "cancelled upload leaves nothing."
                        </p>
                    }.into_any(),
                    Upload::Sending { sent, size, began } => {
                        let seconds = (js_sys::Date::now() - began) / 1000.0;
                        let speed = if seconds > 0.0 { sent / seconds } else { 0.0 };
                        view! {
                            <progress id="upload-progress" max=size value=sent></progress>
                            <p id="upload-speed" class="muted small">
                                {format!("{} of {} · {}/s", format::bytes(sent as u64),
                                    format::bytes(size as u64), format::bytes(speed as u64))}
                            </p>
                        }.into_any()
                    }
                    Upload::Finishing => view! { <Spinner label="All sent; the server is checking it…" /> }.into_any(),
                    Upload::Cancelled => view! {
                        <p id="upload-cancelled" class="muted">"Cancelled: the server dropped what it had of it."</p>
                    }.into_any(),
                    Upload::Stored(stored) => view! {
                        <p class="reply">
                            "Stored " <strong id="upload-name">{stored.name}</strong>
                            {format!(" ({})", format::bytes(stored.size))}
                        </p>
                        <p class="muted small">"SHA-256 " <code id="upload-sha256">{stored.sha256}</code></p>
                    }.into_any(),
                    Upload::Failed(error) => view! {
                        <RefusedBanner error then="upload again" />
                    }.into_any(),
                }}
            </div>
        </section>
    }
}

fn header(file: &web_sys::File) -> UploadRequest {
    UploadRequest {
        part: Some(upload_request::Part::Header(FileHeader {
            name: file.name(),
            size: file.size() as u64,
            ..Default::default()
        })),
    }
}

/// The upload as a stream that reads the next slice of the file only when the transport
/// asks for it: the socket's window paces the reading.
fn streamed(
    file: web_sys::File,
    state: RwSignal<Upload>,
) -> futures_util::stream::BoxStream<'static, UploadRequest> {
    use futures_util::StreamExt;
    let size = file.size();
    let first = header(&file);
    let chunks = futures_util::stream::unfold((file, 0.0), move |(file, offset)| async move {
        if offset >= size {
            state.update(|state| {
                if matches!(state, Upload::Sending { .. }) {
                    *state = Upload::Finishing;
                }
            });
            return None;
        }
        let end = (offset + CHUNK_BYTES).min(size);
        // A slice that cannot be read ends the stream early; the server then refuses the
        // upload for its size, and says so.
        let bytes = read(&file.slice_with_f64_and_f64(offset, end).ok()?)
            .await
            .ok()?;
        state.update(|state| {
            if let Upload::Sending { sent, .. } = state {
                *sent = end;
            }
        });
        Some((
            UploadRequest {
                part: Some(upload_request::Part::Chunk(bytes)),
            },
            (file, end),
        ))
    });
    // The browser's file and reads are not `Send`; the page has one thread, and the stream
    // never leaves it.
    futures_util::stream::iter([first])
        .chain(send_wrapper::SendWrapper::new(chunks.boxed_local()))
        .boxed()
}

/// Over gRPC-Web: the whole file, read first, as one request.
async fn whole(
    file: &web_sys::File,
) -> Result<futures_util::stream::Iter<std::vec::IntoIter<UploadRequest>>, CallError> {
    if file.size() > FETCH_MAX_BYTES {
        return Err(local_error(
            "over gRPC-Web the page must read the whole file first, and this one is larger than 256 MiB: switch Calls to the WebSocket transport, which streams it",
        ));
    }
    let bytes = read(file).await?;
    let parts: Vec<UploadRequest> = std::iter::once(header(file))
        .chain(
            bytes
                .chunks(CHUNK_BYTES as usize)
                .map(|chunk| UploadRequest {
                    part: Some(upload_request::Part::Chunk(chunk.to_vec())),
                }),
        )
        .collect();
    Ok(futures_util::stream::iter(parts))
}

async fn read(blob: &web_sys::Blob) -> Result<Vec<u8>, CallError> {
    let buffer = wasm_bindgen_futures::JsFuture::from(blob.array_buffer())
        .await
        .map_err(|_| local_error("the browser could not read the file"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

fn local_error(message: &str) -> CallError {
    CallError::local(tonic::Code::InvalidArgument, message)
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

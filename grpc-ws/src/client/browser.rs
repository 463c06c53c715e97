//! The socket in a browser: the page's `WebSocket` (binary frames as `ArrayBuffer`), its
//! events turned into frames for the calls, and a writer task on the page's event loop.

use std::{cell::RefCell, rc::Rc, sync::Arc};

use bytes::Bytes;
use futures_util::future::Either;
use tokio::sync::{mpsc, oneshot};
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{BinaryType, MessageEvent, WebSocket};

use super::{Socket, dispatch};
use crate::Frame;

pub(super) fn spawn(work: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(work);
}

/// Resolves after `duration`, on the page's timer.
pub(super) async fn sleep(duration: std::time::Duration) {
    let millis = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

pub(super) fn now_millis() -> f64 {
    js_sys::Date::now()
}

/// The event handlers, kept as long as the socket is used. Dropped, they are unhooked
/// first: the page would otherwise call a freed closure for events still to come (the
/// `close` after an `error`, or after our own `close()`).
struct Handlers {
    ws: WebSocket,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _open: Closure<dyn FnMut(web_sys::Event)>,
    _close: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for Handlers {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        self.ws.set_onmessage(None);
    }
}

pub(super) async fn connect(url: &str) -> Result<Arc<Socket>, tonic::Status> {
    let unavailable = |what: &str| tonic::Status::unavailable(format!("grpc-ws {url}: {what}"));
    // No subprotocol asked: the path is the version, and proxies that drop the header
    // (`trunk serve`'s) would make the browser refuse the answer.
    let ws = WebSocket::new(url).map_err(|_| unavailable("the page refused to open the socket"))?;
    ws.set_binary_type(BinaryType::Arraybuffer);
    let (out, mut queue) = mpsc::unbounded_channel::<Frame>();
    let shared = Socket::new(out);

    let (opened, is_open) = oneshot::channel::<bool>();
    let opened = Rc::new(RefCell::new(Some(opened)));
    let on_open = {
        let opened = Rc::clone(&opened);
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(opened) = opened.borrow_mut().take() {
                let _ = opened.send(true);
            }
        })
    };
    // The handlers do not keep the socket: it closes when nothing uses it.
    let on_close = {
        let (opened, shared) = (Rc::clone(&opened), Arc::downgrade(&shared));
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(opened) = opened.borrow_mut().take() {
                let _ = opened.send(false);
            }
            if let Some(shared) = shared.upgrade() {
                shared.fail_all(&tonic::Status::unavailable("the grpc-ws socket closed"));
            }
        })
    };
    let on_message = {
        let (shared, ws) = (Arc::downgrade(&shared), ws.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() else {
                return;
            };
            let bytes = Bytes::from(js_sys::Uint8Array::new(&buffer).to_vec());
            match crate::decode(bytes) {
                Ok(frame) => dispatch(&shared, frame),
                // Not the protocol: nothing on this socket can be trusted.
                Err(_) => {
                    let _ = ws.close();
                }
            }
        })
    };
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    ws.set_onerror(Some(on_close.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let handlers = Handlers {
        ws: ws.clone(),
        _message: on_message,
        _open: on_open,
        _close: on_close,
    };
    if !is_open.await.unwrap_or(false) {
        drop(handlers);
        let _ = ws.close();
        return Err(unavailable("the socket did not open"));
    }
    // The writer holds the page's socket and its handlers until the socket has ended
    // (broken, unanswered pings, or nothing uses it any more).
    let (ended, weak) = (Arc::clone(&shared.ended), Arc::downgrade(&shared));
    wasm_bindgen_futures::spawn_local(async move {
        let handlers = handlers;
        loop {
            let next = std::pin::pin!(queue.recv());
            let stop = std::pin::pin!(ended.wait());
            let Either::Left((Some(frame), _)) = futures_util::future::select(next, stop).await
            else {
                break;
            };
            if ws.send_with_u8_array(&crate::encode(&frame)).is_err() {
                break;
            }
        }
        // Calls still open hear it from here: the page's `close` event is unhooked.
        if let Some(shared) = weak.upgrade() {
            shared.fail_all(&tonic::Status::unavailable("the grpc-ws socket closed"));
        }
        drop(handlers);
        let _ = ws.close();
    });
    Ok(shared)
}

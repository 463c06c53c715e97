//! The socket in a browser: the page's `WebSocket` (binary frames as `ArrayBuffer`), its
//! events turned into frames for the calls, and a writer task on the page's event loop.

use std::{cell::RefCell, rc::Rc, sync::Arc};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{BinaryType, MessageEvent, WebSocket};

use super::{Socket, dispatch};
use crate::Frame;

pub(super) fn spawn(work: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(work);
}

/// The event handlers, kept as long as the socket is open (dropping them would unhook
/// them from the page).
struct Handlers {
    _message: Closure<dyn FnMut(MessageEvent)>,
    _open: Closure<dyn FnMut(web_sys::Event)>,
    _close: Closure<dyn FnMut(web_sys::Event)>,
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
    let on_close = {
        let (opened, shared) = (Rc::clone(&opened), Arc::clone(&shared));
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(opened) = opened.borrow_mut().take() {
                let _ = opened.send(false);
            }
            shared.fail_all(&tonic::Status::unavailable("the grpc-ws socket closed"));
        })
    };
    let on_message = {
        let (shared, ws) = (Arc::clone(&shared), ws.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
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
        _message: on_message,
        _open: on_open,
        _close: on_close,
    };
    if !is_open.await.unwrap_or(false) {
        return Err(unavailable("the socket did not open"));
    }
    // The writer holds the socket and its handlers until the calls stop using it.
    wasm_bindgen_futures::spawn_local(async move {
        let _handlers = handlers;
        while let Some(frame) = queue.recv().await {
            if ws.send_with_u8_array(&crate::encode(&frame)).is_err() {
                break;
            }
        }
        let _ = ws.close();
    });
    Ok(shared)
}

//! A background call the page can stop: one per stream on a page.

use std::future::Future;

use futures_util::future::{AbortHandle, Abortable};
use leptos::{prelude::*, task::spawn_local};

/// Runs one future at a time in the background, and stops it on demand or when the
/// component that made it goes away. Stopping drops the future mid-way: for a gRPC-Web
/// stream that aborts the `fetch`, and the server sees the call cancelled.
#[derive(Debug, Clone, Copy)]
pub struct Task(StoredValue<Option<AbortHandle>>);

impl Task {
    /// A task slot, stopped with the current component.
    pub fn new() -> Self {
        let task = Self(StoredValue::new(None));
        on_cleanup(move || {
            task.stop();
        });
        task
    }

    /// Stops the running future, if any; says whether one was running.
    pub fn stop(self) -> bool {
        match self.0.try_write_value().and_then(|mut slot| slot.take()) {
            Some(handle) => {
                handle.abort();
                true
            }
            None => false,
        }
    }

    /// Stops what runs, then runs `work` until it ends or is stopped. What `work` does
    /// after its last `.await` (setting a final state, say) happens only if not stopped.
    pub fn start(self, work: impl Future<Output = ()> + 'static) {
        self.stop();
        let (handle, registration) = AbortHandle::new_pair();
        self.0.set_value(Some(handle));
        spawn_local(async move {
            if Abortable::new(work, registration).await.is_ok() {
                // Ended by itself: nothing left to stop.
                self.0.try_set_value(None);
            }
        });
    }
}

/// Resolves after `duration`, on the browser's timer.
pub async fn sleep(duration: std::time::Duration) {
    let millis = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

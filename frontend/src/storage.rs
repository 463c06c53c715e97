//! What the page remembers across visits, in the browser's `localStorage`. Without storage
//! (private modes may refuse it) nothing is remembered and nothing fails.

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The value under `key`; `None` when unset or empty.
pub fn get(key: &str) -> Option<String> {
    local_storage()?
        .get_item(key)
        .ok()?
        .filter(|value| !value.is_empty())
}

/// Stores `value` under `key`; an empty value removes the key.
pub fn set(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        // A full or refused storage only means the value is not remembered.
        let _ = match value {
            "" => storage.remove_item(key),
            value => storage.set_item(key, value),
        };
    }
}

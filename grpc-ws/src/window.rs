//! A stream's send window: permits are DATA bytes the peer will accept. A sender takes what
//! is there (at least one byte, waiting for it), up to what it has to send, so a window
//! left smaller than a frame is still used rather than waited past.

use tokio::sync::Semaphore;

/// Waits for window, takes up to `want` bytes of it; `None` when the stream is gone.
pub async fn take(window: &Semaphore, want: u32) -> Option<u32> {
    window.acquire().await.ok()?.forget();
    let more = (want.saturating_sub(1) as usize).min(window.available_permits()) as u32;
    if more > 0 {
        window.try_acquire_many(more).ok()?.forget();
    }
    Some(1 + more)
}

/// Gives back `increment` bytes of window, never holding more than `limit`.
pub fn grant(window: &Semaphore, increment: u32, limit: u32) {
    let room = (limit as usize).saturating_sub(window.available_permits());
    window.add_permits((increment as usize).min(room));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn takes_what_is_there_and_never_holds_more_than_the_limit() {
        let window = Semaphore::new(10);
        assert_eq!(take(&window, 4).await, Some(4));
        assert_eq!(
            take(&window, 16).await,
            Some(6),
            "the rest, not a wait for 16"
        );
        grant(&window, 100, 10);
        assert_eq!(window.available_permits(), 10, "capped at the limit");
        window.close();
        assert_eq!(take(&window, 1).await, None);
    }
}

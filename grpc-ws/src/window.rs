//! A stream's send window: permits are DATA bytes the peer will accept. A sender waits
//! until the whole frame it wants to send fits, rather than sending what little is there.
//!
//! Taking whatever was available fragmented the window for good ("silly window syndrome",
//! RFC 1122 §4.2.3.3): a frame cut short by the window came back as two grants, each then
//! spent as its own frame, so over a long stream of large messages the frames got ever
//! smaller and more numerous (the page's 100 MiB client stream ran at 4 MiB/s, its main
//! thread busy sending and receiving tiny frames). Waiting for a whole frame cannot stall: a
//! frame is at most a quarter of the window, and the peer returns everything it reads.

use tokio::sync::Semaphore;

/// Waits until `want` bytes of window are there (at most `limit`, the whole window) and
/// takes them; `None` when the stream is gone.
pub async fn take(window: &Semaphore, want: u32, limit: u32) -> Option<u32> {
    let want = want.clamp(1, limit);
    window.acquire_many(want).await.ok()?.forget();
    Some(want)
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
    async fn a_frame_waits_for_its_whole_size_and_the_window_never_holds_more_than_the_limit() {
        let window = Semaphore::new(10);
        assert_eq!(take(&window, 4, 10).await, Some(4));
        let mut rest = Box::pin(take(&window, 8, 10));
        assert!(
            futures_util::FutureExt::now_or_never(rest.as_mut()).is_none(),
            "6 bytes left: the 8-byte frame waits instead of going out as 6 + 2"
        );
        grant(&window, 4, 10);
        assert_eq!(rest.await, Some(8));
        grant(&window, 100, 10);
        assert_eq!(window.available_permits(), 10, "capped at the limit");
        assert_eq!(
            take(&window, 64, 10).await,
            Some(10),
            "a frame larger than the window waits for the whole window, no more"
        );
        window.close();
        assert_eq!(take(&window, 1, 10).await, None);
    }
}

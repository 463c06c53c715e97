//! Live updates: one producer task per watched city, shared by all of its subscribers.
//!
//! Each city has a `watch` channel. The first subscriber starts a producer that asks the
//! provider once per tick and publishes when the conditions changed. A `watch` channel
//! holds only the newest update, so a slow subscriber never holds back the others and
//! never builds a backlog: it skips to the newest, and the update's sequence number tells
//! it how many it missed. When the last subscriber drops its receiver, the producer
//! notices (`Sender::closed`) and stops: a departed client costs nothing, and nobody runs
//! a timer of their own.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::{
    sync::watch,
    time::{Instant, MissedTickBehavior},
};

use super::{City, Provider, Reading, open_meteo::ProviderError};

/// One published reading, numbered from 1 per feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub seq: u64,
    pub reading: Reading,
}

type Feed = Arc<watch::Sender<Arc<Update>>>;

/// Shares live feeds among subscribers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    interval: Duration,
    provider: Arc<Provider>,
    /// A std mutex: it is held only for map operations, never across an `.await`.
    feeds: Mutex<HashMap<String, Feed>>,
    /// How many producers run now: lets tests and metrics observe that they stop.
    producers: watch::Sender<usize>,
}

impl LiveHub {
    pub fn new(interval: Duration, provider: Arc<Provider>) -> Self {
        Self {
            inner: Arc::new(Inner {
                interval,
                provider,
                feeds: Mutex::new(HashMap::new()),
                producers: watch::Sender::new(0),
            }),
        }
    }

    /// Subscribes to a city's feed, starting its producer (with a first reading from the
    /// provider) if nobody watches it yet. The receiver holds the newest update at once.
    pub async fn subscribe(
        &self,
        city: &Arc<City>,
    ) -> Result<watch::Receiver<Arc<Update>>, ProviderError> {
        if let Some(feed) = self.inner.lock_feeds().get(&city.id) {
            return Ok(feed.subscribe());
        }
        let first = self.inner.provider.current(city).await?;
        let mut feeds = self.inner.lock_feeds();
        // Another subscriber may have started the feed while this one waited.
        if let Some(feed) = feeds.get(&city.id) {
            return Ok(feed.subscribe());
        }
        let (sender, receiver) = watch::channel(Arc::new(Update {
            seq: 1,
            reading: first,
        }));
        let feed = Arc::new(sender);
        feeds.insert(city.id.clone(), Arc::clone(&feed));
        self.inner.producers.send_modify(|count| *count += 1);
        tokio::spawn(produce(Arc::clone(&self.inner), Arc::clone(city), feed));
        Ok(receiver)
    }

    /// Subscribers of one city now.
    pub fn subscribers(&self, city_id: &str) -> usize {
        self.inner
            .lock_feeds()
            .get(city_id)
            .map_or(0, |feed| feed.receiver_count())
    }

    /// The number of running producers, as a channel that changes when it does.
    pub fn producers(&self) -> watch::Receiver<usize> {
        self.inner.producers.subscribe()
    }
}

impl Inner {
    fn lock_feeds(&self) -> std::sync::MutexGuard<'_, HashMap<String, Feed>> {
        // The map stays consistent even if a holder panicked: every operation on it is a
        // single insert, get or remove.
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn produce(inner: Arc<Inner>, city: Arc<City>, feed: Feed) {
    let mut ticker = tokio::time::interval_at(Instant::now() + inner.interval, inner.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => match inner.provider.current(&city).await {
                Ok(reading) => {
                    feed.send_if_modified(|last| {
                        // Only a change is news; heartbeats tell that the stream is alive.
                        let changed = reading.conditions != last.reading.conditions;
                        if changed {
                            *last = Arc::new(Update { seq: last.seq + 1, reading });
                        }
                        changed
                    });
                }
                // Subscribers keep the last reading; the next tick tries again.
                Err(error) => tracing::warn!(city = %city.id, %error, "live update failed"),
            },
            () = feed.closed() => {
                // Re-check under the lock: a subscriber may have arrived since `closed`
                // resolved, and it found this feed in the map.
                let mut feeds = inner.lock_feeds();
                if feed.receiver_count() == 0 {
                    feeds.remove(&city.id);
                    break;
                }
            }
        }
    }
    inner.producers.send_modify(|count| *count -= 1);
    tracing::debug!(city = %city.id, "live feed stopped: no subscribers left");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weather::{Catalog, provider::Clock};

    /// A hub on the model, whose time follows tokio's paused clock, ticking every minute
    /// (the model's gusts change within a minute; from one second to the next, values
    /// rounded to a tenth may not).
    fn hub() -> LiveHub {
        let start = chrono::DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z").expect("valid");
        let clock = Clock::tokio(start.to_utc());
        LiveHub::new(TICK, Arc::new(Provider::Model(clock)))
    }

    const TICK: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn subscribers_share_one_producer_that_stops_when_they_leave() {
        let catalog = Catalog::embedded();
        let paris = Arc::clone(catalog.get("paris-fr").expect("Paris"));
        let hub = hub();
        let mut producers = hub.producers();

        let mut first = hub.subscribe(&paris).await.expect("subscribe");
        let mut second = hub.subscribe(&paris).await.expect("subscribe");
        assert_eq!(*producers.borrow_and_update(), 1);
        assert_eq!(hub.subscribers("paris-fr"), 2);

        assert_eq!(first.borrow_and_update().seq, 1);
        first.changed().await.expect("an update");
        second.changed().await.expect("the same update");
        assert_eq!(first.borrow().seq, 2);
        assert!(
            Arc::ptr_eq(&first.borrow(), &second.borrow()),
            "one update, shared"
        );

        drop(first);
        assert_eq!(hub.subscribers("paris-fr"), 1);
        drop(second);
        producers
            .wait_for(|count| *count == 0)
            .await
            .expect("hub alive");
        assert_eq!(hub.subscribers("paris-fr"), 0);

        // A later subscriber starts a fresh producer.
        let _third = hub.subscribe(&paris).await.expect("subscribe");
        assert_eq!(*hub.producers().borrow(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_subscriber_gets_the_newest_and_can_count_what_it_missed() {
        let catalog = Catalog::embedded();
        let hub = hub();
        let mut slow = hub
            .subscribe(catalog.get("oslo-no").expect("Oslo"))
            .await
            .expect("subscribe");
        let seen = slow.borrow_and_update().seq;
        // Five ticks pass without this subscriber reading.
        tokio::time::sleep(TICK * 5 + TICK / 2).await;
        slow.changed().await.expect("changed");
        let newest = slow.borrow_and_update().seq;
        assert!(newest >= seen + 4, "{seen} -> {newest}");
        // Nothing queued behind it: the next change is a new tick away.
        assert!(!slow.has_changed().expect("alive"));
    }

    #[tokio::test(start_paused = true)]
    async fn each_city_has_its_own_producer() {
        let catalog = Catalog::embedded();
        let hub = hub();
        let _a = hub.subscribe(catalog.get("paris-fr").expect("Paris")).await;
        let _b = hub.subscribe(catalog.get("tokyo-jp").expect("Tokyo")).await;
        assert_eq!(*hub.producers().borrow(), 2);
    }
}

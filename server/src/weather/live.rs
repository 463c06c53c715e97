//! Live updates: one producer task per watched city, shared by all of its subscribers.
//!
//! Each city has a `watch` channel. The first subscriber starts a producer that computes the
//! conditions once per tick and publishes them; every subscriber reads the newest value, so a
//! slow one skips stale updates instead of queueing them. When the last subscriber drops its
//! receiver, the producer notices (`Sender::closed`) and stops: a departed client costs
//! nothing, and nobody runs a timer of their own.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use tokio::{
    sync::watch,
    time::{Instant, MissedTickBehavior},
};

use super::{City, Conditions, conditions};

/// One published observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub city: Arc<City>,
    pub conditions: Conditions,
    pub observed_at: DateTime<Utc>,
}

impl Reading {
    pub fn now(city: Arc<City>) -> Self {
        let observed_at = Utc::now();
        Self {
            conditions: conditions(&city, observed_at),
            city,
            observed_at,
        }
    }
}

type Feed = Arc<watch::Sender<Arc<Reading>>>;

/// Shares live feeds among subscribers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    interval: Duration,
    /// A std mutex: it is held only for map operations, never across an `.await`.
    feeds: Mutex<HashMap<String, Feed>>,
    /// How many producers run now: lets tests and metrics observe that they stop.
    producers: watch::Sender<usize>,
}

impl LiveHub {
    pub fn new(interval: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                interval,
                feeds: Mutex::new(HashMap::new()),
                producers: watch::Sender::new(0),
            }),
        }
    }

    /// Subscribes to a city's feed, starting its producer if nobody watches it yet. The
    /// receiver holds the newest reading at once.
    pub fn subscribe(&self, city: &Arc<City>) -> watch::Receiver<Arc<Reading>> {
        let mut feeds = self.inner.lock_feeds();
        if let Some(feed) = feeds.get(&city.id) {
            return feed.subscribe();
        }
        let (sender, receiver) = watch::channel(Arc::new(Reading::now(Arc::clone(city))));
        let feed = Arc::new(sender);
        feeds.insert(city.id.clone(), Arc::clone(&feed));
        self.inner.producers.send_modify(|count| *count += 1);
        tokio::spawn(produce(Arc::clone(&self.inner), Arc::clone(city), feed));
        receiver
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
            _ = ticker.tick() => {
                feed.send_replace(Arc::new(Reading::now(Arc::clone(&city))));
            }
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
    use crate::weather::Catalog;

    #[tokio::test(start_paused = true)]
    async fn subscribers_share_one_producer_that_stops_when_they_leave() {
        let catalog = Catalog::embedded();
        let paris = Arc::clone(catalog.get("paris-fr").expect("Paris"));
        let hub = LiveHub::new(Duration::from_secs(1));
        let mut producers = hub.producers();

        let mut first = hub.subscribe(&paris);
        let mut second = hub.subscribe(&paris);
        assert_eq!(*producers.borrow_and_update(), 1);
        assert_eq!(hub.subscribers("paris-fr"), 2);

        let initial = first.borrow_and_update().observed_at;
        first.changed().await.expect("an update");
        second.changed().await.expect("the same update");
        assert!(first.borrow().observed_at >= initial);
        assert!(
            Arc::ptr_eq(&first.borrow(), &second.borrow()),
            "one reading, shared"
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
        let _third = hub.subscribe(&paris);
        assert_eq!(*hub.producers().borrow(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn each_city_has_its_own_producer() {
        let catalog = Catalog::embedded();
        let hub = LiveHub::new(Duration::from_secs(1));
        let _a = hub.subscribe(catalog.get("paris-fr").expect("Paris"));
        let _b = hub.subscribe(catalog.get("tokyo-jp").expect("Tokyo"));
        assert_eq!(*hub.producers().borrow(), 2);
    }
}

//! "Something changed under this key": a wake-up for the readers of a key (a post's
//! comments) on every replica, after the change is committed. Readers then read what is new
//! from the store by their own cursor, so a wake-up carries nothing and losing or repeating
//! one costs a query, never a row.
//!
//! On SQLite (one process) the writer wakes the key's readers after its commit. On
//! PostgreSQL the writing transaction sends `NOTIFY <channel>, '<key>'`, delivered at commit
//! to every replica's listener (ours included), which wakes the key's readers here; if the
//! listener loses its connection, it listens again and wakes every reader, since a
//! notification may have been lost meanwhile.
//!
//! The chat carries whole messages in its notifications instead (`chat/rooms.rs`): a room's
//! readers then need no query per message. Comments are rarer and readers fewer; this is the
//! simpler contract.
//!
//! Bounded: at most `max_keys` keys are watched on one replica at once (each holds one
//! channel, shared by its readers); a key's channel goes with its last reader.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::{Any, Transaction, postgres::PgListener};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Engine, Store, database_error};
use crate::error::ApiError;

/// The wake-ups of one kind of change (one notification channel), on one store.
#[derive(Debug, Clone)]
pub struct Changes {
    store: Store,
    channel: &'static str,
    max_keys: usize,
    keys: Arc<Mutex<HashMap<String, watch::Sender<()>>>>,
}

/// A reader's wake-up for one key; stops being watched when the last is dropped.
#[derive(Debug)]
pub struct Watch {
    changes: Changes,
    key: String,
    receiver: watch::Receiver<()>,
}

impl Changes {
    /// Changes named `channel` on `store`; on PostgreSQL, also the task that listens for
    /// every replica's changes until `shutdown`.
    pub async fn open(
        store: Store,
        channel: &'static str,
        max_keys: usize,
        shutdown: CancellationToken,
    ) -> Result<Self, ApiError> {
        let changes = Self {
            store,
            channel,
            max_keys,
            keys: Arc::default(),
        };
        if changes.store.engine() == Engine::Postgres {
            let listener = listen(changes.store.url(), channel)
                .await
                .map_err(database_error)?;
            tokio::spawn(changes.clone().relay(listener, shutdown));
        }
        Ok(changes)
    }

    /// Starts watching `key`: changes committed from now on wake the returned watch.
    pub fn watch(&self, key: &str) -> Result<Watch, ApiError> {
        let mut keys = self.keys.lock().expect("changes lock");
        let receiver = match keys.get(key) {
            Some(sender) => sender.subscribe(),
            None if keys.len() >= self.max_keys => {
                return Err(ApiError::LimitExceeded {
                    subject: "followed keys on this server",
                    limit: u32::try_from(self.max_keys).unwrap_or(u32::MAX),
                });
            }
            None => {
                let (sender, receiver) = watch::channel(());
                keys.insert(key.to_owned(), sender);
                receiver
            }
        };
        Ok(Watch {
            changes: self.clone(),
            key: key.to_owned(),
            receiver,
        })
    }

    /// Inside the writing transaction: on PostgreSQL, the notification sent at its commit.
    pub async fn announce(&self, tx: &mut Transaction<'_, Any>, key: &str) -> Result<(), ApiError> {
        if self.store.engine() == Engine::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(self.channel)
                .bind(key)
                .execute(&mut **tx)
                .await
                .map_err(database_error)?;
        }
        Ok(())
    }

    /// After the commit: on SQLite, wakes the key's readers here (PostgreSQL's listener does
    /// it on every replica).
    pub fn committed(&self, key: &str) {
        if self.store.engine() == Engine::Sqlite {
            self.wake(key);
        }
    }

    fn wake(&self, key: &str) {
        if let Some(sender) = self.keys.lock().expect("changes lock").get(key) {
            sender.send_replace(());
        }
    }

    fn wake_all(&self) {
        for sender in self.keys.lock().expect("changes lock").values() {
            sender.send_replace(());
        }
    }

    /// Keys being watched here now.
    pub fn watched(&self) -> usize {
        self.keys.lock().expect("changes lock").len()
    }

    async fn relay(self, mut listener: PgListener, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    backoff = Duration::from_millis(100);
                    self.wake(notification.payload());
                    continue;
                }
                Ok(None) => tracing::warn!(
                    channel = self.channel,
                    "lost the notification connection; listening again"
                ),
                Err(error) => tracing::warn!(
                    channel = self.channel,
                    %error,
                    "notifications failed; listening again"
                ),
            }
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                match listen(self.store.url(), self.channel).await {
                    Ok(fresh) => {
                        listener = fresh;
                        break;
                    }
                    Err(error) => tracing::warn!(
                        channel = self.channel,
                        %error,
                        "cannot listen for notifications yet"
                    ),
                }
            }
            // Whatever was notified while the connection was down is read now.
            self.wake_all();
        }
    }
}

async fn listen(url: &str, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

impl Watch {
    /// Waits for a change committed since the last wait (or since watching began).
    pub async fn changed(&mut self) {
        // The sender lives in the map while this receiver does: it cannot be dropped.
        let _ = self.receiver.changed().await;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut keys = self.changes.keys.lock().expect("changes lock");
        // Ours is still counted: the last reader leaves the sender with just this one.
        if keys
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            keys.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreSettings;

    async fn sqlite() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/db.sqlite", dir.path().display());
        let store = Store::open(StoreSettings {
            url,
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        })
        .await
        .expect("store");
        (dir, store)
    }

    #[tokio::test]
    async fn a_commit_wakes_the_keys_readers_and_the_last_reader_takes_its_channel() {
        let (_dir, store) = sqlite().await;
        let changes = Changes::open(store, "test", 2, CancellationToken::new())
            .await
            .expect("changes");
        let mut first = changes.watch("a").expect("watch");
        let mut second = changes.watch("a").expect("watch");
        let other = changes.watch("b").expect("watch");
        assert_eq!(changes.watched(), 2);
        assert!(
            matches!(changes.watch("c"), Err(ApiError::LimitExceeded { .. })),
            "a third key is refused"
        );
        changes.committed("a");
        tokio::time::timeout(Duration::from_secs(1), first.changed())
            .await
            .expect("the first reader is woken");
        tokio::time::timeout(Duration::from_secs(1), second.changed())
            .await
            .expect("the second reader is woken");
        drop(first);
        assert_eq!(changes.watched(), 2, "a reader of a is left");
        drop(second);
        drop(other);
        assert_eq!(changes.watched(), 0, "no channel without readers");
        changes.watch("c").expect("room again");
    }
}

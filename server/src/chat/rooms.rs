//! Chat rooms on the store: every message is committed before it is acknowledged or passed
//! on, so history survives restarts and every replica on one database sees the same rooms.
//!
//! **Fan-out.** Each process keeps one broadcast channel per room someone here is reading
//! (at most [`MAX_WATCHED_ROOMS`]). On SQLite (one process) a post is passed to its room's
//! channel right after its commit, under the write lock, so in id order. On PostgreSQL the
//! posting transaction also sends `NOTIFY chat` with the row, delivered at commit to every
//! replica's listener (ours included), which passes it on: the database's own mechanism, no
//! polling. If the listener loses its connection it reconnects and tells every reader to
//! catch up from the store.
//!
//! **Nothing missed, nothing twice.** A reader knows the last id it sent. It starts from the
//! room's newest messages (`history`) or from a client's cursor (`after_id`), read from the
//! store in pages after joining the channel; live messages at or below what it sent are
//! dropped, and a jump in the ids (a notification lost with a connection) is filled from
//! the store. A reader that falls more than [`BACKLOG`] messages behind the room skips the
//! oldest and is told how many, rather than holding the room back; its client can resume
//! with its cursor.
//!
//! **Bounds.** At most [`MAX_ROOMS`] rooms: when a new one is needed, the least recently
//! active room that nobody reads on this replica gives way, its messages with it; only when
//! every room is read here is the new one refused. A room keeps its last
//! [`MAX_STORED_PER_ROOM`] messages (older ones are deleted as new ones come), so the rows
//! the chat can hold are bounded; memory holds no history at all, only the channels.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use futures_util::{Stream, stream};
use proto::chat::v1::ChatMessage;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use crate::{
    error::ApiError,
    store::{
        Engine, Store, database_error,
        rows::{ChatMessageRow, id_from_row, id_to_row, micros},
    },
};

pub const MAX_ROOMS: usize = 100;
pub const MAX_HISTORY: u32 = 100;
pub const MAX_ROOM_CHARS: usize = 32;
pub const MAX_AUTHOR_CHARS: usize = 40;
pub const MAX_TEXT_CHARS: usize = 1000;
/// Messages a reader may fall behind before it skips the oldest.
pub const BACKLOG: usize = 64;
/// Rooms read on one replica at once (each has a channel here; readers of one room share it).
pub const MAX_WATCHED_ROOMS: usize = 1000;
/// Messages a room keeps; the oldest beyond go.
pub const MAX_STORED_PER_ROOM: i64 = 10_000;
/// Messages read from the store at once when a reader catches up.
const PAGE: i64 = 100;
/// The PostgreSQL notification channel for new chat messages.
const CHANNEL: &str = "chat";

/// What a room's channel carries.
#[derive(Debug, Clone)]
enum Note {
    Message(Arc<ChatMessage>),
    /// Notifications may have been missed: read what came after your last from the store.
    CatchUp,
}

/// What a reader receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Message(Arc<ChatMessage>),
    /// This many messages were dropped for a reader that fell behind.
    Skipped(u64),
}

/// Every room, on the store, and the channels of the rooms read here.
#[derive(Debug, Clone)]
pub struct Rooms {
    store: Store,
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<Note>>>>,
}

impl Rooms {
    /// The rooms on `store`; on PostgreSQL, also the task that listens for other replicas'
    /// messages until `shutdown`.
    pub async fn open(store: Store, shutdown: CancellationToken) -> Result<Self, ApiError> {
        let rooms = Self {
            store,
            channels: Arc::default(),
        };
        if rooms.store.engine() == Engine::Postgres {
            let listener = listen(rooms.store.url()).await.map_err(database_error)?;
            tokio::spawn(rooms.clone().relay(listener, shutdown));
        }
        Ok(rooms)
    }

    /// Stores `text` in `room` (made by its first message) and passes it to the room.
    pub async fn post(
        &self,
        room: &str,
        author: &str,
        text: &str,
    ) -> Result<Arc<ChatMessage>, ApiError> {
        validate_room(room)?;
        let author = validate_author(author)?;
        validate_text(text)?;
        let _writer = self.store.write_lock().await;
        let mut tx = self.store.pool().begin().await.map_err(database_error)?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT last_id FROM chat_rooms WHERE name = $1")
                .bind(room)
                .fetch_optional(&mut *tx)
                .await
                .map_err(database_error)?;
        if exists.is_none() {
            self.make_room_for(room, &mut tx).await?;
        }
        let now = micros(Utc::now());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO chat_rooms (name, last_id, active_at_us) VALUES ($1, 1, $2) \
             ON CONFLICT (name) DO UPDATE \
             SET last_id = chat_rooms.last_id + 1, active_at_us = excluded.active_at_us \
             RETURNING last_id",
        )
        .bind(room)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(database_error)?;
        let row = ChatMessageRow {
            room: room.to_owned(),
            id,
            author: author.to_owned(),
            text: text.to_owned(),
            posted_at_us: now,
        };
        sqlx::query(
            "INSERT INTO chat_messages (room, id, author, text, posted_at_us) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.room)
        .bind(row.id)
        .bind(&row.author)
        .bind(&row.text)
        .bind(row.posted_at_us)
        .execute(&mut *tx)
        .await
        .map_err(database_error)?;
        if id > MAX_STORED_PER_ROOM {
            sqlx::query("DELETE FROM chat_messages WHERE room = $1 AND id <= $2")
                .bind(room)
                .bind(id - MAX_STORED_PER_ROOM)
                .execute(&mut *tx)
                .await
                .map_err(database_error)?;
        }
        if self.store.engine() == Engine::Postgres {
            // Delivered to every replica's listener when (and only if) this commits.
            let payload = serde_json::to_string(&row).map_err(ApiError::internal)?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload)
                .execute(&mut *tx)
                .await
                .map_err(database_error)?;
        }
        tx.commit().await.map_err(database_error)?;
        let message = Arc::new(ChatMessage::from(row));
        if self.store.engine() == Engine::Sqlite {
            // Still under the write lock: the room's channel gets its messages in id order.
            self.pass_on(Note::Message(Arc::clone(&message)), room);
        }
        Ok(message)
    }

    /// At [`MAX_ROOMS`], deletes the least recently active room nobody reads here, or
    /// refuses the new room if every room is read.
    async fn make_room_for(
        &self,
        room: &str,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), ApiError> {
        if self.store.engine() == Engine::Postgres {
            // Replicas making rooms at once count one after the other (held to commit).
            sqlx::query("SELECT pg_advisory_xact_lock(7401)")
                .execute(&mut **tx)
                .await
                .map_err(database_error)?;
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chat_rooms")
            .fetch_one(&mut **tx)
            .await
            .map_err(database_error)?;
        if usize::try_from(count).unwrap_or(usize::MAX) < MAX_ROOMS {
            return Ok(());
        }
        let oldest: Vec<String> =
            sqlx::query_scalar("SELECT name FROM chat_rooms ORDER BY active_at_us LIMIT $1")
                .bind(i64::try_from(MAX_WATCHED_ROOMS + 1).unwrap_or(i64::MAX))
                .fetch_all(&mut **tx)
                .await
                .map_err(database_error)?;
        let unwatched = {
            let channels = self.lock();
            oldest.into_iter().find(|name| {
                name != room && channels.get(name).is_none_or(|c| c.receiver_count() == 0)
            })
        };
        let Some(unwatched) = unwatched else {
            return Err(ApiError::LimitExceeded {
                subject: "rooms",
                limit: MAX_ROOMS as u32,
            });
        };
        tracing::info!(room = %unwatched, "chat: the least recently active room gives way");
        for statement in [
            "DELETE FROM chat_messages WHERE room = $1",
            "DELETE FROM chat_rooms WHERE name = $1",
        ] {
            sqlx::query(statement)
                .bind(&unwatched)
                .execute(&mut **tx)
                .await
                .map_err(database_error)?;
        }
        Ok(())
    }

    /// The room's messages for a new reader: after `after_id` when given (a resume),
    /// otherwise its last `history`; then every later one as it is posted.
    pub async fn subscribe(
        &self,
        room: &str,
        history: u32,
        after_id: Option<u64>,
    ) -> Result<Subscription, ApiError> {
        validate_room(room)?;
        if history > MAX_HISTORY {
            return Err(ApiError::invalid(
                "history",
                format!("must be at most {MAX_HISTORY}, got {history}"),
            ));
        }
        // Join the channel first: whatever commits after the reads below comes through it.
        let live = self.watch(room)?;
        let (last_sent, pending) = match after_id {
            Some(after) => (after, VecDeque::new()),
            None => {
                let last_id: i64 =
                    sqlx::query_scalar("SELECT last_id FROM chat_rooms WHERE name = $1")
                        .bind(room)
                        .fetch_optional(self.store.pool())
                        .await
                        .map_err(database_error)?
                        .unwrap_or(0);
                let mut newest: Vec<ChatMessageRow> = sqlx::query_as(
                    "SELECT room, id, author, text, posted_at_us FROM chat_messages \
                     WHERE room = $1 AND id <= $2 ORDER BY id DESC LIMIT $3",
                )
                .bind(room)
                .bind(last_id)
                .bind(i64::from(history))
                .fetch_all(self.store.pool())
                .await
                .map_err(database_error)?;
                newest.reverse();
                let from = newest.first().map_or(last_id, |first| first.id - 1);
                (
                    id_from_row(from),
                    newest.into_iter().map(|row| Arc::new(row.into())).collect(),
                )
            }
        };
        Ok(Subscription {
            rooms: self.clone(),
            room: room.to_owned(),
            last_sent,
            pending,
            catching_up: after_id.is_some(),
            after_lag: false,
            live,
        })
    }

    /// The room's channel, made if no one here reads the room yet.
    fn watch(&self, room: &str) -> Result<broadcast::Receiver<Note>, ApiError> {
        let mut channels = self.lock();
        if let Some(sender) = channels.get(room) {
            return Ok(sender.subscribe());
        }
        channels.retain(|_, sender| sender.receiver_count() > 0);
        if channels.len() >= MAX_WATCHED_ROOMS {
            return Err(ApiError::LimitExceeded {
                subject: "rooms read at once",
                limit: MAX_WATCHED_ROOMS as u32,
            });
        }
        let sender = broadcast::Sender::new(BACKLOG);
        let receiver = sender.subscribe();
        channels.insert(room.to_owned(), sender);
        Ok(receiver)
    }

    /// Gives `note` to the readers of `room` here, if any.
    fn pass_on(&self, note: Note, room: &str) {
        if let Some(sender) = self.lock().get(room) {
            // No receivers is fine: nobody reads the room right now.
            let _ = sender.send(note);
        }
    }

    /// Messages after `after` in `room`, one page, from the store.
    async fn page_after(&self, room: &str, after: u64) -> Result<Vec<ChatMessageRow>, ApiError> {
        sqlx::query_as(
            "SELECT room, id, author, text, posted_at_us FROM chat_messages \
             WHERE room = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(room)
        .bind(id_to_row(after))
        .bind(PAGE)
        .fetch_all(self.store.pool())
        .await
        .map_err(database_error)
    }

    /// PostgreSQL: passes every replica's new messages to the readers here, until shutdown.
    /// After a lost connection it listens again (with backoff) and has every reader catch up.
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
                    match serde_json::from_str::<ChatMessageRow>(notification.payload()) {
                        Ok(row) => {
                            let room = row.room.clone();
                            self.pass_on(Note::Message(Arc::new(row.into())), &room);
                        }
                        Err(error) => {
                            tracing::warn!(%error, "chat: a notification that is not a message")
                        }
                    }
                    continue;
                }
                Ok(None) => {
                    tracing::warn!("chat: lost the notification connection; listening again")
                }
                Err(error) => tracing::warn!(%error, "chat: notifications failed; listening again"),
            }
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                match listen(self.store.url()).await {
                    Ok(fresh) => {
                        listener = fresh;
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "chat: cannot listen for notifications yet")
                    }
                }
            }
            let rooms: Vec<String> = self.lock().keys().cloned().collect();
            for room in rooms {
                self.pass_on(Note::CatchUp, &room);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Note>>> {
        // Every change to the map is a single insert or retain: a poisoned lock is still
        // consistent.
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// One reader of a room: see the module's comment for how it neither misses nor repeats.
#[derive(Debug)]
pub struct Subscription {
    rooms: Rooms,
    room: String,
    /// The id of the last message sent (or the one before the first to send).
    last_sent: u64,
    /// Read from the store, not sent yet.
    pending: VecDeque<Arc<ChatMessage>>,
    /// More may wait in the store after `last_sent`.
    catching_up: bool,
    /// Skipped messages were reported: the next live one is taken as it comes.
    after_lag: bool,
    live: broadcast::Receiver<Note>,
}

impl Subscription {
    /// The reader's events, until the client leaves; a store failure ends them with its
    /// error.
    pub fn events(self) -> impl Stream<Item = Result<Event, ApiError>> + Send {
        stream::unfold(Some(self), |state| async move {
            let mut this = state?;
            match this.next().await {
                Ok(Some(event)) => Some((Ok(event), Some(this))),
                Ok(None) => None,
                Err(error) => Some((Err(error), None)),
            }
        })
    }

    async fn next(&mut self) -> Result<Option<Event>, ApiError> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                if message.id > self.last_sent {
                    self.last_sent = message.id;
                    return Ok(Some(Event::Message(message)));
                }
                continue;
            }
            if self.catching_up {
                let page = self.rooms.page_after(&self.room, self.last_sent).await?;
                self.catching_up = page.len() as i64 == PAGE;
                self.pending
                    .extend(page.into_iter().map(|row| Arc::new(row.into())));
                continue;
            }
            match self.live.recv().await {
                Ok(Note::Message(message)) => {
                    if self.after_lag || message.id == self.last_sent + 1 {
                        self.after_lag = false;
                        self.last_sent = message.id;
                        return Ok(Some(Event::Message(message)));
                    }
                    if message.id > self.last_sent {
                        // Something between was missed: the store has it (and this one).
                        self.catching_up = true;
                    }
                }
                Ok(Note::CatchUp) => self.catching_up = true,
                Err(RecvError::Lagged(skipped)) => {
                    // Go on from the oldest the channel still holds.
                    self.after_lag = true;
                    return Ok(Some(Event::Skipped(skipped)));
                }
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }
}

fn validate_room(room: &str) -> Result<(), ApiError> {
    let valid_chars = room
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if room.is_empty() || room.len() > MAX_ROOM_CHARS || !valid_chars {
        return Err(ApiError::invalid(
            "room",
            format!(
                "must be 1 to {MAX_ROOM_CHARS} characters of a-z, 0-9, `-` and `_`, got '{}'",
                room.chars().take(MAX_ROOM_CHARS + 8).collect::<String>()
            ),
        ));
    }
    Ok(())
}

/// The author to store: trimmed, "anonymous" when empty.
fn validate_author(author: &str) -> Result<&str, ApiError> {
    let author = author.trim();
    let chars = author.chars().count();
    if chars > MAX_AUTHOR_CHARS {
        return Err(ApiError::invalid(
            "author",
            format!("must be at most {MAX_AUTHOR_CHARS} characters, got {chars}"),
        ));
    }
    if author.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "author",
            "must not contain control characters",
        ));
    }
    Ok(if author.is_empty() {
        "anonymous"
    } else {
        author
    })
}

fn validate_text(text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("text", "must not be empty"));
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(ApiError::invalid(
            "text",
            format!("must be at most {MAX_TEXT_CHARS} characters, got {chars}"),
        ));
    }
    Ok(())
}

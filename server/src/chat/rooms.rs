//! Chat rooms: each keeps its last messages and passes every new one to everyone in it.
//!
//! Memory is bounded: at most [`MAX_ROOMS`] rooms of [`MAX_HISTORY`] messages each. A room
//! passes messages on through a broadcast channel of [`BACKLOG`] messages: a subscriber
//! that falls further behind loses the oldest ones (and is told how many) instead of
//! holding back the room or growing a queue without end.
//!
//! Only a post makes a room. Subscribing to a room nobody has posted to yet waits for it:
//! the subscriber holds a place on that name (bounded: [`MAX_WAITING_NAMES`] names, and
//! each subscriber is a call in flight, bounded per client), and the room, once its first
//! message makes it, takes over the waiting subscribers, who get that message live. When
//! all [`MAX_ROOMS`] exist and a new one is needed, the room with nobody in it that was
//! active least recently gives way (its history goes with it); only when every room has
//! someone in it is the new one refused.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Instant,
};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::error::ApiError;

pub const MAX_ROOMS: usize = 100;
pub const MAX_HISTORY: u32 = 100;
pub const MAX_ROOM_CHARS: usize = 32;
pub const MAX_AUTHOR_CHARS: usize = 40;
pub const MAX_TEXT_CHARS: usize = 1000;
/// Messages a subscriber may fall behind before it skips the oldest.
pub const BACKLOG: usize = 64;
/// Names of rooms not yet made that subscribers may wait on at once.
pub const MAX_WAITING_NAMES: usize = 1000;

/// A posted message, shared by the room's history and every subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u64,
    pub room: String,
    pub author: String,
    pub text: String,
    pub posted_at: DateTime<Utc>,
}

/// Every room of the server, and the subscribers waiting for rooms not made yet.
#[derive(Debug, Default)]
pub struct Rooms {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    rooms: HashMap<String, Room>,
    /// By room name: the channel its subscribers wait on until a post makes the room.
    waiting: HashMap<String, broadcast::Sender<Arc<Message>>>,
}

#[derive(Debug)]
struct Room {
    history: VecDeque<Arc<Message>>,
    last_id: u64,
    sender: broadcast::Sender<Arc<Message>>,
    /// The last post or subscription.
    active_at: Instant,
}

/// A subscription: the past messages asked for, then the live ones. Both come from one
/// moment under the room's lock, so nothing is missed or repeated between them.
#[derive(Debug)]
pub struct Subscription {
    pub history: Vec<Arc<Message>>,
    pub live: broadcast::Receiver<Arc<Message>>,
}

impl Rooms {
    /// Stores `text` in `room` (created by its first message) and passes it to the room.
    pub fn post(&self, room: &str, author: &str, text: &str) -> Result<Arc<Message>, ApiError> {
        validate_room(room)?;
        let author = validate_author(author)?;
        validate_text(text)?;
        let mut state = self.lock();
        let room_state = state.room_for_post(room)?;
        room_state.active_at = Instant::now();
        room_state.last_id += 1;
        let message = Arc::new(Message {
            id: room_state.last_id,
            room: room.to_owned(),
            author: author.to_owned(),
            text: text.to_owned(),
            posted_at: Utc::now(),
        });
        if room_state.history.len() == MAX_HISTORY as usize {
            room_state.history.pop_front();
        }
        room_state.history.push_back(Arc::clone(&message));
        // No subscribers is fine: the message is in the history.
        let _ = room_state.sender.send(Arc::clone(&message));
        Ok(message)
    }

    /// The last `history` messages of `room`, and every later one as it is posted.
    pub fn subscribe(&self, room: &str, history: u32) -> Result<Subscription, ApiError> {
        validate_room(room)?;
        if history > MAX_HISTORY {
            return Err(ApiError::invalid(
                "history",
                format!("must be at most {MAX_HISTORY}, got {history}"),
            ));
        }
        let mut state = self.lock();
        if let Some(room_state) = state.rooms.get_mut(room) {
            room_state.active_at = Instant::now();
            let skip = room_state.history.len().saturating_sub(history as usize);
            return Ok(Subscription {
                history: room_state.history.iter().skip(skip).cloned().collect(),
                live: room_state.sender.subscribe(),
            });
        }
        // Not made yet: wait for its first post, without making it.
        state
            .waiting
            .retain(|_, sender| sender.receiver_count() > 0);
        if !state.waiting.contains_key(room) && state.waiting.len() >= MAX_WAITING_NAMES {
            return Err(ApiError::LimitExceeded {
                subject: "rooms waited for",
                limit: MAX_WAITING_NAMES as u32,
            });
        }
        let sender = state
            .waiting
            .entry(room.to_owned())
            .or_insert_with(|| broadcast::Sender::new(BACKLOG));
        Ok(Subscription {
            history: Vec::new(),
            live: sender.subscribe(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the maps consistent (every change to them is
        // a single insert, remove or push), so a poisoned lock is still safe to use.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    /// The room to post to, made if new (with the subscribers waiting for it). At
    /// [`MAX_ROOMS`], the least recently active room with nobody in it makes way; if every
    /// room has someone in it, the post is refused.
    fn room_for_post(&mut self, name: &str) -> Result<&mut Room, ApiError> {
        if !self.rooms.contains_key(name) {
            if self.rooms.len() >= MAX_ROOMS {
                let unwatched = self
                    .rooms
                    .iter()
                    .filter(|(_, room)| room.sender.receiver_count() == 0)
                    .min_by_key(|(_, room)| room.active_at)
                    .map(|(name, _)| name.clone());
                match unwatched {
                    Some(oldest) => {
                        self.rooms.remove(&oldest);
                    }
                    None => {
                        return Err(ApiError::LimitExceeded {
                            subject: "rooms",
                            limit: MAX_ROOMS as u32,
                        });
                    }
                }
            }
            let sender = self
                .waiting
                .remove(name)
                .unwrap_or_else(|| broadcast::Sender::new(BACKLOG));
            self.rooms.insert(
                name.to_owned(),
                Room {
                    history: VecDeque::new(),
                    last_id: 0,
                    sender,
                    active_at: Instant::now(),
                },
            );
        }
        Ok(self.rooms.get_mut(name).expect("made above"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast::error::TryRecvError;

    #[test]
    fn messages_are_numbered_per_room_and_reach_subscribers() {
        let rooms = Rooms::default();
        let mut sub = rooms.subscribe("lobby", 10).expect("subscribe");
        assert!(sub.history.is_empty());
        let first = rooms.post("lobby", "ada", "hi").expect("post");
        let other = rooms.post("kitchen", "", "tea?").expect("post");
        let second = rooms.post("lobby", "bob", "hello").expect("post");
        assert_eq!((first.id, second.id, other.id), (1, 2, 1));
        assert_eq!(other.author, "anonymous");
        assert_eq!(sub.live.try_recv().expect("first"), first);
        assert_eq!(sub.live.try_recv().expect("second"), second);
        assert_eq!(sub.live.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn history_is_the_newest_messages_bounded() {
        let rooms = Rooms::default();
        for n in 1..=MAX_HISTORY + 5 {
            rooms.post("r", "a", &n.to_string()).expect("post");
        }
        let sub = rooms.subscribe("r", 3).expect("subscribe");
        let texts: Vec<_> = sub.history.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["103", "104", "105"]);
        let all = rooms.subscribe("r", MAX_HISTORY).expect("subscribe");
        assert_eq!(all.history.len(), MAX_HISTORY as usize);
        assert_eq!(all.history[0].id, 6);
    }

    #[test]
    fn a_slow_subscriber_skips_instead_of_holding_back_the_room() {
        let rooms = Rooms::default();
        let mut slow = rooms.subscribe("r", 0).expect("subscribe");
        for n in 0..BACKLOG + 3 {
            rooms.post("r", "a", &n.to_string()).expect("never blocked");
        }
        assert_eq!(slow.live.try_recv(), Err(TryRecvError::Lagged(3)));
        assert_eq!(slow.live.try_recv().expect("oldest kept").text, "3");
    }

    #[test]
    fn rooms_are_bounded_and_the_least_active_unwatched_one_makes_way() {
        let rooms = Rooms::default();
        let mut watchers = Vec::new();
        for n in 0..MAX_ROOMS {
            rooms.post(&format!("r{n}"), "a", "x").expect("post");
            watchers.push(rooms.subscribe(&format!("r{n}"), 0).expect("subscribe"));
        }
        let error = rooms.post("one-too-many", "a", "x").expect_err("full");
        assert!(matches!(
            error,
            ApiError::LimitExceeded {
                subject: "rooms",
                ..
            }
        ));
        // Once a watcher leaves, its room gives way, history and all.
        watchers.swap_remove(7);
        rooms.post("one-too-many", "a", "x").expect("room freed");
        assert!(rooms.subscribe("r7", 10).expect("waits").history.is_empty());
        // Rooms with someone in them stay.
        assert_eq!(
            rooms.subscribe("r8", 10).expect("subscribe").history.len(),
            1
        );
    }

    #[test]
    fn readers_do_not_make_rooms_and_wait_for_them() {
        let rooms = Rooms::default();
        // Far more names than rooms, none made by reading.
        let waiting: Vec<_> = (0..MAX_WAITING_NAMES)
            .map(|n| rooms.subscribe(&format!("w{n}"), 10).expect("waits"))
            .collect();
        let error = rooms.subscribe("one-more", 0).expect_err("bounded");
        assert!(matches!(error, ApiError::LimitExceeded { .. }), "{error:?}");
        for n in 0..MAX_ROOMS {
            rooms
                .post(&format!("p{n}"), "a", "x")
                .expect("readers locked no room out");
        }
        drop(waiting);
        // A reader waiting on a room gets its first message when a post makes it.
        let mut early = rooms.subscribe("later", 10).expect("waits");
        assert!(early.history.is_empty());
        let first = rooms.post("later", "ada", "first!").expect("post");
        assert_eq!(early.live.try_recv().expect("live"), first);
    }

    #[test]
    fn bad_input_names_the_field() {
        let rooms = Rooms::default();
        for (room, author, text, field) in [
            ("", "a", "x", "room"),
            ("Lobby", "a", "x", "room"),
            ("a/b", "a", "x", "room"),
            (&"r".repeat(MAX_ROOM_CHARS + 1), "a", "x", "room"),
            ("r", &"a".repeat(MAX_AUTHOR_CHARS + 1), "x", "author"),
            ("r", "a\nb", "x", "author"),
            ("r", "a", "   ", "text"),
            ("r", "a", &"x".repeat(MAX_TEXT_CHARS + 1), "text"),
        ] {
            match rooms.post(room, author, text) {
                Err(ApiError::InvalidArgument { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{room:?}/{author:?}: expected {field} invalid, got {other:?}"),
            }
        }
        assert!(rooms.subscribe("r", MAX_HISTORY + 1).is_err());
    }
}

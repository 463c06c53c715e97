//! Protobuf ↔ rows: the one place where generated message types meet the tables, so each
//! conversion is written (and tested) once. The rules, the same for every table:
//!
//! - **Timestamps** are `BIGINT` microseconds since the Unix epoch, UTC: one integer type
//!   both engines compare and index alike. `google.protobuf.Timestamp` keeps nanoseconds;
//!   stored times are truncated to microseconds, and a proto time before 1970 maps to a
//!   negative number (floor division, so `nanos` stays within 0..1e9).
//! - **Unsigned ids** (`uint64` in the protos) are `BIGINT` (signed 64-bit on both engines);
//!   ids come from the server and stay far below 2^63, and a stored value that could not be
//!   one maps to 0 rather than wrapping.
//! - **Optional fields**: a proto message field (`posted_at`) is `NOT NULL` in the row and
//!   always set when read back; a `proto3 optional` scalar maps to a nullable column and to
//!   `Option` here, never to a sentinel value.
//! - **Enums** are stored by their proto number (`INTEGER`), read back with the generated
//!   `try_from`, an unknown number being an error rather than a silent default
//!   (`blog_posts.state`).
//! - Rows also travel as JSON in PostgreSQL notifications (`NOTIFY`), so a replica gets the
//!   message exactly as stored, without reading it back.

use chrono::{DateTime, Utc};
use proto::{blog::v1 as blog, chat::v1 as chat, files::v1 as files};
use serde::{Deserialize, Serialize};

/// One row of `chat_messages`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize, Deserialize)]
pub struct ChatMessageRow {
    pub room: String,
    pub id: i64,
    pub author: String,
    pub text: String,
    pub posted_at_us: i64,
}

impl From<ChatMessageRow> for chat::ChatMessage {
    fn from(row: ChatMessageRow) -> Self {
        Self {
            id: id_from_row(row.id),
            room: row.room,
            author: row.author,
            text: row.text,
            posted_at: Some(timestamp_from_micros(row.posted_at_us)),
        }
    }
}

/// One row of `files`, as listed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FileRow {
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_at_us: i64,
}

impl From<FileRow> for files::FileInfo {
    fn from(row: FileRow) -> Self {
        Self {
            name: row.name,
            size: id_from_row(row.size),
            sha256: row.sha256,
            uploaded_at: Some(timestamp_from_micros(row.uploaded_at_us)),
        }
    }
}

/// One row of `uploads`: an upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UploadRow {
    pub id: String,
    pub name: String,
    pub size: i64,
    pub received: i64,
    pub content_id: String,
    /// 1 or 0 (the same integer on both engines).
    pub resumable: i64,
}

impl From<UploadRow> for files::UploadStatus {
    fn from(row: UploadRow) -> Self {
        Self {
            upload_id: row.id,
            name: row.name,
            size: id_from_row(row.size),
            received: id_from_row(row.received),
        }
    }
}

/// One row of `blog_authors`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthorRow {
    pub id: String,
    pub display_name: String,
    pub bio: String,
    pub create_time_us: i64,
}

impl From<AuthorRow> for blog::Author {
    fn from(row: AuthorRow) -> Self {
        Self {
            id: row.id,
            display_name: row.display_name,
            bio: row.bio,
            create_time: Some(timestamp_from_micros(row.create_time_us)),
        }
    }
}

/// One row of `blog_posts`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PostRow {
    pub id: String,
    pub author_id: String,
    pub title: String,
    pub body: String,
    /// `blog.v1.Post.State` by number.
    pub state: i64,
    pub create_time_us: i64,
    pub update_time_us: i64,
    /// NULL until published.
    pub publish_time_us: Option<i64>,
    pub revision: i64,
}

impl PostRow {
    /// The post as the API shows it, with its author's name (from the author service).
    pub fn into_proto(self, author_display_name: String) -> Result<blog::Post, String> {
        let state = i32::try_from(self.state)
            .ok()
            .and_then(|number| blog::post::State::try_from(number).ok())
            .ok_or_else(|| format!("post {} has an unknown state {}", self.id, self.state))?;
        Ok(blog::Post {
            id: self.id,
            author_id: self.author_id,
            author_display_name,
            title: self.title,
            body: self.body,
            state: state.into(),
            create_time: Some(timestamp_from_micros(self.create_time_us)),
            update_time: Some(timestamp_from_micros(self.update_time_us)),
            publish_time: self.publish_time_us.map(timestamp_from_micros),
            etag: etag(self.revision),
            // Rendered by the post service (`blog/markdown.rs`), not a column.
            body_html: String::new(),
        })
    }
}

/// One row of `blog_comments`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CommentRow {
    pub post_id: String,
    pub id: i64,
    pub author: String,
    pub text: String,
    pub create_time_us: i64,
}

impl From<CommentRow> for blog::Comment {
    fn from(row: CommentRow) -> Self {
        Self {
            post_id: row.post_id,
            id: row.id,
            author: row.author,
            text: row.text,
            create_time: Some(timestamp_from_micros(row.create_time_us)),
        }
    }
}

/// A revision as the etag clients send back.
pub fn etag(revision: i64) -> String {
    format!("r{revision}")
}

/// The revision an etag names, if it is one.
pub fn revision_of(etag: &str) -> Option<i64> {
    etag.strip_prefix('r')?.parse().ok()
}

/// A `uint64` id (or size) as stored.
pub fn id_to_row(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// A stored id as the proto's `uint64`.
pub fn id_from_row(id: i64) -> u64 {
    u64::try_from(id).unwrap_or_default()
}

/// A time as stored: microseconds since the epoch.
pub fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A stored time as `google.protobuf.Timestamp`.
pub fn timestamp_from_micros(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        // 0 ≤ rem < 1e6, so nanos stays within the type's range.
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// A `google.protobuf.Timestamp` as stored, truncated to microseconds.
pub fn micros_from_timestamp(at: &prost_types::Timestamp) -> i64 {
    at.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(at.nanos.clamp(0, 999_999_999) / 1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_row_becomes_the_proto_message() {
        let row = ChatMessageRow {
            room: "lobby".into(),
            id: 42,
            author: "ada".into(),
            text: "hi".into(),
            posted_at_us: 1_700_000_000_123_456,
        };
        let message = chat::ChatMessage::from(row.clone());
        assert_eq!(message.id, 42);
        assert_eq!(
            (message.room.as_str(), message.author.as_str()),
            ("lobby", "ada")
        );
        assert_eq!(
            message.posted_at,
            Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_456_000
            })
        );
        // And through a notification's JSON unchanged.
        let json = serde_json::to_string(&row).expect("serializes");
        assert_eq!(
            serde_json::from_str::<ChatMessageRow>(&json).expect("parses"),
            row
        );
    }

    #[test]
    fn timestamps_round_trip_at_microseconds_before_and_after_the_epoch() {
        for micros in [
            0,
            1,
            -1,
            999_999,
            -1_000_001,
            1_700_000_000_123_456,
            -86_400_000_000,
        ] {
            let at = timestamp_from_micros(micros);
            assert!((0..1_000_000_000).contains(&at.nanos), "{micros}: {at:?}");
            assert_eq!(micros_from_timestamp(&at), micros);
        }
        // Nanoseconds below a microsecond are dropped, not rounded up.
        let at = prost_types::Timestamp {
            seconds: 10,
            nanos: 1_999,
        };
        assert_eq!(micros_from_timestamp(&at), 10_000_001);
        let now = Utc::now();
        assert_eq!(
            micros_from_timestamp(&timestamp_from_micros(micros(now))),
            micros(now)
        );
    }

    #[test]
    fn file_and_upload_rows_become_their_proto_messages() {
        let info = files::FileInfo::from(FileRow {
            name: "a.txt".into(),
            size: 5,
            sha256: "ab".into(),
            uploaded_at_us: -1,
        });
        assert_eq!((info.name.as_str(), info.size), ("a.txt", 5));
        assert_eq!(
            info.uploaded_at,
            Some(prost_types::Timestamp {
                seconds: -1,
                nanos: 999_999_000
            })
        );
        let status = files::UploadStatus::from(UploadRow {
            id: "upload-0123456789ab".into(),
            name: "a.txt".into(),
            size: 10,
            received: 4,
            content_id: "c".into(),
            resumable: 1,
        });
        assert_eq!((status.size, status.received), (10, 4));
    }

    #[test]
    fn a_post_row_maps_its_enum_optional_time_and_etag() {
        let row = PostRow {
            id: "p1".into(),
            author_id: "a1".into(),
            title: "t".into(),
            body: "b".into(),
            state: 1,
            create_time_us: 5,
            update_time_us: 6,
            publish_time_us: None,
            revision: 3,
        };
        let post = row.clone().into_proto("Ada".into()).expect("maps");
        assert_eq!(post.state(), blog::post::State::Draft);
        assert_eq!(
            post.publish_time, None,
            "unpublished: no time, not the epoch"
        );
        assert_eq!(post.etag, "r3");
        assert_eq!(revision_of(&post.etag), Some(3));
        assert_eq!(revision_of("3"), None);
        let published = PostRow {
            state: 2,
            publish_time_us: Some(7),
            ..row.clone()
        };
        let post = published.into_proto(String::new()).expect("maps");
        assert_eq!(post.state(), blog::post::State::Published);
        assert_eq!(post.publish_time.map(|t| t.nanos), Some(7_000));
        let unknown = PostRow { state: 9, ..row };
        assert!(
            unknown.into_proto(String::new()).is_err(),
            "an unknown enum number is an error"
        );
    }

    #[test]
    fn ids_never_wrap() {
        assert_eq!(id_from_row(7), 7);
        assert_eq!(id_from_row(-1), 0);
        assert_eq!(id_to_row(u64::MAX), i64::MAX);
        assert_eq!(id_to_row(7), 7);
    }
}

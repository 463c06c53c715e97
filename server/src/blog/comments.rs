//! `blog.v1.CommentService`: comments under published posts, on the store; each post is
//! checked through the post service's generated client, and readers of a post follow new
//! comments through the store's change wake-ups (`store/changes.rs`), reading by id, so a
//! follower neither misses nor repeats one.

use std::collections::VecDeque;

use chrono::Utc;
use futures_util::{Stream, stream};
use proto::blog::v1::{
    AddCommentRequest, Comment, GetPostRequest, ListCommentsRequest, ListCommentsResponse, Post,
    WatchCommentsRequest, comment_service_server, post, post_service_client::PostServiceClient,
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::{Peer, forward, from_callee, pages};
use crate::{
    error::ApiError,
    ops::shutdown::{ResponseStream, until_shutdown},
    store::{
        Store,
        changes::{Changes, Watch},
        database_error,
        rows::{CommentRow, micros},
    },
};

pub const MAX_AUTHOR_CHARS: usize = 40;
pub const MAX_TEXT_CHARS: usize = 2000;
/// Comments one post keeps at most; more are refused (RESOURCE_EXHAUSTED).
pub const MAX_PER_POST: i64 = 10_000;
/// Posts followed on one replica at once.
pub const MAX_WATCHED_POSTS: usize = 1000;
/// The notification channel (PostgreSQL) for new comments.
pub const CHANNEL: &str = "blog_comments";

const COLUMNS: &str = "post_id, id, author, text, create_time_us";

#[derive(Debug, Clone)]
pub struct CommentService {
    store: Store,
    changes: Changes,
    posts: PostServiceClient<Peer>,
    shutdown: CancellationToken,
}

impl CommentService {
    pub fn new(store: Store, changes: Changes, posts: Peer, shutdown: CancellationToken) -> Self {
        Self {
            store,
            changes,
            posts: PostServiceClient::new(posts),
            shutdown,
        }
    }

    /// The post, asked of the post service on behalf of `request`.
    async fn post<T>(&self, request: &Request<T>, id: &str) -> Result<Post, Status> {
        if id.is_empty() {
            return Err(ApiError::invalid("post_id", "must not be empty").into());
        }
        let asked = forward(request, GetPostRequest { id: id.to_owned() });
        match self.posts.clone().get_post(asked).await {
            Ok(post) => Ok(post.into_inner()),
            Err(status) => Err(from_callee("post", status)),
        }
    }

    async fn after(
        &self,
        post_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<CommentRow>, ApiError> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM blog_comments WHERE post_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        ))
        .bind(post_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await
        .map_err(database_error)
    }
}

#[tonic::async_trait]
impl comment_service_server::CommentService for CommentService {
    async fn add_comment(
        &self,
        request: Request<AddCommentRequest>,
    ) -> Result<Response<Comment>, Status> {
        let post = self.post(&request, &request.get_ref().post_id).await?;
        if post.state() != post::State::Published {
            return Err(ApiError::FailedPrecondition {
                kind: "post",
                subject: post.id,
                description: "comments are for published posts; this one is a draft".into(),
            }
            .into());
        }
        let AddCommentRequest { post_id, comment } = request.into_inner();
        let comment = comment.unwrap_or_default();
        let author = comment.author.trim();
        let chars = author.chars().count();
        if chars == 0 || chars > MAX_AUTHOR_CHARS {
            return Err(ApiError::invalid(
                "comment.author",
                format!("must be 1 to {MAX_AUTHOR_CHARS} characters, got {chars}"),
            )
            .into());
        }
        let chars = comment.text.trim().chars().count();
        if chars == 0 || comment.text.chars().count() > MAX_TEXT_CHARS {
            return Err(ApiError::invalid(
                "comment.text",
                format!("must be 1 to {MAX_TEXT_CHARS} characters, got {chars}"),
            )
            .into());
        }

        let writer = self.store.write_lock().await;
        let mut tx = self.store.pool().begin().await.map_err(database_error)?;
        // Numbering through the post's counter row queues concurrent additions to one post.
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO blog_comment_counters (post_id, last_id) VALUES ($1, 1) \
             ON CONFLICT (post_id) DO UPDATE SET last_id = blog_comment_counters.last_id + 1 \
             RETURNING last_id",
        )
        .bind(&post_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|error| gone_or(error, &post_id))?;
        if id > MAX_PER_POST {
            return Err(ApiError::LimitExceeded {
                subject: "comments on one post",
                limit: MAX_PER_POST as u32,
            }
            .into());
        }
        let row = CommentRow {
            post_id,
            id,
            author: author.to_owned(),
            text: comment.text,
            create_time_us: micros(Utc::now()),
        };
        sqlx::query(
            "INSERT INTO blog_comments (post_id, id, author, text, create_time_us) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.post_id)
        .bind(row.id)
        .bind(&row.author)
        .bind(&row.text)
        .bind(row.create_time_us)
        .execute(&mut *tx)
        .await
        .map_err(|error| gone_or(error, &row.post_id))?;
        self.changes.announce(&mut tx, &row.post_id).await?;
        tx.commit().await.map_err(database_error)?;
        drop(writer);
        self.changes.committed(&row.post_id);
        Ok(Response::new(row.into()))
    }

    async fn list_comments(
        &self,
        request: Request<ListCommentsRequest>,
    ) -> Result<Response<ListCommentsResponse>, Status> {
        self.post(&request, &request.get_ref().post_id).await?;
        let ListCommentsRequest {
            post_id,
            page_size,
            page_token,
        } = request.into_inner();
        let size = pages::size(page_size)?;
        let after = if page_token.is_empty() {
            0
        } else {
            decode_token(&page_token)?
        };
        let mut rows = self.after(&post_id, after, i64::from(size) + 1).await?;
        let more = rows.len() > size as usize;
        rows.truncate(size as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => encode_token(last.id),
            _ => String::new(),
        };
        Ok(Response::new(ListCommentsResponse {
            comments: rows.into_iter().map(Comment::from).collect(),
            next_page_token,
        }))
    }

    type WatchCommentsStream = ResponseStream<Comment>;

    async fn watch_comments(
        &self,
        request: Request<WatchCommentsRequest>,
    ) -> Result<Response<Self::WatchCommentsStream>, Status> {
        self.post(&request, &request.get_ref().post_id).await?;
        let WatchCommentsRequest { post_id, after_id } = request.into_inner();
        if after_id < 0 {
            return Err(ApiError::invalid("after_id", "must not be negative").into());
        }
        // Watching before the first read: a comment committed after it wakes us.
        let watch = self.changes.watch(&post_id)?;
        let follower = Follower {
            service: self.clone(),
            post_id,
            last: after_id,
            pending: VecDeque::new(),
            watch,
        };
        Ok(Response::new(until_shutdown(
            follower.comments(),
            self.shutdown.clone(),
        )))
    }
}

/// One reader of a post's comments: reads what follows its last from the store, and waits
/// for a wake-up when there is nothing more.
struct Follower {
    service: CommentService,
    post_id: String,
    last: i64,
    pending: VecDeque<CommentRow>,
    watch: Watch,
}

impl Follower {
    fn comments(self) -> impl Stream<Item = Result<Comment, Status>> + Send {
        stream::unfold(Some(self), |state| async move {
            let mut this = state?;
            match this.next().await {
                Ok(comment) => Some((Ok(comment), Some(this))),
                Err(error) => Some((Err(error.into()), None)),
            }
        })
    }

    async fn next(&mut self) -> Result<Comment, ApiError> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                self.last = row.id;
                return Ok(row.into());
            }
            let rows = self
                .service
                .after(&self.post_id, self.last, i64::from(pages::MAX_PAGE_SIZE))
                .await?;
            if rows.is_empty() {
                self.watch.changed().await;
            } else {
                self.pending.extend(rows);
            }
        }
    }
}

/// A write that failed because the post went meanwhile is NOT_FOUND; others are the
/// store's failure.
fn gone_or(error: sqlx::Error, post_id: &str) -> ApiError {
    match &error {
        sqlx::Error::Database(database) if database.is_foreign_key_violation() => {
            ApiError::NotFound {
                kind: "post",
                id: post_id.to_owned(),
            }
        }
        _ => database_error(error),
    }
}

fn encode_token(id: i64) -> String {
    pages::token(&format!("c{id}"))
}

fn decode_token(token: &str) -> Result<i64, ApiError> {
    pages::position(token)?
        .strip_prefix('c')
        .and_then(|id| id.parse().ok())
        .filter(|id: &i64| *id >= 0)
        .ok_or_else(pages::not_ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_strangers_are_refused() {
        assert_eq!(decode_token(&encode_token(42)).expect("token"), 42);
        assert!(decode_token("not a token").is_err());
        assert!(decode_token(&pages::token("c-1")).is_err());
    }
}

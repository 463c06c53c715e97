//! `blog.v1.PostService`: posts on the store; each post's author is checked and named by
//! the author service, through its generated client.

use chrono::Utc;
use proto::blog::v1::{
    CreatePostRequest, DeletePostRequest, GetAuthorRequest, GetPostRequest, ListPostsRequest,
    ListPostsResponse, Post, PublishPostRequest, UpdatePostRequest,
    author_service_client::AuthorServiceClient, post, post_service_server,
};
use tonic::{Code, Request, Response, Status};

use super::{Peer, forward, from_callee, pages};
use crate::{
    error::ApiError,
    store::{
        Store, database_error,
        rows::{PostRow, micros, revision_of},
    },
};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 100_000;

const COLUMNS: &str = "id, author_id, title, body, state, create_time_us, update_time_us, \
                       publish_time_us, revision";

#[derive(Debug, Clone)]
pub struct PostService {
    store: Store,
    authors: AuthorServiceClient<Peer>,
}

impl PostService {
    pub fn new(store: Store, authors: Peer) -> Self {
        Self {
            store,
            authors: AuthorServiceClient::new(authors),
        }
    }

    /// The author's display name, asked of the author service on behalf of `request`.
    async fn author_name<T>(&self, request: &Request<T>, id: &str) -> Result<String, Status> {
        let asked = forward(request, GetAuthorRequest { id: id.to_owned() });
        match self.authors.clone().get_author(asked).await {
            Ok(author) => Ok(author.into_inner().display_name),
            Err(status) => Err(from_callee("author", status)),
        }
    }

    /// The author's name for showing a post: blank if the author is gone (the post still
    /// shows).
    async fn name_or_blank<T>(&self, request: &Request<T>, id: &str) -> Result<String, Status> {
        match self.author_name(request, id).await {
            Ok(name) => Ok(name),
            Err(status) if status.code() == Code::NotFound => Ok(String::new()),
            Err(status) => Err(status),
        }
    }

    async fn show<T>(&self, request: &Request<T>, row: PostRow) -> Result<Post, Status> {
        let name = self.name_or_blank(request, &row.author_id).await?;
        Ok(shown(row, name)?)
    }

    async fn row(&self, id: &str) -> Result<PostRow, ApiError> {
        if id.is_empty() {
            return Err(ApiError::invalid("id", "must not be empty"));
        }
        sqlx::query_as::<_, PostRow>(&format!("SELECT {COLUMNS} FROM blog_posts WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await
            .map_err(database_error)?
            .ok_or_else(|| not_found(id))
    }

    /// After a write conditioned on `revision`: if it changed no row, someone else changed
    /// (or deleted) the post in between: ABORTED with the current etag, or NOT_FOUND.
    async fn written(&self, id: &str, revision: i64, affected: u64) -> Result<(), ApiError> {
        if affected == 1 {
            return Ok(());
        }
        let current = self.row(id).await?;
        Err(conflict(id, revision, current.revision))
    }

    /// Refuses a change named by an old etag: ABORTED, saying the current one.
    fn check_etag(row: &PostRow, etag: &str, field: &'static str) -> Result<i64, ApiError> {
        let revision = revision_of(etag).ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("must be the post's etag (e.g. 'r1'), got '{etag}'"),
            )
        })?;
        if revision != row.revision {
            return Err(conflict(&row.id, revision, row.revision));
        }
        Ok(revision)
    }
}

#[tonic::async_trait]
impl post_service_server::PostService for PostService {
    async fn create_post(
        &self,
        request: Request<CreatePostRequest>,
    ) -> Result<Response<Post>, Status> {
        let post = request.get_ref().post.clone().unwrap_or_default();
        validate_title(&post.title, "post.title")?;
        validate_body(&post.body, "post.body")?;
        if post.author_id.is_empty() {
            return Err(ApiError::invalid("post.author_id", "must name an author").into());
        }
        // The author must exist: the author service says.
        let author = match self.author_name(&request, &post.author_id).await {
            Ok(name) => name,
            Err(status) if status.code() == Code::NotFound => {
                return Err(ApiError::invalid(
                    "post.author_id",
                    format!("no author '{}' ({})", post.author_id, status.message()),
                )
                .into());
            }
            Err(status) => return Err(status),
        };
        let now = micros(Utc::now());
        let row = PostRow {
            id: uuid::Uuid::new_v4().simple().to_string(),
            author_id: post.author_id,
            title: post.title.trim().to_owned(),
            body: post.body,
            state: i64::from(post::State::Draft as i32),
            create_time_us: now,
            update_time_us: now,
            publish_time_us: None,
            revision: 1,
        };
        let _writer = self.store.write_lock().await;
        sqlx::query(
            "INSERT INTO blog_posts (id, author_id, title, body, state, create_time_us, \
             update_time_us, publish_time_us, revision) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
        )
        .bind(&row.id)
        .bind(&row.author_id)
        .bind(&row.title)
        .bind(&row.body)
        .bind(row.state)
        .bind(row.create_time_us)
        .bind(row.update_time_us)
        .bind(row.revision)
        .execute(self.store.pool())
        .await
        .map_err(database_error)?;
        let post = shown(row, author)?;
        Ok(Response::new(post))
    }

    async fn get_post(&self, request: Request<GetPostRequest>) -> Result<Response<Post>, Status> {
        let row = self.row(&request.get_ref().id).await?;
        Ok(Response::new(self.show(&request, row).await?))
    }

    async fn list_posts(
        &self,
        request: Request<ListPostsRequest>,
    ) -> Result<Response<ListPostsResponse>, Status> {
        let asked = request.get_ref();
        let size = pages::size(asked.page_size)?;
        let after = if asked.page_token.is_empty() {
            None
        } else {
            Some(decode_token(&asked.page_token)?)
        };
        let state = (asked.state != 0).then_some(i64::from(asked.state));
        // One more than a page, to know whether another follows.
        let rows: Vec<PostRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM blog_posts \
             WHERE ($1 = '' OR author_id = $1) AND ($2 = 0 OR state = $2) \
             AND ($3 = 0 OR create_time_us < $4 OR (create_time_us = $4 AND id < $5)) \
             ORDER BY create_time_us DESC, id DESC LIMIT $6"
        ))
        .bind(&asked.author_id)
        .bind(state.unwrap_or(0))
        .bind(i64::from(after.is_some()))
        .bind(after.as_ref().map_or(0, |(time, _)| *time))
        .bind(after.as_ref().map_or(String::new(), |(_, id)| id.clone()))
        .bind(i64::from(size) + 1)
        .fetch_all(self.store.pool())
        .await
        .map_err(database_error)?;
        let more = rows.len() > size as usize;
        let rows: Vec<PostRow> = rows.into_iter().take(size as usize).collect();
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => encode_token(last.create_time_us, &last.id),
            _ => String::new(),
        };
        // One call to the author service per author on the page, not per post.
        let mut names = std::collections::HashMap::new();
        let mut posts = Vec::with_capacity(rows.len());
        for row in rows {
            let name = match names.get(&row.author_id) {
                Some(name) => String::clone(name),
                None => {
                    let name = self.name_or_blank(&request, &row.author_id).await?;
                    names.insert(row.author_id.clone(), name.clone());
                    name
                }
            };
            posts.push(shown(row, name)?);
        }
        Ok(Response::new(ListPostsResponse {
            posts,
            next_page_token,
        }))
    }

    async fn update_post(
        &self,
        request: Request<UpdatePostRequest>,
    ) -> Result<Response<Post>, Status> {
        let UpdatePostRequest { post, update_mask } = request.get_ref().clone();
        let post = post.unwrap_or_default();
        let paths = update_mask.map(|mask| mask.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(ApiError::invalid(
                "update_mask",
                "must name the fields to change: title, body",
            )
            .into());
        }
        let mut row = self.row(&post.id).await?;
        let revision = Self::check_etag(&row, &post.etag, "post.etag")?;
        for path in &paths {
            match path.as_str() {
                "title" => {
                    validate_title(&post.title, "post.title")?;
                    row.title = post.title.trim().to_owned();
                }
                "body" => {
                    validate_body(&post.body, "post.body")?;
                    row.body = post.body.clone();
                }
                other => {
                    return Err(ApiError::invalid(
                        "update_mask",
                        format!("'{other}' cannot be changed; only title and body can"),
                    )
                    .into());
                }
            }
        }
        row.update_time_us = micros(Utc::now());
        row.revision = revision + 1;
        let writer = self.store.write_lock().await;
        let changed = sqlx::query(
            "UPDATE blog_posts SET title = $1, body = $2, update_time_us = $3, revision = $4 \
             WHERE id = $5 AND revision = $6",
        )
        .bind(&row.title)
        .bind(&row.body)
        .bind(row.update_time_us)
        .bind(row.revision)
        .bind(&row.id)
        .bind(revision)
        .execute(self.store.pool())
        .await
        .map_err(database_error)?;
        drop(writer);
        self.written(&row.id, revision, changed.rows_affected())
            .await?;
        Ok(Response::new(self.show(&request, row).await?))
    }

    async fn publish_post(
        &self,
        request: Request<PublishPostRequest>,
    ) -> Result<Response<Post>, Status> {
        let PublishPostRequest { id, etag } = request.get_ref().clone();
        let mut row = self.row(&id).await?;
        let revision = Self::check_etag(&row, &etag, "etag")?;
        if row.state == i64::from(post::State::Published as i32) {
            return Err(ApiError::FailedPrecondition {
                kind: "state",
                subject: id.clone(),
                description: format!("post {id} is published already"),
            }
            .into());
        }
        let now = micros(Utc::now());
        row.state = i64::from(post::State::Published as i32);
        row.publish_time_us = Some(now);
        row.update_time_us = now;
        row.revision = revision + 1;
        let writer = self.store.write_lock().await;
        let changed = sqlx::query(
            "UPDATE blog_posts SET state = $1, publish_time_us = $2, update_time_us = $2, \
             revision = $3 WHERE id = $4 AND revision = $5",
        )
        .bind(row.state)
        .bind(now)
        .bind(row.revision)
        .bind(&id)
        .bind(revision)
        .execute(self.store.pool())
        .await
        .map_err(database_error)?;
        drop(writer);
        self.written(&id, revision, changed.rows_affected()).await?;
        Ok(Response::new(self.show(&request, row).await?))
    }

    async fn delete_post(
        &self,
        request: Request<DeletePostRequest>,
    ) -> Result<Response<()>, Status> {
        let DeletePostRequest { id, etag } = request.into_inner();
        let row = self.row(&id).await?;
        let revision = Self::check_etag(&row, &etag, "etag")?;
        let writer = self.store.write_lock().await;
        let deleted = sqlx::query("DELETE FROM blog_posts WHERE id = $1 AND revision = $2")
            .bind(&id)
            .bind(revision)
            .execute(self.store.pool())
            .await
            .map_err(database_error)?;
        drop(writer);
        self.written(&id, revision, deleted.rows_affected()).await?;
        Ok(Response::new(()))
    }
}

/// The post as the API shows it: its author's name, and its body rendered.
fn shown(row: PostRow, author_display_name: String) -> Result<Post, ApiError> {
    let mut post = row
        .into_proto(author_display_name)
        .map_err(ApiError::internal)?;
    post.body_html = super::markdown::to_html(&post.body);
    Ok(post)
}

fn validate_title(title: &str, field: &'static str) -> Result<(), ApiError> {
    let chars = title.trim().chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("must be 1 to {MAX_TITLE_CHARS} characters, got {chars}"),
        ));
    }
    Ok(())
}

fn validate_body(body: &str, field: &'static str) -> Result<(), ApiError> {
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {MAX_BODY_CHARS} characters, got {chars}"),
        ));
    }
    Ok(())
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        kind: "post",
        id: id.to_owned(),
    }
}

fn conflict(id: &str, sent: i64, now: i64) -> ApiError {
    ApiError::Aborted(format!(
        "post {id} was changed by someone else: your etag is r{sent}, the post is at r{now}; \
         get it again and redo your change"
    ))
}

/// A page token: where the last page ended (time and id), opaque to clients.
fn encode_token(time: i64, id: &str) -> String {
    pages::token(&format!("{time}:{id}"))
}

fn decode_token(token: &str) -> Result<(i64, String), ApiError> {
    let position = pages::position(token)?;
    let (time, id) = position.split_once(':').ok_or_else(pages::not_ours)?;
    Ok((time.parse().map_err(|_| pages::not_ours())?, id.to_owned()))
}

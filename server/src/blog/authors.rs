//! `blog.v1.AuthorService`: authors on the store.

use chrono::Utc;
use proto::blog::v1::{Author, CreateAuthorRequest, GetAuthorRequest, author_service_server};
use tonic::{Request, Response, Status};

use crate::{
    error::ApiError,
    store::{
        Store, database_error,
        rows::{AuthorRow, micros},
    },
};

pub const MAX_DISPLAY_NAME_CHARS: usize = 80;
pub const MAX_BIO_CHARS: usize = 2000;

#[derive(Debug, Clone)]
pub struct AuthorService {
    store: Store,
}

impl AuthorService {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl author_service_server::AuthorService for AuthorService {
    async fn create_author(
        &self,
        request: Request<CreateAuthorRequest>,
    ) -> Result<Response<Author>, Status> {
        let author = request.into_inner().author.unwrap_or_default();
        let name = author.display_name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_DISPLAY_NAME_CHARS {
            return Err(ApiError::invalid(
                "author.display_name",
                format!("must be 1 to {MAX_DISPLAY_NAME_CHARS} characters, got {chars}"),
            )
            .into());
        }
        let bio_chars = author.bio.chars().count();
        if bio_chars > MAX_BIO_CHARS {
            return Err(ApiError::invalid(
                "author.bio",
                format!("must be at most {MAX_BIO_CHARS} characters, got {bio_chars}"),
            )
            .into());
        }
        let row = AuthorRow {
            id: uuid::Uuid::new_v4().simple().to_string(),
            display_name: name.to_owned(),
            bio: author.bio,
            create_time_us: micros(Utc::now()),
        };
        let _writer = self.store.write_lock().await;
        sqlx::query(
            "INSERT INTO blog_authors (id, display_name, bio, create_time_us) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&row.id)
        .bind(&row.display_name)
        .bind(&row.bio)
        .bind(row.create_time_us)
        .execute(self.store.pool())
        .await
        .map_err(database_error)?;
        Ok(Response::new(row.into()))
    }

    async fn get_author(
        &self,
        request: Request<GetAuthorRequest>,
    ) -> Result<Response<Author>, Status> {
        let id = request.into_inner().id;
        if id.is_empty() {
            return Err(ApiError::invalid("id", "must not be empty").into());
        }
        let row: Option<AuthorRow> = sqlx::query_as(
            "SELECT id, display_name, bio, create_time_us FROM blog_authors WHERE id = $1",
        )
        .bind(&id)
        .fetch_optional(self.store.pool())
        .await
        .map_err(database_error)?;
        let row = row.ok_or(ApiError::NotFound { kind: "author", id })?;
        Ok(Response::new(row.into()))
    }
}

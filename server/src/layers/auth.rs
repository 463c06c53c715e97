//! Authentication: one bearer token, required for the methods that change state.
//!
//! Which methods change state is decided here, in one list: posting to a chat room
//! (`chat.v1.ChatService/Post` and `/Join`), uploading a file
//! (`files.v1.FileService/Upload`), and the blog's writes (authors, posts, comments).
//! Everything else only reads (greetings, predictions, weather, chat subscriptions, file
//! listing and download, the blog's reads, health, reflection, the interop service) and
//! stays open, so the seeds' clients keep working unchanged.
//!
//! One token means one writer's identity: the blog's posts name their author by an
//! `author_id` in the request, not by the token (a server with several writers would give
//! each a token and take the author from it; this one has a single shared secret).
//!
//! Without a token configured, every method is open (the server warns at start). With one,
//! a protected call without `authorization: Bearer <token>` gets UNAUTHENTICATED, and one
//! with a different token PERMISSION_DENIED.

use std::sync::Arc;

use http::header::AUTHORIZATION;
use proto::{
    blog::v1::{author_service_server, comment_service_server, post_service_server},
    chat::v1::chat_service_server,
    files::v1::file_service_server,
};
use subtle::ConstantTimeEq;
use tonic::Status;

use super::body::{CallBody, CallResponse};
use super::calls::CallRequest;
use crate::error::ApiError;

/// The methods that change state, as (service, method). The service names are the
/// generated constants, so a renamed service cannot silently fall out of this list.
const CHANGES_STATE: &[(&str, &str)] = &[
    (chat_service_server::SERVICE_NAME, "Post"),
    (chat_service_server::SERVICE_NAME, "Join"),
    (file_service_server::SERVICE_NAME, "Upload"),
    (author_service_server::SERVICE_NAME, "CreateAuthor"),
    (post_service_server::SERVICE_NAME, "CreatePost"),
    (post_service_server::SERVICE_NAME, "UpdatePost"),
    (post_service_server::SERVICE_NAME, "PublishPost"),
    (post_service_server::SERVICE_NAME, "DeletePost"),
    (comment_service_server::SERVICE_NAME, "AddComment"),
];

/// Whether the gRPC method at `path` (`/package.Service/Method`) changes state.
pub fn changes_state(path: &str) -> bool {
    let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return false;
    };
    CHANGES_STATE.contains(&(service, method))
}

/// The server's token, if it has one.
#[derive(Debug, Clone)]
pub struct Auth {
    token: Option<Arc<str>>,
}

impl Auth {
    pub fn new(token: Option<&str>) -> Self {
        Self {
            token: token.map(Arc::from),
        }
    }

    /// Whether a call to `path` with these `authorization` header values may go on.
    fn check(&self, path: &str, authorization: Option<&[u8]>) -> Result<(), ApiError> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        if !changes_state(path) {
            return Ok(());
        }
        let presented = authorization
            .and_then(bearer_token)
            .ok_or(ApiError::Unauthenticated)?;
        if bool::from(presented.ct_eq(token.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied)
        }
    }
}

/// The token of an `authorization: Bearer <token>` value (the scheme is case-insensitive).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(7)?;
    (scheme.eq_ignore_ascii_case(b"bearer ") && !token.is_empty()).then_some(token)
}

/// A step of every call (`layers::calls`): refuses protected calls that lack
/// the token, before they reach their handler.
pub async fn require_token(
    auth: &Auth,
    request: CallRequest,
    next: impl AsyncFnOnce(CallRequest) -> CallResponse,
) -> CallResponse {
    let authorization = request
        .headers()
        .get(AUTHORIZATION)
        .map(|value| value.as_bytes());
    match auth.check(request.uri().path(), authorization) {
        Ok(()) => next(request).await,
        Err(error) => CallBody::refusal(Status::from(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &str = "/chat.v1.ChatService/Post";

    #[test]
    fn only_state_changing_methods_are_protected() {
        assert!(changes_state(POST));
        assert!(changes_state("/chat.v1.ChatService/Join"));
        assert!(changes_state("/files.v1.FileService/Upload"));
        for open in [
            "/chat.v1.ChatService/Subscribe",
            "/files.v1.FileService/Download",
            "/Greeter/SayHello",
            "/demo.MyService/Predict",
            "/grpc.health.v1.Health/Check",
            "/chat.v1.ChatService/Post/extra",
            "chat.v1.ChatService/Post",
        ] {
            assert!(!changes_state(open), "{open}");
        }
    }

    #[test]
    fn no_token_configured_means_open() {
        assert!(Auth::new(None).check(POST, None).is_ok());
    }

    #[test]
    fn missing_or_malformed_is_unauthenticated_and_wrong_is_denied() {
        let auth = Auth::new(Some("s3cret-token"));
        let check = |value: Option<&str>| auth.check(POST, value.map(str::as_bytes));
        assert!(check(Some("Bearer s3cret-token")).is_ok());
        assert!(check(Some("bearer s3cret-token")).is_ok());
        for missing in [
            None,
            Some(""),
            Some("Bearer "),
            Some("Basic s3cret-token"),
            Some("s3cret-token"),
        ] {
            assert!(
                matches!(check(missing), Err(ApiError::Unauthenticated)),
                "{missing:?}"
            );
        }
        for wrong in ["Bearer nope", "Bearer s3cret-token2", "Bearer s3cret-toke"] {
            assert!(
                matches!(check(Some(wrong)), Err(ApiError::PermissionDenied)),
                "{wrong}"
            );
        }
        // Reads stay open even with a token configured.
        assert!(auth.check("/chat.v1.ChatService/Subscribe", None).is_ok());
    }
}

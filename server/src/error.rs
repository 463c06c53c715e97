//! Domain errors and the one place where they become gRPC statuses.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// What a handler can refuse or fail with. Every variant maps to one gRPC code in
/// [`From<ApiError> for Status`]; handlers never build a `Status` themselves.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request names a value the server cannot accept. `field` is the protobuf field
    /// name, so a client can point at the input to fix.
    #[error("{field}: {description}")]
    InvalidArgument {
        field: &'static str,
        description: String,
    },

    /// The request is well formed but names something that does not exist.
    #[error("no {kind} with id '{id}'")]
    NotFound { kind: &'static str, id: String },

    /// The request would create something that exists already.
    #[error("{kind} '{id}' already exists")]
    AlreadyExists { kind: &'static str, id: String },

    /// The request does not fit the state of what it names (resuming an upload at another
    /// offset than the server's, say); `description` says what would.
    #[error("{description}")]
    FailedPrecondition {
        kind: &'static str,
        subject: String,
        description: String,
    },

    /// What arrived is not what the client said it sent (a digest that does not match).
    #[error("{0}")]
    DataLoss(String),

    /// Another call changed the same thing at the same time; retrying may succeed.
    #[error("{0}")]
    Aborted(String),

    /// The request goes past one of the server's explicit limits.
    #[error("{subject}: at most {limit} allowed")]
    LimitExceeded { subject: &'static str, limit: u32 },

    /// A service the server depends on failed: the client may retry later.
    #[error("{dependency} is unavailable: {reason}; try again later")]
    DependencyFailed {
        dependency: &'static str,
        reason: String,
    },

    /// The server is draining: the client should retry, elsewhere or later.
    #[error("the server is shutting down; reconnect to continue")]
    ShuttingDown,

    /// The method needs the server's bearer token and the call carries none.
    #[error(
        "this method changes state and needs a bearer token: send `authorization: Bearer <token>`"
    )]
    Unauthenticated,

    /// The call carries a bearer token, but not the server's.
    #[error("the bearer token is not accepted for this method")]
    PermissionDenied,

    /// Something failed inside the server. The client gets a generic message with the
    /// request id; the cause goes to the log, never to the client.
    #[error("internal error; the server logged the cause")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn invalid(field: &'static str, description: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            description: description.into(),
        }
    }

    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let message = error.to_string();
        match error {
            ApiError::InvalidArgument { field, description } => Status::with_error_details(
                Code::InvalidArgument,
                message,
                ErrorDetails::with_bad_request_violation(field, description),
            ),
            ApiError::NotFound { kind, id } => Status::with_error_details(
                Code::NotFound,
                message,
                ErrorDetails::with_resource_info(kind, id, "", "not in the catalog"),
            ),
            ApiError::AlreadyExists { kind, id } => Status::with_error_details(
                Code::AlreadyExists,
                message,
                ErrorDetails::with_resource_info(kind, id, "", "choose another name"),
            ),
            ApiError::LimitExceeded { subject, limit } => Status::with_error_details(
                Code::ResourceExhausted,
                message,
                ErrorDetails::with_quota_failure_violation(subject, format!("limit is {limit}")),
            ),
            ApiError::FailedPrecondition {
                kind,
                subject,
                description,
            } => Status::with_error_details(
                Code::FailedPrecondition,
                message,
                ErrorDetails::with_precondition_failure_violation(kind, subject, description),
            ),
            ApiError::DataLoss(_) => Status::data_loss(message),
            ApiError::Aborted(_) => Status::aborted(message),
            ApiError::DependencyFailed { .. } => {
                tracing::warn!(%message, "dependency failed");
                Status::unavailable(message)
            }
            ApiError::ShuttingDown => Status::unavailable(message),
            ApiError::Unauthenticated => Status::unauthenticated(message),
            ApiError::PermissionDenied => Status::permission_denied(message),
            ApiError::Internal(cause) => {
                // Inside the call's span, so the line carries the request id the client sees.
                tracing::error!(cause = %ErrorChain(&*cause), "internal error");
                Status::internal(message)
            }
        }
    }
}

/// An error with its sources, `outer: inner: innermost`, for the log.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field_in_message_and_details() {
        let status = Status::from(ApiError::invalid("count", "must be between 1 and 100"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "count: must be between 1 and 100");
        let violations = status
            .get_details_bad_request()
            .expect("BadRequest details")
            .field_violations;
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "count");
    }

    #[test]
    fn limits_are_resource_exhausted_with_the_quota() {
        let status = Status::from(ApiError::LimitExceeded {
            subject: "names",
            limit: 10,
        });
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "names: at most 10 allowed");
        let quota = status.get_details_quota_failure().expect("QuotaFailure");
        assert_eq!(quota.violations[0].subject, "names");
    }

    #[test]
    fn internal_faults_hide_the_cause_from_the_client() {
        let cause = std::io::Error::other("disk on fire at /var/secret");
        let status = Status::from(ApiError::internal(cause));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"), "{}", status.message());
    }

    #[test]
    fn the_log_gets_the_whole_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot save")]
        struct Outer(#[source] std::io::Error);
        let error = Outer(std::io::Error::other("disk full"));
        assert_eq!(ErrorChain(&error).to_string(), "cannot save: disk full");
    }

    #[test]
    fn not_found_carries_the_resource() {
        let status = Status::from(ApiError::NotFound {
            kind: "city",
            id: "atlantis".into(),
        });
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "no city with id 'atlantis'");
        let info = status.get_details_resource_info().expect("ResourceInfo");
        assert_eq!(info.resource_name, "atlantis");
    }
}

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

    /// The request goes past one of the server's explicit limits.
    #[error("{subject}: at most {limit} allowed")]
    LimitExceeded { subject: &'static str, limit: u32 },

    /// The server is draining: the client should retry, elsewhere or later.
    #[error("the server is shutting down; reconnect to continue")]
    ShuttingDown,
}

impl ApiError {
    pub fn invalid(field: &'static str, description: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            description: description.into(),
        }
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
            ApiError::LimitExceeded { subject, limit } => Status::with_error_details(
                Code::ResourceExhausted,
                message,
                ErrorDetails::with_quota_failure_violation(subject, format!("limit is {limit}")),
            ),
            ApiError::ShuttingDown => Status::unavailable(message),
        }
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

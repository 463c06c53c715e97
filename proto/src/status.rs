//! How clients show a failed call to people: the code's gRPC name and the `google.rpc`
//! error details the server attached. Shared by the CLI and the web app, so both say the
//! same thing the same way.

use tonic::{Code, Status};
use tonic_types::{ErrorDetail, StatusExt};

/// The name gRPC gives a status code (`NOT_FOUND`), which is what users search for.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// One line per error detail a user can act on: `field count: must be between 1 and 100`.
pub fn details(status: &Status) -> Vec<String> {
    status
        .get_error_details_vec()
        .into_iter()
        .flat_map(|detail| match detail {
            ErrorDetail::BadRequest(bad) => bad
                .field_violations
                .into_iter()
                .map(|v| format!("field {}: {}", v.field, v.description))
                .collect(),
            ErrorDetail::QuotaFailure(quota) => quota
                .violations
                .into_iter()
                .map(|v| format!("limit on {}: {}", v.subject, v.description))
                .collect(),
            ErrorDetail::ResourceInfo(info) => vec![format!(
                "{} '{}': {}",
                info.resource_type, info.resource_name, info.description
            )],
            other => vec![format!("{other:?}")],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tonic_types::ErrorDetails;

    use super::*;

    #[test]
    fn code_names_match_the_grpc_spelling() {
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::Ok), "OK");
    }

    #[test]
    fn details_read_as_lines() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "count: too big",
            ErrorDetails::with_bad_request_violation("count", "must be at most 100"),
        );
        assert_eq!(details(&status), ["field count: must be at most 100"]);
        assert!(details(&Status::internal("no details")).is_empty());
    }
}

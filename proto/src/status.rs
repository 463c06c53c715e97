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
/// Every kind of `google.rpc` detail has a line written for people; none is dumped with
/// `Debug`, which would also put every detail type's `Debug` code into the web app.
pub fn details(status: &Status) -> Vec<String> {
    let mut lines = Vec::new();
    for detail in status.get_error_details_vec() {
        match detail {
            ErrorDetail::BadRequest(bad) => lines.extend(
                bad.field_violations
                    .into_iter()
                    .map(|v| format!("field {}: {}", v.field, v.description)),
            ),
            ErrorDetail::QuotaFailure(quota) => lines.extend(
                quota
                    .violations
                    .into_iter()
                    .map(|v| format!("limit on {}: {}", v.subject, v.description)),
            ),
            ErrorDetail::PreconditionFailure(failure) => lines.extend(
                failure
                    .violations
                    .into_iter()
                    .map(|v| format!("{} {}: {}", v.r#type, v.subject, v.description)),
            ),
            ErrorDetail::ResourceInfo(info) => lines.push(format!(
                "{} '{}': {}",
                info.resource_type, info.resource_name, info.description
            )),
            ErrorDetail::RetryInfo(retry) => lines.push(match retry.retry_delay {
                Some(delay) => format!("retry in {} ms", delay.as_millis()),
                None => "retry later".to_owned(),
            }),
            ErrorDetail::ErrorInfo(info) => {
                lines.push(format!("reason {} ({})", info.reason, info.domain));
            }
            ErrorDetail::RequestInfo(info) => lines.push(format!("request {}", info.request_id)),
            ErrorDetail::Help(help) => lines.extend(
                help.links
                    .into_iter()
                    .map(|link| format!("{}: {}", link.description, link.url)),
            ),
            ErrorDetail::LocalizedMessage(message) => lines.push(message.message),
            ErrorDetail::DebugInfo(info) => lines.push(info.detail),
            // A kind added to tonic-types after this was written.
            _ => lines.push("a detail this client cannot show".to_owned()),
        }
    }
    lines
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

    #[test]
    fn every_kind_the_server_sends_reads_as_a_line() {
        let retry = Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(std::time::Duration::from_millis(1500))),
        );
        assert_eq!(details(&retry), ["retry in 1500 ms"]);
        let precondition = Status::with_error_details(
            Code::FailedPrecondition,
            "not yet",
            ErrorDetails::with_precondition_failure_violation(
                "STATE",
                "post 7",
                "publish it first",
            ),
        );
        assert_eq!(details(&precondition), ["STATE post 7: publish it first"]);
        let resource = Status::with_error_details(
            Code::NotFound,
            "gone",
            ErrorDetails::with_resource_info("post", "7", "", "no such post"),
        );
        assert_eq!(details(&resource), ["post '7': no such post"]);
    }
}

//! gRPC status → HTTP status and a `google.rpc.Status` JSON body, as Google's APIs (and
//! grpc-gateway) map them: INVALID_ARGUMENT 400, NOT_FOUND 404, UNAUTHENTICATED 401, …
//!
//! The details are rendered by hand from tonic-types' decoded `ErrorDetail`s rather than
//! through the descriptor pool: the server's pool does not carry google/rpc's protos, and
//! these few types are all the server sends.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::{ErrorDetail, StatusExt};

/// A REST error: the HTTP status and the `google.rpc.Status` it carries.
#[derive(Debug)]
pub struct RestError {
    code: Code,
    message: String,
    details: Vec<Value>,
}

impl RestError {
    fn new(code: Code, message: String) -> Self {
        Self {
            code,
            message,
            details: Vec::new(),
        }
    }

    /// A request the gateway cannot turn into a call: INVALID_ARGUMENT naming `field`.
    pub fn invalid(field: &str, description: String) -> Self {
        Self {
            details: vec![bad_request(field, &description)],
            ..Self::new(Code::InvalidArgument, format!("{field}: {description}"))
        }
    }

    pub fn invalid_field(field: &str, description: &str) -> Self {
        Self::invalid(field, description.to_owned())
    }

    pub fn no_route(method: &http::Method, path: &str) -> Self {
        Self::new(Code::NotFound, format!("no REST method at {method} {path}"))
    }

    pub fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self {
            // Not a gRPC code of its own: the HTTP status says it.
            ..Self::new(
                Code::Unimplemented,
                format!("{path} does not take {method}"),
            )
        }
    }

    pub fn unimplemented(message: String) -> Self {
        Self::new(Code::Unimplemented, message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            Code::ResourceExhausted,
            format!("the request body is larger than {limit} bytes"),
        )
    }

    pub fn internal(cause: String) -> Self {
        tracing::error!(%cause, "REST gateway: internal error");
        Self::new(
            Code::Internal,
            "internal error; the server logged the cause".to_owned(),
        )
    }

    fn http_status(&self) -> StatusCode {
        if self.code == Code::Unimplemented && self.message.contains(" does not take ") {
            return StatusCode::METHOD_NOT_ALLOWED;
        }
        if self.code == Code::ResourceExhausted
            && self.message.starts_with("the request body is larger")
        {
            return StatusCode::PAYLOAD_TOO_LARGE;
        }
        http_status(self.code)
    }
}

impl RestError {
    /// The `google.rpc.Status` as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code as i32,
            "message": self.message,
            "details": self.details,
        })
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = self.to_json();
        (
            self.http_status(),
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// The HTTP status for a gRPC code (google/rpc/code.proto's mapping).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The call's outcome from its trailers (or, trailers-only, its headers): `None` for OK.
pub fn from_grpc(headers: &HeaderMap, trailers: &HeaderMap) -> Option<RestError> {
    let source = if trailers.contains_key("grpc-status") {
        trailers
    } else {
        headers
    };
    let status = tonic::Status::from_header_map(source)?;
    if status.code() == Code::Ok {
        return None;
    }
    let details = status
        .get_error_details_vec()
        .into_iter()
        .filter_map(detail_json)
        .collect();
    Some(RestError {
        code: status.code(),
        message: status.message().to_owned(),
        details,
    })
}

fn bad_request(field: &str, description: &str) -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{ "field": field, "description": description }],
    })
}

/// One `google.rpc` detail in the JSON mapping of its message.
fn detail_json(detail: ErrorDetail) -> Option<Value> {
    Some(match detail {
        ErrorDetail::BadRequest(bad) => json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": bad.field_violations.iter().map(|v| json!({
                "field": v.field, "description": v.description,
            })).collect::<Vec<_>>(),
        }),
        ErrorDetail::ResourceInfo(info) => json!({
            "@type": "type.googleapis.com/google.rpc.ResourceInfo",
            "resourceType": info.resource_type,
            "resourceName": info.resource_name,
            "owner": info.owner,
            "description": info.description,
        }),
        ErrorDetail::RetryInfo(retry) => {
            let delay = retry.retry_delay?;
            json!({
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                // google.protobuf.Duration's JSON form: seconds with an `s`.
                "retryDelay": format!("{:.3}s", delay.as_secs_f64()),
            })
        }
        ErrorDetail::QuotaFailure(quota) => json!({
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": quota.violations.iter().map(|v| json!({
                "subject": v.subject, "description": v.description,
            })).collect::<Vec<_>>(),
        }),
        ErrorDetail::PreconditionFailure(failure) => json!({
            "@type": "type.googleapis.com/google.rpc.PreconditionFailure",
            "violations": failure.violations.iter().map(|v| json!({
                "type": v.r#type, "subject": v.subject, "description": v.description,
            })).collect::<Vec<_>>(),
        }),
        ErrorDetail::ErrorInfo(info) => json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": info.reason,
            "domain": info.domain,
            "metadata": info.metadata,
        }),
        _ => return None,
    })
}

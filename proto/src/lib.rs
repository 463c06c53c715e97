//! Generated gRPC code for the project's `.proto` files, one module per protobuf package.
//!
//! The server enables the `server` feature; native clients enable `transport`; the browser
//! enables neither and gets plain clients generic over any tonic transport.

// Generated code is not ours to lint.
#![allow(missing_debug_implementations, clippy::all)]

/// The seeds' Greeter. It has no protobuf package, so it lives at the crate root on the wire
/// (`/Greeter/SayHello`) and in this module here.
pub mod greeter {
    tonic::include_proto!("_");
}

/// The seeds' `demo.MyService`.
pub mod demo {
    tonic::include_proto!("demo");
}

pub mod weather {
    pub mod v1 {
        tonic::include_proto!("weather.v1");
    }
}

/// Every file's descriptors, encoded: what gRPC server reflection serves, and what lets a
/// client print any message as JSON.
#[cfg(feature = "descriptor")]
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

/// The name gRPC gives a status code (`NOT_FOUND`), as clients show it to people.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
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

#[cfg(test)]
mod tests {
    #[test]
    fn code_names_match_the_grpc_spelling() {
        assert_eq!(super::code_name(tonic::Code::NotFound), "NOT_FOUND");
        assert_eq!(
            super::code_name(tonic::Code::InvalidArgument),
            "INVALID_ARGUMENT"
        );
        assert_eq!(super::code_name(tonic::Code::Ok), "OK");
    }
}

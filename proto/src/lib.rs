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

/// The official gRPC interop service, `grpc.testing.TestService`.
pub mod grpc_testing {
    tonic::include_proto!("grpc.testing");
}

/// The seeds' chat room.
pub mod chat {
    pub mod v1 {
        tonic::include_proto!("chat.v1");
    }
}

/// The seeds' file upload.
pub mod files {
    pub mod v1 {
        tonic::include_proto!("files.v1");
    }
}

pub mod weather {
    pub mod v1 {
        tonic::include_proto!("weather.v1");
    }
}

/// The blog: authors, posts and comments, services that call each other.
pub mod blog {
    pub mod v1 {
        tonic::include_proto!("blog.v1");
    }
}

/// Every file's descriptors, encoded: what gRPC server reflection serves, and what lets a
/// client print any message as JSON.
#[cfg(feature = "descriptor")]
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

pub mod status;

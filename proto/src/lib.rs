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

pub mod codec;
pub mod status;

/// gRPC's four call modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidi,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Unary => "unary",
            Self::ServerStreaming => "server streaming",
            Self::ClientStreaming => "client streaming",
            Self::Bidi => "bidi",
        }
    }
}

/// Every method of every service here, by its path (`/package.Service/Method`).
pub const METHODS: &[(&str, Mode)] = include!(concat!(env!("OUT_DIR"), "/methods.rs"));

/// The call mode of the method at `path`, if it is one of ours.
pub fn mode(path: &str) -> Option<Mode> {
    METHODS
        .iter()
        .find(|(method, _)| *method == path)
        .map(|(_, mode)| *mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_has_its_mode() {
        assert_eq!(mode("/Greeter/SayHello"), Some(Mode::Unary));
        assert_eq!(mode("/Greeter/SayHelloStream"), Some(Mode::ServerStreaming));
        assert_eq!(mode("/Greeter/SayHelloToAll"), Some(Mode::ClientStreaming));
        assert_eq!(mode("/Greeter/Converse"), Some(Mode::Bidi));
        assert_eq!(mode("/chat.v1.ChatService/Join"), Some(Mode::Bidi));
        assert_eq!(mode("/demo.MyService/Predict"), Some(Mode::Unary));
        assert_eq!(mode("/nope.Nope/Nothing"), None);
    }
}

//! Conversions between the server's domain values and protobuf's well-known types, in one
//! place for every service.

/// An instant as protobuf's `google.protobuf.Timestamp`.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

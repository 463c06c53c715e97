//! Compiles the .proto files with protox (pure Rust, no system `protoc`) and generates code
//! for what the enabled features need: clients always, servers with `server`, `connect()`
//! with `transport`.

use std::{env, fs, path::PathBuf};

use prost::Message as _;

/// The files to generate code for (their imports come along).
const PROTOS: &[&str] = &[
    "greeter.proto",
    "my_service.proto",
    "weather/v1/weather.proto",
    "chat/v1/chat.proto",
    "files/v1/files.proto",
    "grpc/testing/test.proto",
];

/// Imported by the files above: watched for changes too.
const IMPORTS: &[&str] = &["grpc/testing/empty.proto", "grpc/testing/messages.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    for proto in PROTOS.iter().chain(IMPORTS) {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }

    let descriptors = protox::compile(PROTOS, [&root])?;
    fs::write(out_dir.join("descriptor.bin"), descriptors.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(env::var_os("CARGO_FEATURE_SERVER").is_some())
        .build_transport(env::var_os("CARGO_FEATURE_TRANSPORT").is_some())
        .compile_fds(descriptors)?;
    Ok(())
}

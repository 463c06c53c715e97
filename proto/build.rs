//! Compiles the .proto files with protox (pure Rust, no system `protoc`) and generates code
//! for what the enabled features need: clients always, servers with `server`, `connect()`
//! with `transport`.

use std::{env, fs, path::PathBuf};

/// The files to generate code for (their imports come along).
const PROTOS: &[&str] = &[
    "greeter.proto",
    "my_service.proto",
    "weather/v1/weather.proto",
    "chat/v1/chat.proto",
    "files/v1/files.proto",
    "blog/v1/authors.proto",
    "blog/v1/posts.proto",
    "blog/v1/comments.proto",
    "grpc/testing/test.proto",
];

/// Imported by the files above: watched for changes too.
const IMPORTS: &[&str] = &[
    "grpc/testing/empty.proto",
    "grpc/testing/messages.proto",
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/api/field_behavior.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    for proto in PROTOS.iter().chain(IMPORTS) {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }

    // Encoded by protox itself, so the methods' options keep their extensions (the REST
    // gateway reads `google.api.http` from them); prost's decoded types would drop them.
    let mut compiler = protox::Compiler::new([&root])?;
    compiler
        .include_imports(true)
        .include_source_info(true)
        .open_files(PROTOS)?;
    fs::write(
        out_dir.join("descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let descriptors = compiler.file_descriptor_set();
    fs::write(out_dir.join("methods.rs"), method_table(&descriptors))?;

    tonic_prost_build::configure()
        // Small first buffers per call (`src/codec.rs`).
        .codec_path("crate::codec::ProtoCodec")
        .build_client(true)
        .build_server(env::var_os("CARGO_FEATURE_SERVER").is_some())
        .build_transport(env::var_os("CARGO_FEATURE_TRANSPORT").is_some())
        .compile_fds(descriptors)?;
    Ok(())
}

/// Every method's path and call mode, as Rust source: small enough for the web app (whose
/// call inspector names the mode), where the descriptor set itself would not be.
fn method_table(descriptors: &prost_types::FileDescriptorSet) -> String {
    let mut table = String::from("&[\n");
    for file in &descriptors.file {
        let package = file.package();
        for service in &file.service {
            let service_name = match package {
                "" => service.name().to_owned(),
                package => format!("{package}.{}", service.name()),
            };
            for method in &service.method {
                let mode = match (method.client_streaming(), method.server_streaming()) {
                    (false, false) => "Unary",
                    (false, true) => "ServerStreaming",
                    (true, false) => "ClientStreaming",
                    (true, true) => "Bidi",
                };
                table.push_str(&format!(
                    "    (\"/{service_name}/{}\", Mode::{mode}),\n",
                    method.name()
                ));
            }
        }
    }
    table.push(']');
    table
}

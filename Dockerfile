# The server with the web app built in, in a small image that runs as a non-root user.
#
#   docker build -t grpc-browser .
#   docker run -p 50051:50051 grpc-browser          # then open http://localhost:50051/
#
# The build stage does what `cargo xtask run` does: Trunk's release build of the web app
# (wasm-bindgen-cli at the Cargo.lock version, wasm-split-cli for its hook, wasm-opt from
# npm's binaryen), then the
# release server with `--features embed-frontend`. Not built on the project's machines (no
# Docker engine there); it repeats the steps `cargo xtask test` runs and checks.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown \
 && cargo install trunk --version 0.21.14 --locked \
 && cargo install wasm-bindgen-cli --version 0.2.130 \
 && cargo install wasm_split_cli_support --version 0.2.4 --features build-binary --locked
WORKDIR /src
COPY tools/package.json tools/package-lock.json tools/
RUN cd tools && npm ci
COPY . .
RUN PATH=/src/tools/node_modules/.bin:$PATH trunk build --release \
 && cargo build --release --locked -p server --features embed-frontend -p cli

# glibc and CA certificates, nothing else; runs as uid 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/server /usr/local/bin/server
COPY --from=build /src/target/release/client /usr/local/bin/client
ENV SERVER_LISTEN=[::]:50051 \
    SERVER_DATA_DIR=/home/nonroot/data \
    SERVER_LOG_FORMAT=json
EXPOSE 50051
# The gRPC health service, asked by the project's own client.
HEALTHCHECK --interval=10s --timeout=3s \
  CMD ["/usr/local/bin/client", "--server", "http://127.0.0.1:50051", "--deadline", "2s", "health"]
USER nonroot
ENTRYPOINT ["/usr/local/bin/server"]

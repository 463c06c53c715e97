//! Everything that is not a known gRPC method: the built frontend (unknown paths fall back
//! to `index.html`, so client-side routes survive a reload) or, for gRPC requests to
//! unknown methods, UNIMPLEMENTED.

use std::{convert::Infallible, path::Path};

use axum::{
    extract::Request,
    response::{IntoResponse, Response},
    routing::{MethodRouter, any},
};
use http::{StatusCode, header};
use tower::{Layer, ServiceExt, service_fn};
use tower_http::{
    compression::CompressionLayer,
    services::{ServeDir, ServeFile},
};

pub(crate) fn fallback(static_dir: Option<&Path>) -> MethodRouter {
    // Compressed on the fly for clients that accept it: the wasm shrinks to about 40 %.
    // Only here: gRPC does its own (per-message) compression.
    let files = static_dir.map(|dir| {
        CompressionLayer::new()
            .layer(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))))
    });
    any(move |request: Request| {
        let files = files.clone();
        async move {
            if is_grpc(&request) {
                return unimplemented(request).await;
            }
            match files {
                Some(files) => files.oneshot(request).await.into_response(),
                None => (
                    StatusCode::NOT_FOUND,
                    "This server was started without a frontend (see --static-dir).\n",
                )
                    .into_response(),
            }
        }
    })
}

fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

/// UNIMPLEMENTED in the caller's own protocol: gRPC-Web clients need the status framed for
/// gRPC-Web, so the answer goes through the same layer as real methods.
async fn unimplemented(request: Request) -> Response {
    let method = request.uri().path().to_owned();
    let answer = service_fn(move |_: http::Request<tonic::body::Body>| {
        let status = tonic::Status::unimplemented(format!("unknown method {method}"));
        async move { Ok::<_, Infallible>(status.into_http::<tonic::body::Body>()) }
    });
    match tonic_web::GrpcWebLayer::new()
        .layer(answer)
        .oneshot(request)
        .await
    {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

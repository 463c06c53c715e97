//! Everything that is not a known gRPC method: the built frontend (unknown paths fall back
//! to `index.html`, so client-side routes survive a reload) or, for gRPC requests to
//! unknown methods, UNIMPLEMENTED.
//!
//! The web app's files carry security headers: a Content-Security-Policy that allows only
//! what the app needs (its own files, WebAssembly compilation, its one inline bootstrap
//! script by hash, gRPC-Web calls to this origin), `nosniff`, no framing, no referrer.
//! Files whose name carries a content hash (`app-1a2b…c3d4.js`) are cached for a year; the
//! rest (`index.html`) are revalidated every time, so a new release is picked up at once.
//!
//! Release builds carry a brotli and a gzip copy of each file (`name.br`, `name.gz`, made by
//! `tools/precompress.mjs` at build time): a browser that accepts one gets it as it is. A
//! file without copies is compressed on the fly.

use std::{convert::Infallible, path::Path};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use axum::{
    extract::Request,
    response::{IntoResponse, Response},
    routing::{MethodRouter, any},
};
use http::{HeaderValue, StatusCode, header};
use tower::{Layer, ServiceExt, service_fn};
use tower_http::{
    compression::CompressionLayer,
    services::{ServeDir, ServeFile},
};

/// The web app built into this binary (`--features embed-frontend`), if any.
#[cfg(feature = "embed-frontend")]
#[derive(rust_embed::RustEmbed)]
#[folder = "../dist/"]
#[allow_missing = true]
struct Embedded;

/// Whether this binary carries the web app.
pub fn has_embedded_frontend() -> bool {
    #[cfg(feature = "embed-frontend")]
    return Embedded::get("index.html").is_some();
    #[cfg(not(feature = "embed-frontend"))]
    false
}

type Files = tower::util::BoxCloneSyncService<Request, Response, Infallible>;

/// The web app's files, and its `index.html`: from `static_dir`, else those built in.
fn files(static_dir: Option<&Path>) -> Option<(Files, String)> {
    // The build's compressed copies where there are some, else compressed on the fly for
    // clients that accept it (the layer leaves answers that are encoded already alone).
    // Only here: gRPC does its own (per-message) compression.
    if let Some(dir) = static_dir {
        let index = std::fs::read_to_string(dir.join("index.html")).unwrap_or_default();
        let index_file = ServeFile::new(dir.join("index.html"))
            .precompressed_br()
            .precompressed_gzip();
        let files = ServeDir::new(dir)
            .precompressed_br()
            .precompressed_gzip()
            .fallback(index_file);
        let service = ServiceExt::<Request>::map_response(
            CompressionLayer::new().layer(files),
            IntoResponse::into_response,
        );
        return Some((Files::new(service), index));
    }
    #[cfg(feature = "embed-frontend")]
    if let Some(index) = Embedded::get("index.html") {
        let index = String::from_utf8_lossy(&index.data).into_owned();
        let service = ServiceExt::<Request>::map_response(
            CompressionLayer::new().layer(service_fn(|request: Request| async move {
                Ok::<_, Infallible>(embedded(request.uri().path(), request.headers()))
            })),
            IntoResponse::into_response,
        );
        return Some((Files::new(service), index));
    }
    None
}

/// A file built into the binary; unknown paths get `index.html`, as from a directory. Its
/// brotli or gzip copy goes to a browser that accepts it.
#[cfg(feature = "embed-frontend")]
fn embedded(path: &str, request: &http::HeaderMap) -> Response {
    let requested = path.trim_start_matches('/');
    let name = if !requested.is_empty() && Embedded::get(requested).is_some() {
        requested
    } else {
        "index.html"
    };
    let Some(file) = Embedded::get(name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = file.metadata.mimetype().to_owned();
    let copy = PRECOMPRESSED.iter().find_map(|&(coding, suffix)| {
        accepts(request, coding)
            .then(|| Embedded::get(&format!("{name}{suffix}")))
            .flatten()
            .map(|copy| (coding, copy))
    });
    match copy {
        Some((coding, copy)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_ENCODING, coding.to_owned()),
            ],
            copy.data.into_owned(),
        )
            .into_response(),
        None => (
            [(header::CONTENT_TYPE, content_type)],
            file.data.into_owned(),
        )
            .into_response(),
    }
}

/// The build's compressed copies, best first: (content coding, file name suffix).
#[cfg(any(feature = "embed-frontend", test))]
const PRECOMPRESSED: [(&str, &str); 2] = [("br", ".br"), ("gzip", ".gz")];

/// Whether `Accept-Encoding` allows `coding` (RFC 9110 12.5.3: named with a non-zero
/// weight, or covered by `*`). Written by hand for the built-in files: tower-http's parser
/// (which `ServeDir` uses for a directory) is private.
#[cfg(any(feature = "embed-frontend", test))]
fn accepts(request: &http::HeaderMap, coding: &str) -> bool {
    let mut wildcard = false;
    for item in request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
    {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let weight = parts
            .find_map(|part| part.trim().strip_prefix("q="))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok());
        let allowed = weight.is_some_and(|q| q > 0.0);
        if name.eq_ignore_ascii_case(coding) {
            return allowed;
        }
        wildcard |= name == "*" && allowed;
    }
    wildcard
}

pub(crate) fn fallback(static_dir: Option<&Path>) -> MethodRouter {
    let (files, csp) = match files(static_dir) {
        Some((files, index)) => (
            Some(files),
            Some(
                HeaderValue::try_from(content_security_policy(&index))
                    .expect("the policy is ASCII"),
            ),
        ),
        None => (None, None),
    };
    any(move |request: Request| {
        let (files, csp) = (files.clone(), csp.clone());
        async move {
            if is_grpc(&request) {
                return unimplemented(request).await;
            }
            match (files, csp) {
                (Some(files), Some(csp)) => {
                    let path = request.uri().path().to_owned();
                    let mut response = files.oneshot(request).await.into_response();
                    let cacheable = is_hashed_asset(&path) && response.status().is_success();
                    let headers = response.headers_mut();
                    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
                    headers.insert(
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    );
                    headers.insert(
                        header::REFERRER_POLICY,
                        HeaderValue::from_static("no-referrer"),
                    );
                    let cache = if cacheable {
                        "public, max-age=31536000, immutable"
                    } else {
                        "no-cache"
                    };
                    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
                    // One path, several encodings: caches must key on what was accepted.
                    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                    response
                }
                _ => (
                    StatusCode::NOT_FOUND,
                    "This server was started without a frontend (see --static-dir).\n",
                )
                    .into_response(),
            }
        }
    })
}

/// The policy for the app: its own files only, plus what a Trunk-built WASM app needs:
/// compiling WebAssembly (`'wasm-unsafe-eval'`) and the inline module script that starts
/// it (allowed by its hash, computed from `index.html` as built).
fn content_security_policy(index_html: &str) -> String {
    let hashes: String = inline_scripts(index_html)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The contents of every `<script>` without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (tag, body) = rest.split_once('>')?;
        let (script, _) = body.split_once("</script>")?;
        (!tag.contains("src=")).then_some(script)
    })
}

/// Trunk's output names carry a 16-hex-digit content hash: `frontend-1a2b3c4d5e6f7a8b_bg.wasm`.
fn is_hashed_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_inline_bootstrap_by_hash_only() {
        let html = "<head><script type=\"module\">init();</script>\
                    <script src=\"/app.js\"></script></head>";
        let policy = content_security_policy(html);
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"init();"));
        assert!(policy.contains(&format!("'sha256-{expected}'")), "{policy}");
        assert_eq!(
            policy.matches("'sha256-").count(),
            1,
            "not the external script"
        );
        assert!(policy.contains("'wasm-unsafe-eval'") && policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let accepts = |value: &str, coding: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                value.parse().expect("header value"),
            );
            super::accepts(&headers, coding)
        };
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip, deflate, br, zstd", "gzip"));
        assert!(!accepts("gzip, deflate", "br"));
        assert!(!accepts("br;q=0, gzip", "br"), "refused by weight 0");
        assert!(accepts("br;q=0, gzip", "gzip"));
        assert!(accepts("BR; q=0.5", "br"), "names are case-insensitive");
        assert!(accepts("*", "br") && !accepts("*;q=0", "gzip"));
        assert!(
            !accepts("gzip;q=0, *", "gzip"),
            "a named coding beats the wildcard"
        );
        assert!(
            !accepts("br;q=nonsense", "br"),
            "an unreadable weight refuses"
        );
        assert!(!accepts("", "gzip"));
        assert_eq!(PRECOMPRESSED[0].0, "br", "brotli first: the smaller copy");
    }

    #[test]
    fn hashed_assets_are_recognised() {
        assert!(is_hashed_asset("/frontend-da442b0179e7a22a_bg.wasm"));
        assert!(is_hashed_asset("/frontend-da442b0179e7a22a.js"));
        assert!(is_hashed_asset("/style-e0edef12228b286c.css"));
        // The app's chunks and their loader (tools/split.mjs).
        assert!(is_hashed_asset("/split_weather-82725f9528da9cd9.wasm"));
        assert!(is_hashed_asset("/chunk_13-a956f5891e41fa86.wasm"));
        // Shared chunks packed together (tools/packs.mjs).
        assert!(is_hashed_asset("/chunks-b718a5500db9d4cc.bin"));
        assert!(is_hashed_asset("/split-2c2fafb5be514581.js"));
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/weather"));
        assert!(!is_hashed_asset("/my-file.js"));
    }
}

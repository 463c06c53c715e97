//! Gzipped replies decoded by the browser's own `DecompressionStream`, not by a gzip
//! decoder compiled into the app: dropping tonic's `gzip` feature (flate2) for this layer
//! took 63 KB off the wasm, 37 KB gzipped (BENCHMARKS.md). Written by hand: tonic decompresses only with its own codecs,
//! and nothing in tower or tonic hands a message to the browser for it.
//!
//! The layer asks for gzip (`grpc-accept-encoding: gzip`). When a reply comes gzipped, it
//! takes the reply's `grpc-encoding` off and passes each message on decoded, its flag
//! cleared, so tonic reads an uncompressed reply; streams are decoded message by message,
//! in order. A message is refused with RESOURCE_EXHAUSTED once it is, or decodes to, more
//! than [`MAX_MESSAGE`]: a small reply cannot make the page hold a large one.
//!
//! Between the generated clients and the inspector, which so sees the messages as they came
//! (compressed, with their sizes on the wire).

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{FutureExt, future::LocalBoxFuture};
use http::{HeaderMap, HeaderValue};
use send_wrapper::SendWrapper;
use tonic::Status;
use wasm_bindgen::{JsCast, JsValue, prelude::wasm_bindgen};
use wasm_bindgen_futures::JsFuture;

/// The most a message may be, compressed or decoded: tonic's own default limit for the
/// messages a client decodes.
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;

const ENCODING: &str = "grpc-encoding";

#[wasm_bindgen]
extern "C" {
    /// The Compression Streams API's decoder (web-sys has it only behind an unstable flag).
    #[wasm_bindgen(js_name = DecompressionStream)]
    type DecompressionStream;

    #[wasm_bindgen(constructor, js_class = "DecompressionStream", catch)]
    fn new(format: &str) -> Result<DecompressionStream, JsValue>;
}

/// The layer around a transport.
#[derive(Debug, Clone)]
pub struct Gunzip<S>(pub S);

impl<S, B> tower_service::Service<http::Request<tonic::body::Body>> for Gunzip<S>
where
    S: tower_service::Service<http::Request<tonic::body::Body>, Response = http::Response<B>>,
    S::Future: 'static,
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Gunzipped<B>>;
    type Error = S::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        request.headers_mut().insert(
            "grpc-accept-encoding",
            HeaderValue::from_static("gzip, identity"),
        );
        let answer = self.0.call(request);
        async move {
            let mut response = answer.await?;
            let gzipped = response
                .headers()
                .get(ENCODING)
                .is_some_and(|value| value == "gzip");
            if gzipped {
                response.headers_mut().remove(ENCODING);
            }
            Ok(response.map(|body| Gunzipped::new(body, gzipped)))
        }
        .boxed_local()
    }
}

type Decoding = SendWrapper<LocalBoxFuture<'static, Result<Bytes, Status>>>;

/// A reply body with its gzipped messages decoded (or passed through, when it has none).
pub struct Gunzipped<B> {
    inner: B,
    gzipped: bool,
    /// Bytes read and not passed on yet: at most the message being gathered.
    buffer: BytesMut,
    /// The message being decoded (the browser decodes asynchronously).
    decoding: Option<Decoding>,
    /// The trailers, held until every message before them is passed on.
    trailers: Option<HeaderMap>,
    ended: bool,
}

impl<B> Gunzipped<B> {
    fn new(inner: B, gzipped: bool) -> Self {
        Self {
            inner,
            gzipped,
            buffer: BytesMut::new(),
            decoding: None,
            trailers: None,
            ended: false,
        }
    }
}

/// The next whole message in `buffer`: (compressed, payload), or an error for one over the
/// limit (known from its prefix, before it is gathered).
fn next_message(buffer: &mut BytesMut) -> Option<Result<(bool, Bytes), Status>> {
    if buffer.len() < 5 {
        return None;
    }
    let size = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
    if size > MAX_MESSAGE {
        return Some(Err(too_large()));
    }
    if buffer.len() < 5 + size {
        return None;
    }
    let compressed = buffer[0] & 1 == 1;
    buffer.advance(5);
    Some(Ok((compressed, buffer.split_to(size).freeze())))
}

fn too_large() -> Status {
    Status::resource_exhausted(format!(
        "a reply's message is over the page's limit of {MAX_MESSAGE} bytes"
    ))
}

/// A message framed as gRPC, uncompressed.
fn framed(message: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(message.len() as u32);
    frame.put_slice(message);
    frame.freeze()
}

impl<B> http_body::Body for Gunzipped<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if !this.gzipped {
            return Pin::new(&mut this.inner)
                .poll_frame(context)
                .map_err(|error| Status::from_error(error.into()));
        }
        loop {
            if let Some(decoding) = this.decoding.as_mut() {
                let decoded = std::task::ready!(decoding.as_mut().poll(context));
                this.decoding = None;
                return Poll::Ready(Some(decoded.map(http_body::Frame::data)));
            }
            match next_message(&mut this.buffer) {
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                Some(Ok((false, message))) => {
                    return Poll::Ready(Some(Ok(http_body::Frame::data(framed(&message)))));
                }
                Some(Ok((true, message))) => {
                    this.decoding = Some(SendWrapper::new(
                        async move { gunzip(message).await.map(|decoded| framed(&decoded)) }
                            .boxed_local(),
                    ));
                    continue;
                }
                None => {}
            }
            if this.ended {
                // A message cut short is passed on as it is: tonic reports it.
                if !this.buffer.is_empty() {
                    let rest = this.buffer.split().freeze();
                    return Poll::Ready(Some(Ok(http_body::Frame::data(rest))));
                }
                return Poll::Ready(
                    this.trailers
                        .take()
                        .map(|t| Ok(http_body::Frame::trailers(t))),
                );
            }
            match std::task::ready!(Pin::new(&mut this.inner).poll_frame(context)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.buffer.extend_from_slice(&data),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            this.trailers = Some(trailers);
                        }
                    }
                },
                Some(Err(error)) => {
                    return Poll::Ready(Some(Err(Status::from_error(error.into()))));
                }
                None => this.ended = true,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.gzipped {
            self.ended
                && self.buffer.is_empty()
                && self.decoding.is_none()
                && self.trailers.is_none()
        } else {
            self.inner.is_end_stream()
        }
    }
}

impl<B> std::fmt::Debug for Gunzipped<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gunzipped")
            .field("gzipped", &self.gzipped)
            .finish_non_exhaustive()
    }
}

/// One gzipped message decoded by the browser, refused once it passes [`MAX_MESSAGE`].
async fn gunzip(compressed: Bytes) -> Result<Bytes, Status> {
    let failed = |error: JsValue| {
        Status::internal(format!(
            "the browser could not decode a gzipped message: {}",
            error
                .as_string()
                .or_else(|| js_sys::Error::from(error).message().as_string())
                .unwrap_or_default()
        ))
    };
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(&compressed[..]));
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts).map_err(failed)?;
    let decoder = DecompressionStream::new("gzip").map_err(failed)?;
    let decoded = blob
        .stream()
        .pipe_through(decoder.unchecked_ref::<web_sys::ReadableWritablePair>());
    let reader: web_sys::ReadableStreamDefaultReader = decoded
        .get_reader()
        .dyn_into()
        .map_err(|object: js_sys::Object| failed(object.into()))?;
    let mut message = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(failed)?;
        if js_sys::Reflect::get(&chunk, &"done".into())
            .map_err(failed)?
            .is_truthy()
        {
            return Ok(message.into());
        }
        let bytes: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())
            .map_err(failed)?
            .dyn_into()
            .map_err(failed)?;
        let start = message.len();
        if start + bytes.length() as usize > MAX_MESSAGE {
            let _ = reader.cancel();
            return Err(too_large());
        }
        message.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut message[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_split_whole_and_oversized_ones_refused_by_their_prefix() {
        let mut buffer = BytesMut::from(&[0, 0, 0, 0, 2, b'h', b'i', 1, 0, 0, 0, 3, b'a'][..]);
        let (compressed, message) = next_message(&mut buffer).expect("one").expect("fits");
        assert!(!compressed);
        assert_eq!(&message[..], b"hi");
        assert!(
            next_message(&mut buffer).is_none(),
            "the second is not whole yet"
        );
        buffer.extend_from_slice(b"bc");
        let (compressed, message) = next_message(&mut buffer).expect("two").expect("fits");
        assert!(compressed);
        assert_eq!(&message[..], b"abc");
        assert!(buffer.is_empty());

        let mut huge = BytesMut::from(&[1, 0xff, 0xff, 0xff, 0xff][..]);
        let refused = next_message(&mut huge)
            .expect("known")
            .expect_err("too large");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    }

    #[test]
    fn a_message_is_framed_uncompressed() {
        assert_eq!(&framed(b"abc")[..], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
    }
}

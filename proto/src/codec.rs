//! The protobuf codec every generated client and server uses (`build.rs` names it with
//! tonic-prost-build's `codec_path`): tonic-prost's encoder and decoder, with a first
//! buffer of 1 KiB instead of tonic's 8 KiB.
//!
//! Why not tonic-prost's `ProstCodec` itself: it always takes tonic's default buffer
//! settings, and each call keeps its buffers for its whole life. The server's live Watch
//! streams held 8 KiB each for one encoded update of under 200 bytes: two thirds of a
//! subscriber's 12 KiB (issue 14, BENCHMARKS.md). A message larger than the buffer grows
//! it (doubling), as before; how much a stream sends before yielding to its connection is
//! tonic's default still.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstDecoder, ProstEncoder};

/// Each call's first encode and decode buffer.
pub const FIRST_BUFFER: usize = 1024;
/// The bytes a stream encodes before handing them on: tonic's default.
const YIELD_THRESHOLD: usize = 32 * 1024;

/// `application/grpc+proto` through prost, with small first buffers.
#[derive(Debug)]
pub struct ProtoCodec<T, U>(PhantomData<fn(T) -> U>);

impl<T, U> Default for ProtoCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(FIRST_BUFFER, YIELD_THRESHOLD)
}

impl<T, U> Codec for ProtoCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::new(settings())
    }
}

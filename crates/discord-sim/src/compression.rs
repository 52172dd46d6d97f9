//! Transport compression, as the gateway offers it.
//!
//! Both stream modes keep one compression context for the whole connection:
//! each frame is flushed so the client can decode it alone, and later frames
//! reuse the dictionary built by earlier ones. zlib-stream frames end with the
//! `00 00 ff ff` sync-flush marker clients look for.

use flate2::{Compress, Compression, FlushCompress};
use zstd_safe::{CCtx, InBuffer, OutBuffer};

/// The `compress` query parameter's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    None,
    ZlibStream,
    ZstdStream,
}

impl Mode {
    /// Parse the query value; unknown values are an error (Discord closes
    /// the connection with 4002 when it cannot speak the requested mode).
    pub fn parse(value: Option<&str>) -> Result<Self, UnknownMode> {
        match value {
            None | Some("") => Ok(Self::None),
            Some("zlib-stream") => Ok(Self::ZlibStream),
            Some("zstd-stream") => Ok(Self::ZstdStream),
            Some(_) => Err(UnknownMode),
        }
    }

    /// The query value for this mode.
    pub fn query(self) -> &'static str {
        match self {
            Self::None => "",
            Self::ZlibStream => "&compress=zlib-stream",
            Self::ZstdStream => "&compress=zstd-stream",
        }
    }
}

/// A `compress` value the gateway does not offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownMode;

/// A connection's compressor.
pub enum Compressor {
    None,
    Zlib(Box<Compress>),
    Zstd(Box<CCtx<'static>>),
}

impl Compressor {
    pub fn new(mode: Mode) -> Self {
        match mode {
            Mode::None => Self::None,
            Mode::ZlibStream => Self::Zlib(Box::new(Compress::new(Compression::fast(), true))),
            Mode::ZstdStream => {
                let mut ctx = CCtx::create();
                // Level 1: the gateway favours speed, like Discord's.
                let _ = ctx.set_parameter(zstd_safe::CParameter::CompressionLevel(1));
                Self::Zstd(Box::new(ctx))
            }
        }
    }

    /// Compress one frame; `None` means "send as text".
    pub fn compress(&mut self, text: &str) -> Option<Vec<u8>> {
        match self {
            Self::None => None,
            Self::Zlib(z) => {
                let mut out = Vec::with_capacity(text.len() / 2 + 64);
                let mut input = text.as_bytes();
                loop {
                    let before_in = z.total_in();
                    if out.capacity() - out.len() < 64 {
                        out.reserve(out.capacity().max(256));
                    }
                    // compress_vec cannot fail for valid state; on error fall
                    // back to what we have (the client will report it).
                    if z.compress_vec(input, &mut out, FlushCompress::Sync)
                        .is_err()
                    {
                        break;
                    }
                    let consumed = (z.total_in() - before_in) as usize;
                    input = &input[consumed..];
                    if input.is_empty() && out.ends_with(&[0, 0, 0xff, 0xff]) {
                        break;
                    }
                }
                Some(out)
            }
            Self::Zstd(ctx) => {
                let mut out: Vec<u8> = Vec::with_capacity(text.len() / 2 + 64);
                let mut input = InBuffer::around(text.as_bytes());
                loop {
                    if out.capacity() - out.len() < 64 {
                        out.reserve(out.capacity().max(256));
                    }
                    // Continue writing after what we already produced.
                    let len = out.len();
                    let mut ob = OutBuffer::around_pos(&mut out, len);
                    match ctx.compress_stream2(
                        &mut ob,
                        &mut input,
                        zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_flush,
                    ) {
                        Ok(0) => break,
                        Ok(_) => continue,
                        Err(_) => break,
                    }
                }
                Some(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zlib_frames_end_with_sync_marker_and_share_a_context() {
        let mut c = Compressor::new(Mode::ZlibStream);
        let mut d = flate2::Decompress::new(true);
        for text in ["{\"op\":10}", "{\"op\":11,\"s\":null}"] {
            let out = c.compress(text).expect("compressed");
            assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
            let mut buf = Vec::with_capacity(1024);
            d.decompress_vec(&out, &mut buf, flate2::FlushDecompress::Sync)
                .expect("inflate");
            assert_eq!(buf, text.as_bytes());
        }
    }

    #[test]
    fn zstd_frames_decode_in_one_stream() {
        let mut c = Compressor::new(Mode::ZstdStream);
        let mut d = zstd_safe::DCtx::create();
        for text in ["{\"op\":10}", "{\"op\":0,\"s\":1,\"t\":\"READY\",\"d\":{}}"] {
            let out = c.compress(text).expect("compressed");
            let mut buf: Vec<u8> = Vec::with_capacity(1024);
            let mut input = InBuffer::around(&out);
            let mut ob = OutBuffer::around(&mut buf);
            d.decompress_stream(&mut ob, &mut input).expect("zstd");
            assert_eq!(buf, text.as_bytes());
        }
    }
}

//! Discord's CDN, the part a bot reads: user avatars,
//! `GET /avatars/{user_id}/{hash}.png?size=N` (N a power of two from 16 to
//! 4096; 128 without one), served at the root beside `/api/v10` as the bot
//! reaches them through its own base URL (`DISCORD_CDN_URL`).
//!
//! An avatar is a solid square in the colour its hash names (the first six
//! hex digits, see [`hash_for`]), so a test can tell from a card's pixels
//! whose avatar it shows. Only a user's current hash is found: an old one is
//! 404, as on Discord once the user changed it. PNG only: the bot asks for PNG.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::core::Core;

/// An avatar hash for `rgb`: 32 hex digits as Discord's, the colour first,
/// then `serial` so that two avatars of one colour differ.
pub fn hash_for(rgb: [u8; 3], serial: u64) -> String {
    format!("{:02x}{:02x}{:02x}{serial:026x}", rgb[0], rgb[1], rgb[2])
}

/// The colour a hash made by [`hash_for`] names.
pub fn colour_of(hash: &str) -> Option<[u8; 3]> {
    let hex = hash.get(..6)?;
    let value = u32::from_str_radix(hex, 16).ok()?;
    Some([(value >> 16) as u8, (value >> 8) as u8, value as u8])
}

#[derive(Deserialize)]
pub struct SizeQuery {
    size: Option<String>,
}

pub async fn avatar(
    State(core): State<Arc<Core>>,
    Path((user_id, file)): Path<(String, String)>,
    Query(query): Query<SizeQuery>,
) -> Response {
    core.cdn_requests.fetch_add(1, Ordering::Relaxed);
    let delay = core.cdn_delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let size = match query.size.as_deref().map(str::parse::<u32>) {
        None => 128,
        Some(Ok(size)) if size.is_power_of_two() && (16..=4096).contains(&size) => size,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "size must be a power of two from 16 to 4096",
            )
                .into_response();
        }
    };
    let Some(hash) = file.strip_suffix(".png") else {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the simulator serves PNG only",
        )
            .into_response();
    };
    let current = user_id.parse::<u64>().ok().and_then(|id| {
        core.world
            .lock()
            .users
            .get(&id)
            .and_then(|u| u.avatar.clone())
    });
    let Some(rgb) = current.filter(|h| h == hash).and_then(|h| colour_of(&h)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match square_png(rgb, size) {
        Some(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=31536000"),
            ],
            Body::from(png),
        )
            .into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A `size`-pixel square of `rgb`, as PNG.
fn square_png(rgb: [u8; 3], size: u32) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    let pixels: Vec<u8> = rgb
        .iter()
        .copied()
        .cycle()
        .take((size * size * 3) as usize)
        .collect();
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_names_its_colour() {
        let hash = hash_for([0x12, 0xab, 0xff], 7);
        assert_eq!(hash.len(), 32);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(colour_of(&hash), Some([0x12, 0xab, 0xff]));
        assert_ne!(hash, hash_for([0x12, 0xab, 0xff], 8));
        assert_eq!(colour_of("zz"), None);
    }

    #[test]
    fn squares_decode_to_their_colour_and_size() {
        let png = square_png([200, 10, 30], 32).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (32, 32));
        assert_eq!(&buf[..3], &[200, 10, 30]);
        assert_eq!(&buf[buf.len() - 3..], &[200, 10, 30]);
    }
}

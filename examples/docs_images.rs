//! The pictures of Keeper in the README, drawn by Keeper's own code:
//!
//! ```sh
//! cargo run --example docs_images
//! ```
//!
//! writes `docs/images/rank-card.png` (a member with an avatar, in a guild's
//! accent) and `docs/images/rank-card-initials.png` (one without, in Keeper's
//! colour, with a name long enough to be cut).

use std::path::Path;

use keeper::card::{Accent, Avatar, RankCard, Renderer};
use resvg::tiny_skia::{
    Color, GradientStop, Paint, Pixmap, Point, RadialGradient, Rect, SpreadMode, Transform,
};

/// A 128 px avatar standing in for a member's picture: a warm gradient.
fn avatar_png() -> Vec<u8> {
    let mut pixmap = Pixmap::new(128, 128).expect("a 128 px pixmap");
    let shader = RadialGradient::new(
        Point::from_xy(44.0, 40.0),
        0.0,
        Point::from_xy(64.0, 64.0),
        110.0,
        vec![
            GradientStop::new(0.0, Color::from_rgba8(255, 214, 102, 255)),
            GradientStop::new(0.55, Color::from_rgba8(239, 71, 111, 255)),
            GradientStop::new(1.0, Color::from_rgba8(38, 70, 83, 255)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    )
    .expect("a gradient");
    let paint = Paint {
        shader,
        ..Paint::default()
    };
    let rect = Rect::from_xywh(0.0, 0.0, 128.0, 128.0).expect("a square");
    pixmap.fill_rect(rect, &paint, Transform::identity(), None);
    pixmap.encode_png().expect("PNG")
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
    std::fs::create_dir_all(&dir).expect("docs/images");
    let renderer = Renderer::new();
    let avatar = avatar_png();
    let cards = [
        (
            "rank-card.png",
            RankCard {
                name: "Alice Wonderland",
                level: 27,
                rank: 14,
                out_of: 2_318,
                xp_into_level: 3_410,
                xp_for_level: 5_675,
                total_xp: 98_765,
                accent: Accent([0xEF, 0x47, 0x6F]),
                avatar: Avatar::Png(&avatar),
            },
        ),
        (
            "rank-card-initials.png",
            RankCard {
                name: "Bartholomew Montgomery-Fitzgerald the Third",
                level: 8,
                rank: 203,
                out_of: 2_318,
                xp_into_level: 310,
                xp_for_level: 1_020,
                total_xp: 4_675,
                accent: Accent::DEFAULT,
                avatar: Avatar::Initials,
            },
        ),
    ];
    for (file, card) in cards {
        let png = renderer.render(&card).expect("a card");
        let path = dir.join(file);
        std::fs::write(&path, png).expect("write the image");
        println!("wrote {}", path.display());
    }
}

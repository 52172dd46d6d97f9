//! Rank-card rendering time: one card, as `/rank` would ask for it.
//!
//! ```sh
//! cargo bench --bench card
//! ```
//!
//! The budget is 5 ms a card (median) on the 2-core reference machine.
//! `card/pixels_*` stops before PNG encoding, to show how the time splits.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keeper::card::{Accent, Avatar, RankCard, Renderer};
use resvg::tiny_skia::{
    Color, GradientStop, Paint, Pixmap, Point, RadialGradient, Rect, SpreadMode, Transform,
};

/// A 128 px avatar with a gradient, so decoding it costs what a real
/// picture's does (a flat colour would compress to almost nothing).
fn avatar_png() -> Vec<u8> {
    let mut pixmap = Pixmap::new(128, 128).expect("pixmap");
    let shader = RadialGradient::new(
        Point::from_xy(40.0, 40.0),
        0.0,
        Point::from_xy(64.0, 64.0),
        110.0,
        vec![
            GradientStop::new(0.0, Color::from_rgba8(255, 200, 80, 255)),
            GradientStop::new(0.5, Color::from_rgba8(220, 40, 120, 255)),
            GradientStop::new(1.0, Color::from_rgba8(30, 20, 90, 255)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    )
    .expect("gradient");
    let paint = Paint {
        shader,
        ..Paint::default()
    };
    let rect = Rect::from_xywh(0.0, 0.0, 128.0, 128.0).expect("rect");
    pixmap.fill_rect(rect, &paint, Transform::identity(), None);
    pixmap.encode_png().expect("encodes")
}

fn card(avatar: Avatar<'_>) -> RankCard<'_> {
    RankCard {
        name: "Alice Wonderland",
        level: 27,
        rank: 14,
        out_of: 2_318,
        xp_into_level: 3_410,
        xp_for_level: 5_675,
        total_xp: 98_765,
        accent: Accent::DEFAULT,
        avatar,
    }
}

fn bench(c: &mut Criterion) {
    let renderer = Renderer::new();
    let avatar = avatar_png();
    let mut group = c.benchmark_group("card");
    for (label, card) in [
        ("initials", card(Avatar::Initials)),
        ("avatar_128", card(Avatar::Png(&avatar))),
    ] {
        group.bench_function(format!("png_{label}"), |b| {
            b.iter(|| renderer.render(black_box(&card)).expect("renders"))
        });
        group.bench_function(format!("pixels_{label}"), |b| {
            b.iter(|| renderer.render_pixmap(black_box(&card)).expect("renders"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

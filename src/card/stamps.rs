//! The card's numbers and labels, drawn from stamps: each char (or fixed
//! label) is rendered once per size, weight and quarter-pixel offset, and
//! every card after that only blends its coverage in the colour wanted.
//!
//! Why: shaping, outlining and filling a dozen short texts through usvg was
//! half a card's time (about 1.3 of 2.7 ms), and those texts are made of a
//! handful of chars: digits, separators, "#", "/", "XP" and four labels. A
//! stamp is the glyph exactly as resvg draws it (same font, same rasteriser),
//! so a stamped run differs from a shaped one only by the pen position being
//! rounded to a quarter pixel and by kerning, which DejaVu doesn't apply
//! between these chars. Names are not stamped: they need real shaping
//! (joining, marks, bidi), and each is drawn on few cards.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use resvg::tiny_skia::Pixmap;
use resvg::usvg;

use super::font::Metrics;
use super::rasterise_sized;
use super::text::escape_xml;

/// Sub-pixel pen positions a stamp is drawn at: 4 puts each char within an
/// eighth of a pixel of where shaping would, invisible at these sizes.
const PHASES: f32 = 4.0;

/// Stamps kept at most. The chars of formatted numbers at the card's two
/// sizes and weights, in four phases, are about 200; the bound only guards
/// against a caller stamping arbitrary text, which is then drawn uncached.
const MAX_STAMPS: usize = 1024;

/// What a stamp shows: one char, or a fixed label kept whole so that its
/// kerning ("TOTAL", "LEVEL") is the font's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Piece {
    Char(char),
    Label(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    piece: Piece,
    /// Font size in hundredths of a pixel (sizes are fixed constants).
    size: u32,
    bold: bool,
    /// Quarter pixels right of the whole pixel the pen stands on.
    phase: u8,
}

/// A piece's coverage (0-255 per pixel), cropped to its ink, and where its
/// top-left pixel lies from the pen's whole pixel on the baseline.
struct Stamp {
    width: usize,
    height: usize,
    left: i32,
    top: i32,
    coverage: Vec<u8>,
}

/// How a run of text is set: size in px, weight, colour (opaque RGB).
#[derive(Debug, Clone, Copy)]
pub(super) struct Style {
    pub size: f32,
    pub bold: bool,
    pub rgb: [u8; 3],
}

/// The stamps drawn so far, shared by every card of a renderer.
#[derive(Default)]
pub(super) struct Stamps {
    kept: Mutex<HashMap<Key, Arc<Stamp>>>,
}

impl Stamps {
    /// Sets `pieces` from `(x, baseline)`, `x` being the left end of the
    /// run, advancing by each piece's width in `face`.
    pub(super) fn draw(
        &self,
        pixmap: &mut Pixmap,
        options: &usvg::Options<'_>,
        face: &Metrics,
        pieces: impl IntoIterator<Item = Piece>,
        (x, baseline): (f32, f32),
        style: Style,
    ) {
        let mut pen = x;
        for piece in pieces {
            let advance = match piece {
                Piece::Char(c) => face.advance(c) * style.size,
                Piece::Label(label) => face.width(label, style.size),
            };
            if piece != Piece::Char(' ') {
                let quarters = (pen * PHASES).round();
                let whole = (quarters / PHASES).floor();
                let key = Key {
                    piece,
                    size: (style.size * 100.0).round() as u32,
                    bold: style.bold,
                    phase: (quarters - whole * PHASES) as u8,
                };
                if let Some(stamp) = self.stamp(key, options) {
                    blend(
                        pixmap,
                        &stamp,
                        whole as i32,
                        baseline.round() as i32,
                        style.rgb,
                    );
                }
            }
            pen += advance;
        }
    }

    fn stamp(&self, key: Key, options: &usvg::Options<'_>) -> Option<Arc<Stamp>> {
        // A poisoned lock means a panic mid-insert elsewhere; draw uncached.
        let Ok(mut kept) = self.kept.lock() else {
            return cut(key, options).map(Arc::new);
        };
        if let Some(stamp) = kept.get(&key) {
            return Some(Arc::clone(stamp));
        }
        let stamp = Arc::new(cut(key, options)?);
        if kept.len() < MAX_STAMPS {
            kept.insert(key, Arc::clone(&stamp));
        }
        Some(stamp)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept.lock().map_or(0, |kept| kept.len())
    }
}

/// Renders one piece in white on a transparent canvas through usvg, as the
/// card's SVG would, and keeps its alpha. `None` only if the SVG fails,
/// which a fixed template can't.
fn cut(key: Key, options: &usvg::Options<'_>) -> Option<Stamp> {
    let size = key.size as f32 / 100.0;
    // Room for ascenders, accents and descenders, and for overhangs either
    // side; the ink is cropped afterwards.
    let pad = (size * 0.5).ceil();
    let ascent = (size * 1.3).ceil();
    let chars = match key.piece {
        Piece::Char(_) => 1.0,
        Piece::Label(label) => label.chars().count() as f32,
    };
    // Wider than any glyph of DejaVu's (the widest is about 1.1 em).
    let width = (pad * 2.0 + size * chars * 1.2).ceil() as u32;
    let height = (ascent + size * 0.5).ceil() as u32;
    let mut text = String::new();
    let piece = match key.piece {
        Piece::Char(c) => {
            text.push(c);
            text.as_str()
        }
        Piece::Label(label) => label,
    };
    let weight = if key.bold {
        r#" font-weight="bold""#
    } else {
        ""
    };
    let mut svg = String::with_capacity(256);
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"><text x="{x}" y="{ascent}" font-size="{size}"{weight} fill="#FFFFFF">{t}</text></svg>"##,
        x = pad + f32::from(key.phase) / PHASES,
        t = escape_xml(piece),
    );
    let canvas = rasterise_sized(&svg, options, (width, height)).ok()?;

    let (w, h) = (width as usize, height as usize);
    let alpha = |x: usize, y: usize| canvas.data()[(y * w + x) * 4 + 3];
    let rows: Vec<usize> = (0..h)
        .filter(|&y| (0..w).any(|x| alpha(x, y) > 0))
        .collect();
    let cols: Vec<usize> = (0..w)
        .filter(|&x| (0..h).any(|y| alpha(x, y) > 0))
        .collect();
    // A glyph without ink (a no-break space) is kept as an empty stamp, so
    // that it is not cut again on every card.
    let (Some(&y0), Some(&y1), Some(&x0), Some(&x1)) =
        (rows.first(), rows.last(), cols.first(), cols.last())
    else {
        return Some(Stamp {
            width: 0,
            height: 0,
            left: 0,
            top: 0,
            coverage: Vec::new(),
        });
    };
    let mut coverage = Vec::with_capacity((x1 - x0 + 1) * (y1 - y0 + 1));
    for y in y0..=y1 {
        coverage.extend((x0..=x1).map(|x| alpha(x, y)));
    }
    Some(Stamp {
        width: x1 - x0 + 1,
        height: y1 - y0 + 1,
        left: x0 as i32 - pad as i32,
        top: y0 as i32 - ascent as i32,
        coverage,
    })
}

/// Source-over of `rgb` through the stamp's coverage onto premultiplied RGBA,
/// with the pen's whole pixel at (`x`, `y`); what falls outside is clipped.
fn blend(pixmap: &mut Pixmap, stamp: &Stamp, x: i32, y: i32, rgb: [u8; 3]) {
    let (pw, ph) = (pixmap.width() as i32, pixmap.height() as i32);
    let data = pixmap.data_mut();
    for row in 0..stamp.height {
        let py = y + stamp.top + row as i32;
        if py < 0 || py >= ph {
            continue;
        }
        let line = &stamp.coverage[row * stamp.width..(row + 1) * stamp.width];
        for (col, &cov) in line.iter().enumerate() {
            let px = x + stamp.left + col as i32;
            if cov == 0 || px < 0 || px >= pw {
                continue;
            }
            let at = ((py * pw + px) * 4) as usize;
            let (cov, keep) = (u32::from(cov), 255 - u32::from(cov));
            let dst = &mut data[at..at + 4];
            for (d, s) in dst.iter_mut().zip(rgb) {
                *d = div255(u32::from(s) * cov + u32::from(*d) * keep);
            }
            dst[3] = div255(255 * cov + u32::from(dst[3]) * keep);
        }
    }
}

/// `v / 255`, rounded, for `v` up to 255 * 255.
fn div255(v: u32) -> u8 {
    ((v + 128 + ((v + 128) >> 8)) >> 8) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::Renderer;
    use resvg::tiny_skia::{Color, Transform};

    const INK: [u8; 3] = [0xF2, 0xF3, 0xF5];

    fn canvas() -> Pixmap {
        let mut pixmap = Pixmap::new(420, 60).expect("pixmap");
        pixmap.fill(Color::from_rgba8(0x2B, 0x2D, 0x31, 255));
        pixmap
    }

    fn ink_style(size: f32, bold: bool) -> Style {
        Style {
            size,
            bold,
            rgb: INK,
        }
    }

    /// Stamps `text` char by char with `renderer`'s faces.
    fn stamp_text(
        renderer: &Renderer,
        stamps: &Stamps,
        pixmap: &mut Pixmap,
        text: &str,
        at: (f32, f32),
        style: Style,
    ) {
        let inner = &*renderer.inner;
        let face = if style.bold {
            &inner.bold
        } else {
            &inner.regular
        };
        stamps.draw(
            pixmap,
            &inner.options,
            face,
            text.chars().map(Piece::Char),
            at,
            style,
        );
    }

    /// Light pixels, and the box they lie in.
    fn ink(pixmap: &Pixmap) -> (usize, [u32; 4]) {
        let mut count = 0;
        let mut bounds = [u32::MAX, u32::MAX, 0, 0];
        for (i, px) in pixmap.pixels().iter().enumerate() {
            if px.red() > 0x80 {
                let (x, y) = (i as u32 % pixmap.width(), i as u32 / pixmap.width());
                count += 1;
                bounds = [
                    bounds[0].min(x),
                    bounds[1].min(y),
                    bounds[2].max(x),
                    bounds[3].max(y),
                ];
            }
        }
        (count, bounds)
    }

    /// A stamped run looks like the same text set by usvg at the same place:
    /// the same ink within a few percent, in the same box within a pixel.
    #[test]
    fn stamped_numbers_match_shaped_text() {
        let renderer = Renderer::new();
        let inner = &*renderer.inner;
        let stamps = Stamps::default();
        for (text, size, bold, x) in [
            ("#1,234,567", 40.0, true, 10.3),
            ("/ 9,876 XP", 22.0, false, 31.77),
            ("-42.5K", 22.0, true, 5.5),
        ] {
            let mut stamped = canvas();
            stamp_text(
                &renderer,
                &stamps,
                &mut stamped,
                text,
                (x, 45.0),
                ink_style(size, bold),
            );

            let mut shaped = canvas();
            let weight = if bold { r#" font-weight="bold""# } else { "" };
            let svg = format!(
                r##"<svg xmlns="http://www.w3.org/2000/svg" width="420" height="60"><text x="{x}" y="45" font-size="{size}"{weight} fill="#F2F3F5">{text}</text></svg>"##
            );
            let tree = usvg::Tree::from_str(&svg, &inner.options).expect("parses");
            resvg::render(&tree, Transform::identity(), &mut shaped.as_mut());

            let (got, got_box) = ink(&stamped);
            let (want, want_box) = ink(&shaped);
            assert!(want > 100, "{text}: the reference drew {want} light pixels");
            assert!(
                got.abs_diff(want) * 100 <= want * 4,
                "{text}: {got} light pixels stamped, {want} shaped"
            );
            for (g, w) in got_box.iter().zip(want_box) {
                assert!(
                    g.abs_diff(w) <= 1,
                    "{text}: box {got_box:?} against {want_box:?}"
                );
            }
        }
    }

    /// Each piece is drawn once per size, weight and phase; what is kept is
    /// bounded however many different pieces are asked for.
    #[test]
    fn stamps_are_kept_once_and_bounded() {
        let renderer = Renderer::new();
        let inner = &*renderer.inner;
        let stamps = Stamps::default();
        let mut pixmap = canvas();
        let mut draw = |text: &str, x: f32| {
            stamp_text(
                &renderer,
                &stamps,
                &mut pixmap,
                text,
                (x, 40.0),
                ink_style(22.0, true),
            );
        };
        draw("1,000", 10.0);
        // "1", ",", "0" each in the phases their pens fell on.
        let first = stamps.len();
        assert!((3..=5).contains(&first), "{first} stamps");
        draw("1,000", 10.0);
        // The same pens a whole pixel further: the same phases.
        draw("1,000", 11.0);
        assert_eq!(stamps.len(), first, "nothing new drawn");
        let many: String = ('\u{100}'..'\u{600}')
            .filter(|&c| inner.bold.has_glyph(c))
            .collect();
        assert!(many.chars().count() > MAX_STAMPS / 2);
        for phase in 0..4 {
            draw(&many, 10.0 + phase as f32 / 4.0);
        }
        assert_eq!(stamps.len(), MAX_STAMPS);
    }

    /// A char the font draws without ink is kept too, as an empty stamp: it
    /// is not cut again on the next card, and it leaves the canvas as it was.
    #[test]
    fn inkless_chars_are_cut_once() {
        let renderer = Renderer::new();
        assert!(renderer.inner.bold.has_glyph('\u{A0}'));
        let stamps = Stamps::default();
        let mut pixmap = canvas();
        let before = pixmap.clone();
        for _ in 0..3 {
            stamp_text(
                &renderer,
                &stamps,
                &mut pixmap,
                "\u{A0}",
                (10.0, 40.0),
                ink_style(22.0, true),
            );
        }
        assert_eq!(stamps.len(), 1, "one empty stamp kept");
        assert!(pixmap.data() == before.data(), "nothing drawn");
    }

    /// Stamps that fall partly or wholly off the canvas are clipped.
    #[test]
    fn stamps_off_the_edge_are_clipped() {
        let renderer = Renderer::new();
        let stamps = Stamps::default();
        let mut pixmap = canvas();
        for at in [
            (-30.0, 45.0),
            (400.0, 45.0),
            (10.0, 5.0),
            (10.0, 80.0),
            (-500.0, -500.0),
        ] {
            stamp_text(
                &renderer,
                &stamps,
                &mut pixmap,
                "88",
                at,
                ink_style(40.0, true),
            );
        }
        let (count, _) = ink(&pixmap);
        assert!(count > 0, "the parts on the canvas are drawn");
    }

    #[test]
    fn div255_rounds_like_division() {
        for v in 0..=255 * 255 {
            let want = (f64::from(v) / 255.0).round() as u32;
            assert_eq!(u32::from(div255(v)), want, "{v}");
        }
    }
}

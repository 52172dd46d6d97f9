//! Rank cards: a member's level, rank and progress drawn as a PNG, in-process.
//!
//! Pure on purpose: a [`RankCard`] of plain values in, PNG bytes out, nothing
//! else of Keeper involved, so the renderer is tested and benchmarked alone
//! (`benches/card.rs`).
//!
//! # Design
//!
//! * **SVG template, rendered by resvg.** The card is written as a small SVG
//!   string (avatar ring, initials, texts, progress bar) and rasterised by
//!   resvg/tiny-skia. A template keeps the design readable and tweakable in
//!   one place, and usvg does the text shaping (kerning, Arabic joining, bidi
//!   runs) we would otherwise have to write. What is drawn outside the
//!   per-card template is drawn there for speed or safety: the rounded
//!   background is rendered once (also from SVG) and copied under every card;
//!   the accent glow behind the avatar is a mask made once and filled with
//!   the accent, and the ring, the bar's track and the "TOTAL XP" label are
//!   drawn over it, once per accent; the numbers and the labels beside them
//!   are stamped from glyphs rendered once (`card/stamps.rs`), so only the
//!   name and the initials are shaped per card; and the avatar's PNG is
//!   decoded by tiny-skia and painted into the circle with a pattern shader,
//!   which avoids a base64 round trip through a data URL and lets a corrupt
//!   avatar fall back to initials before the SVG is even written.
//! * **Fonts.** DejaVu Sans and DejaVu Sans Bold are compiled in
//!   (`assets/fonts/`, see its README) and are the only faces in the fontdb:
//!   no system font is ever loaded, so a bare container renders the same card
//!   as a developer's machine, and the golden images stay golden. DejaVu covers
//!   Latin, Greek, Cyrillic, Hebrew, Arabic, Armenian, Georgian and a lot of
//!   symbols, at about 1.4 MB for both faces.
//! * **Layout measures with the real font metrics.** `font::Metrics` reads
//!   the embedded faces' `cmap` and `hmtx` once, so before any SVG is written
//!   we know which chars have a glyph and how wide a string is. Long names
//!   first shrink (three sizes), then get cut with "…" on a char boundary that
//!   never separates a letter from its combining marks ([`Renderer::fit`]).
//! * **Glyph fallback.** A char the bold face has no glyph for is decided
//!   before rendering, never left to the renderer's `.notdef` box (and its log
//!   warning per glyph): a missing *letter or digit* (CJK, Thai, Devanagari,
//!   ...) is shown as "□", so the name keeps its length and reads as "a name
//!   in a script this card can't draw", while a missing *symbol* (emoji,
//!   dingbats, ...) is dropped, since those are decoration: "🎉 Alice 🔥"
//!   shows as "Alice". A name left with nothing to show becomes "Member"; its
//!   initials then read "?".
//! * **Escaping.** Every piece of text that reaches the SVG goes through
//!   `text::escape_xml`. Before that, names lose control chars, XML
//!   non-characters, zero-width and bidi controls and other invisibles
//!   (`text::clean_name`), so nothing a member types can break the document,
//!   re-order the card's other text, or hide itself.
//! * **Budget: under 5 ms a card** on the 2-core reference machine, release
//!   build (`cargo bench --bench card`; about 1.2-2 ms with initials, the
//!   machine's load deciding, and 1 ms more with a 128 px avatar). The
//!   fontdb, the metrics, the background and the glow mask are made once per
//!   [`Renderer`] and shared through an `Arc`, the stamps and the accents'
//!   backgrounds kept as they are first needed; per card there is one usvg
//!   parse of the name and initials, one raster pass, the stamps blended,
//!   and PNG encoding with the png crate's fdeflate setting, a tenth of the
//!   time of its default for a file about 1.5x as large (~80-100 kB), and
//!   now half of a card's time. Canvases are recycled, since page faults on
//!   a fresh megabyte per card were a fifth of the time.

mod font;
mod line;
mod stamps;
mod text;

pub use line::{CARD_QUEUE_WAIT, DrawingLine};

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use resvg::tiny_skia::{
    Color, FillRule, FilterQuality, Mask, MaskType, Paint, PathBuilder, Pattern, Pixmap, Rect,
    Shader, SpreadMode, Transform,
};
use resvg::usvg::{self, fontdb};
use stamps::{Piece, Stamps, Style};

pub use text::{format_number, initials};

/// Card size in pixels: the proportions members know from other rank bots.
pub const WIDTH: u32 = 934;
/// See [`WIDTH`].
pub const HEIGHT: u32 = 282;

const REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");
const FAMILY: &str = "DejaVu Sans";

// Geometry. The avatar sits in a square as tall as the card minus its
// margins; everything else is laid out in the column to its right.
const AVATAR_CX: f32 = 141.0;
const AVATAR_CY: f32 = 141.0;
const AVATAR_R: f32 = 96.0;
const RING_R: f32 = 103.0;
const RING_WIDTH: f32 = 6.0;
const COLUMN_X: f32 = 275.0;
const COLUMN_RIGHT: f32 = WIDTH as f32 - 40.0;
const COLUMN_W: f32 = COLUMN_RIGHT - COLUMN_X;
const CORNER_R: f32 = 28.0;
const TOP_BASELINE: f32 = 82.0;
const NAME_BASELINE: f32 = 150.0;
const BAR_Y: f32 = 172.0;
const BAR_H: f32 = 38.0;
const BOTTOM_BASELINE: f32 = 247.0;
/// Name sizes tried in turn before a name is cut: shrinking keeps more of a
/// long name readable than an early ellipsis would.
const NAME_SIZES: [f32; 3] = [44.0, 38.0, 32.0];
/// Share of the column the name may measure. The metrics add plain advances;
/// shaping (contextual Arabic forms, marks) can come out a little wider than
/// that, and this keeps such names off the card's edge.
const NAME_SLACK: f32 = 0.97;
const BIG: f32 = 40.0;
const SMALL: f32 = 22.0;

/// Radius of the accent glow around the avatar, and where it has faded out.
const GLOW_R: f32 = 330.0;
const GLOW_RIGHT: f32 = AVATAR_CX + GLOW_R;

// Palette: Discord's dark theme, so the card sits well in a dark client.
const BG_TOP: &str = "#2B2D31";
const BG_BOTTOM: &str = "#1E1F22";
const TRACK: &str = "#404249";
const AVATAR_BASE: &str = "#383A40";
const TEXT: Accent = Accent([0xF2, 0xF3, 0xF5]);
const MUTED: Accent = Accent([0xB5, 0xBA, 0xC1]);

/// The card's rounded background: a slight diagonal gradient and a faint
/// light edge that lifts it off a dark chat.
fn background_svg() -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}">
<linearGradient id="bg" x1="0" y1="0" x2="0.35" y2="1"><stop offset="0" stop-color="{BG_TOP}"/><stop offset="1" stop-color="{BG_BOTTOM}"/></linearGradient>
<rect width="{WIDTH}" height="{HEIGHT}" rx="{CORNER_R}" fill="url(#bg)"/>
<rect x="1" y="1" width="{iw}" height="{ih}" rx="{ir}" fill="none" stroke="#FFFFFF" stroke-opacity="0.06" stroke-width="2"/>
</svg>"##,
        iw = WIDTH - 2,
        ih = HEIGHT - 2,
        ir = CORNER_R - 1.0,
    )
}

/// The glow's coverage: 30% at the avatar's centre fading to nothing at
/// [`GLOW_R`], inside the card's rounded outline. Only its alpha is used.
fn glow_svg() -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}">
<radialGradient id="glow" cx="{AVATAR_CX}" cy="{AVATAR_CY}" r="{GLOW_R}" gradientUnits="userSpaceOnUse"><stop offset="0" stop-color="#FFFFFF" stop-opacity="0.30"/><stop offset="1" stop-color="#FFFFFF" stop-opacity="0"/></radialGradient>
<rect width="{WIDTH}" height="{HEIGHT}" rx="{CORNER_R}" fill="url(#glow)"/>
</svg>"##
    )
}

/// What an accent adds to the background and no card changes: the ring
/// around the avatar, the bar's empty track and the "TOTAL XP" label.
fn decor_svg(accent: Accent) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="{FAMILY}">
<circle cx="{AVATAR_CX}" cy="{AVATAR_CY}" r="{RING_R}" fill="none" stroke="{accent}" stroke-width="{RING_WIDTH}"/>
<rect x="{COLUMN_X}" y="{BAR_Y}" width="{COLUMN_W}" height="{BAR_H}" rx="{r}" fill="{TRACK}"/>
<text x="{COLUMN_X}" y="{BOTTOM_BASELINE}" font-size="{SMALL}" font-weight="bold" fill="{MUTED}">{TOTAL_XP}</text>
</svg>"##,
        r = BAR_H / 2.0,
    )
}

/// The label of the bottom row's total.
const TOTAL_XP: &str = "TOTAL XP";

/// The member's colour: ring, progress bar, level and the initials disc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Accent(pub [u8; 3]);

impl Accent {
    /// Discord's blurple.
    pub const DEFAULT: Accent = Accent([0x58, 0x65, 0xF2]);

    fn luminance(self) -> f32 {
        let [r, g, b] = self.0.map(|c| f32::from(c) / 255.0);
        0.2126 * r + 0.7152 * g + 0.0722 * b
    }

    /// The accent, lifted towards white when it's too dark to read as text on
    /// the dark card (a member may well pick #000000).
    fn for_text(self) -> Accent {
        let lum = self.luminance();
        if lum >= 0.3 {
            return self;
        }
        let t = 0.55 - lum;
        Accent(
            self.0
                .map(|c| (f32::from(c) + (255.0 - f32::from(c)) * t).round() as u8),
        )
    }
}

impl Default for Accent {
    fn default() -> Self {
        Accent::DEFAULT
    }
}

impl fmt::Display for Accent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02X}{g:02X}{b:02X}")
    }
}

/// The member's picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Avatar<'a> {
    /// Encoded PNG, as Discord's CDN serves it (`?size=128`, `.png`). One that
    /// doesn't decode, or is absurdly large, falls back to initials.
    Png(&'a [u8]),
    /// No picture: the name's initials on an accent-coloured disc.
    Initials,
}

/// Everything a card shows. The renderer trusts none of it: any name, any
/// numbers (negative, zero, `i64::MAX`) give a card.
#[derive(Debug, Clone, Copy)]
pub struct RankCard<'a> {
    /// Display name: any script, any length, specials, marks, emoji.
    pub name: &'a str,
    pub level: i64,
    /// 1-based place in the guild.
    pub rank: u64,
    /// Members ranked in the guild.
    pub out_of: u64,
    /// XP earned inside the current level.
    pub xp_into_level: i64,
    /// XP the current level needs in all; 0 (or less) shows a full bar, as
    /// there is nothing left to earn.
    pub xp_for_level: i64,
    pub total_xp: i64,
    pub accent: Accent,
    pub avatar: Avatar<'a>,
}

impl RankCard<'_> {
    /// Share of the level done, in 0..=1.
    pub fn progress(&self) -> f32 {
        if self.xp_for_level <= 0 {
            return 1.0;
        }
        (self.xp_into_level as f64 / self.xp_for_level as f64).clamp(0.0, 1.0) as f32
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The generated SVG didn't parse: a bug in the template, never the input.
    #[error("rank card SVG did not parse: {0}")]
    Svg(#[from] usvg::Error),
    #[error("could not allocate a {WIDTH}x{HEIGHT} pixmap")]
    Pixmap,
    #[error("rank card PNG encoding failed: {0}")]
    Encode(String),
    /// An embedded font didn't read: only a broken build can do this.
    #[error("embedded font unreadable: {0}")]
    Font(String),
}

/// Renders rank cards. Building one parses the embedded fonts; clones share
/// them, so make one at start-up and clone it where it's needed.
#[derive(Clone)]
pub struct Renderer {
    inner: Arc<Inner>,
}

struct Inner {
    options: usvg::Options<'static>,
    regular: font::Metrics,
    bold: font::Metrics,
    /// The rounded background with its gradient and edge, the same for every
    /// card: rendered once, copied per card.
    background: Pixmap,
    /// The accent glow's shape (how much of the accent shows where), so a
    /// card paints it as one solid colour through this mask instead of
    /// evaluating a radial gradient over half the card.
    glow: Mask,
    /// Canvases of cards already encoded, reused for the next ones. A fresh
    /// 1 MB canvas per card costs more in page faults than the copy of the
    /// background into an old one (about a fifth of a card's time).
    spare: Mutex<Vec<Pixmap>>,
    /// The background with an accent's glow and decor painted in, for the
    /// accents drawn last (most recent last): the masked fill of the glow
    /// covers half the card, and a server's cards all share one accent.
    glowing: Mutex<Vec<Arc<Glowing>>>,
    /// The numbers' chars and the labels, drawn once each (`card/stamps.rs`).
    stamps: Stamps,
}

/// The background with one accent's glow and decor, and where it is translucent (the
/// anti-aliased rim of the rounded corners): the only pixels PNG's straight
/// alpha needs demultiplied, since everything drawn on top lies inside the
/// card and is opaque over opaque.
struct Glowing {
    accent: Accent,
    pixmap: Pixmap,
    translucent: Vec<usize>,
}

/// Backgrounds with a glow kept: 1 MB each.
const MAX_GLOWING: usize = 4;

/// Spare canvases kept. Cards are rendered about one per core at a time,
/// so a few cover a burst without holding more than 4 MB for good.
const MAX_SPARE: usize = 4;

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("faces", &self.inner.options.fontdb.len())
            .field("regular", &self.inner.regular)
            .field("bold", &self.inner.bold)
            .finish()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

/// How a name is shown: the text (cleaned, glyph-checked, fitted), its size,
/// and the initials that go with it.
struct NameLayout {
    text: String,
    size: f32,
    initials: String,
}

impl Renderer {
    /// Loads the embedded fonts and draws the parts every card shares.
    ///
    /// # Panics
    ///
    /// If an embedded font doesn't read. The fonts are part of the binary and
    /// every test builds a renderer, so a build that passed its tests can't.
    pub fn new() -> Renderer {
        match Renderer::try_new() {
            Ok(renderer) => renderer,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Renderer::new`], with the impossible font error as a value.
    pub fn try_new() -> Result<Renderer, CardError> {
        let font_error = |e: font::FontFormatError| CardError::Font(e.to_string());
        let regular = font::Metrics::parse(REGULAR_TTF).map_err(font_error)?;
        let bold = font::Metrics::parse(BOLD_TTF).map_err(font_error)?;

        let mut db = fontdb::Database::new();
        db.load_font_source(fontdb::Source::Binary(Arc::new(REGULAR_TTF)));
        db.load_font_source(fontdb::Source::Binary(Arc::new(BOLD_TTF)));
        if db.len() != 2 {
            return Err(CardError::Font(format!(
                "expected 2 embedded faces, fontdb loaded {}",
                db.len()
            )));
        }
        // usvg appends the generic serif family to every lookup; point every
        // generic name at DejaVu so no lookup can come back empty.
        db.set_serif_family(FAMILY);
        db.set_sans_serif_family(FAMILY);
        db.set_monospace_family(FAMILY);
        db.set_cursive_family(FAMILY);
        db.set_fantasy_family(FAMILY);

        let mut options = usvg::Options {
            font_family: FAMILY.to_owned(),
            fontdb: Arc::new(db),
            ..usvg::Options::default()
        };
        // Coverage is settled before the SVG is written (see the module
        // docs), so a fallback search could only find nothing, and log it.
        options.font_resolver.select_fallback = Box::new(|_, _, _| None);
        // The template never references images (the avatar is drawn after
        // resvg); refusing them all means no text could ever make usvg read
        // a file, escaping or not.
        options.image_href_resolver.resolve_string = Box::new(|_, _| None);
        options.image_href_resolver.resolve_data = Box::new(|_, _, _| None);

        let background = rasterise(&background_svg(), &options)?;
        let glow = Mask::from_pixmap(rasterise(&glow_svg(), &options)?.as_ref(), MaskType::Alpha);

        Ok(Renderer {
            inner: Arc::new(Inner {
                options,
                regular,
                bold,
                background,
                glow,
                spare: Mutex::new(Vec::new()),
                glowing: Mutex::new(Vec::new()),
                stamps: Stamps::default(),
            }),
        })
    }

    /// The card as PNG bytes, `WIDTH` x `HEIGHT`, transparent outside the
    /// rounded corners. Any card gives an image: an error means a bug in the
    /// template or an allocation that failed, never bad input.
    pub fn render(&self, card: &RankCard<'_>) -> Result<Vec<u8>, CardError> {
        let (mut pixmap, glowing) = self.draw(card)?;
        let png = encode_png(&mut pixmap, &glowing.translucent);
        // A poisoned lock only means another render panicked mid-push;
        // then this canvas is simply not kept.
        if let Ok(mut spare) = self.inner.spare.lock()
            && spare.len() < MAX_SPARE
        {
            spare.push(pixmap);
        }
        png
    }

    /// The background with `accent`'s glow and decor: drawn once per accent,
    /// then kept while that accent is among the last few drawn.
    fn glowing(&self, accent: Accent) -> Result<Arc<Glowing>, CardError> {
        let mut kept = match self.inner.glowing.lock() {
            Ok(kept) => kept,
            // Poisoned by a panic mid-push: draw it, keep nothing.
            Err(_) => return self.paint_glow(accent).map(Arc::new),
        };
        if let Some(at) = kept.iter().position(|g| g.accent == accent) {
            let glowing = kept.remove(at);
            kept.push(glowing.clone());
            return Ok(glowing);
        }
        let glowing = Arc::new(self.paint_glow(accent)?);
        if kept.len() == MAX_GLOWING {
            kept.remove(0);
        }
        kept.push(glowing.clone());
        Ok(glowing)
    }

    fn paint_glow(&self, accent: Accent) -> Result<Glowing, CardError> {
        let mut pixmap = self.inner.background.clone();
        let [r, g, b] = accent.0;
        let glow = Paint {
            shader: Shader::SolidColor(Color::from_rgba8(r, g, b, 255)),
            ..Paint::default()
        };
        if let Some(area) = Rect::from_xywh(0.0, 0.0, GLOW_RIGHT, HEIGHT as f32) {
            pixmap.fill_rect(area, &glow, Transform::identity(), Some(&self.inner.glow));
        }
        let decor = usvg::Tree::from_str(&decor_svg(accent), &self.inner.options)?;
        resvg::render(&decor, Transform::identity(), &mut pixmap.as_mut());
        let translucent = pixmap
            .pixels()
            .iter()
            .enumerate()
            .filter(|(_, px)| !matches!(px.alpha(), 0 | 255))
            .map(|(i, _)| i)
            .collect();
        Ok(Glowing {
            accent,
            pixmap,
            translucent,
        })
    }

    /// A canvas holding `glowing`: a spare one when there is.
    fn canvas(&self, glowing: &Glowing) -> Pixmap {
        let spare = self.inner.spare.lock().ok().and_then(|mut s| s.pop());
        match spare {
            Some(mut pixmap) => {
                pixmap.data_mut().copy_from_slice(glowing.pixmap.data());
                pixmap
            }
            None => glowing.pixmap.clone(),
        }
    }

    /// The card as pixels (premultiplied RGBA), for callers that composite it
    /// further or encode it their own way.
    pub fn render_pixmap(&self, card: &RankCard<'_>) -> Result<Pixmap, CardError> {
        self.draw(card).map(|(pixmap, _)| pixmap)
    }

    /// The card's pixels, and the background they were drawn on.
    fn draw(&self, card: &RankCard<'_>) -> Result<(Pixmap, Arc<Glowing>), CardError> {
        let avatar = match card.avatar {
            Avatar::Png(bytes) => decode_avatar(bytes),
            Avatar::Initials => None,
        };
        let svg = self.svg(card, avatar.is_some());
        let tree = usvg::Tree::from_str(&svg, &self.inner.options)?;
        let glowing = self.glowing(card.accent)?;
        let mut pixmap = self.canvas(&glowing);
        resvg::render(&tree, Transform::identity(), &mut pixmap.as_mut());
        if let Some(avatar) = &avatar {
            draw_avatar(&mut pixmap, avatar);
        }
        self.stamp_numbers(&mut pixmap, card);
        Ok((pixmap, glowing))
    }

    /// `text` cut to at most `max_width` px when set in the name's face (DejaVu
    /// Sans Bold) at `font_size` px: unchanged when it fits, otherwise the
    /// longest prefix that fits together with a trailing "…". Cuts fall on
    /// char boundaries and never right before a combining mark; trailing
    /// spaces before the ellipsis go. "…" alone is the shortest result, even
    /// when `max_width` is narrower than that.
    pub fn fit<'t>(&self, text: &'t str, font_size: f32, max_width: f32) -> Cow<'t, str> {
        let bold = &self.inner.bold;
        if bold.width(text, font_size) <= max_width {
            return Cow::Borrowed(text);
        }
        let budget = max_width - bold.width("…", font_size);
        let mut width = 0.0;
        let mut cut = 0;
        for (i, c) in text.char_indices() {
            if !text::is_mark(c) {
                if width > budget {
                    break;
                }
                cut = i;
            }
            width += bold.advance(c) * font_size;
        }
        let mut out = text[..cut].trim_end().to_owned();
        out.push('…');
        Cow::Owned(out)
    }

    /// Width in px of `text` in the name's face at `font_size`.
    pub fn measure(&self, text: &str, font_size: f32) -> f32 {
        self.inner.bold.width(text, font_size)
    }

    /// The initials the card would show for `name` when there's no avatar:
    /// only letters the embedded font can draw count, "?" when none is left.
    pub fn initials(&self, name: &str) -> String {
        initials(&self.drawable_name(&text::clean_name(name)))
    }

    /// `clean` with the glyph fallback applied (see the module docs): missing
    /// letters become "□", missing symbols go, whitespace collapses.
    fn drawable_name(&self, clean: &str) -> String {
        let bold = &self.inner.bold;
        let mut out = String::with_capacity(clean.len());
        for c in clean.chars() {
            if bold.has_glyph(c) {
                // A space after dropped emoji would otherwise pile up.
                if !(c == ' ' && (out.is_empty() || out.ends_with(' '))) {
                    out.push(c);
                }
            } else if c.is_alphanumeric() {
                out.push('□');
            }
        }
        let kept = out.trim_end().len();
        out.truncate(kept);
        out
    }

    fn name_layout(&self, name: &str) -> NameLayout {
        let drawable = self.drawable_name(&text::clean_name(name));
        let initials: String = initials(&drawable)
            .chars()
            .filter(|&c| self.inner.bold.has_glyph(c))
            .collect();
        let initials = if initials.is_empty() {
            "?".to_owned()
        } else {
            initials
        };
        let shown = if drawable.is_empty() {
            "Member".to_owned()
        } else {
            drawable
        };
        let max_width = COLUMN_W * NAME_SLACK;
        for size in NAME_SIZES {
            if self.inner.bold.width(&shown, size) <= max_width {
                return NameLayout {
                    text: shown,
                    size,
                    initials,
                };
            }
        }
        let size = NAME_SIZES[NAME_SIZES.len() - 1];
        NameLayout {
            text: self.fit(&shown, size, max_width).into_owned(),
            size,
            initials,
        }
    }

    /// The card as SVG: what differs from one member to the next and is
    /// not a number, that is the avatar's disc (its picture is drawn
    /// afterwards when `has_avatar`), the initials, the name and the bar's
    /// fill. The background and decor are kept per accent, the numbers and
    /// labels stamped ([`Renderer::stamp_numbers`]).
    fn svg(&self, card: &RankCard<'_>, has_avatar: bool) -> String {
        let bold = &self.inner.bold;
        let name = self.name_layout(card.name);
        let accent = card.accent;
        let mut svg = String::with_capacity(1024);

        // `write!` into a String can't fail; the results are ignored below.
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FAMILY}">"#
        );

        if has_avatar {
            let _ = writeln!(
                svg,
                r#"<circle cx="{AVATAR_CX}" cy="{AVATAR_CY}" r="{AVATAR_R}" fill="{AVATAR_BASE}"/>"#
            );
        } else {
            let letters = name.initials.chars().count();
            let size = if letters > 1 { 76.0 } else { 86.0 };
            let ink = if accent.luminance() > 0.6 {
                BG_BOTTOM
            } else {
                "#FFFFFF"
            };
            let _ = writeln!(
                svg,
                r#"<circle cx="{AVATAR_CX}" cy="{AVATAR_CY}" r="{AVATAR_R}" fill="{accent}"/>
<text x="{AVATAR_CX}" y="{y:.1}" font-size="{size}" font-weight="bold" text-anchor="middle" fill="{ink}">{t}</text>"#,
                y = AVATAR_CY + bold.cap_height() * size / 2.0,
                t = text::escape_xml(&name.initials),
            );
        }

        let _ = writeln!(
            svg,
            r#"<text x="{COLUMN_X}" y="{NAME_BASELINE}" font-size="{size}" font-weight="bold" fill="{TEXT}">{t}</text>"#,
            size = name.size,
            t = text::escape_xml(&name.text),
        );
        bar_fill(&mut svg, COLUMN_W * card.progress(), accent);
        svg.push_str("</svg>\n");
        svg
    }

    /// The card's numbers and the labels beside them, stamped
    /// (`card/stamps.rs`): top right, from the right, the level and the rank
    /// out of the ranked members; bottom, the total on the left and the XP
    /// into the level out of what it needs on the right.
    fn stamp_numbers(&self, pixmap: &mut Pixmap, card: &RankCard<'_>) {
        let Inner {
            options,
            regular,
            bold,
            stamps,
            ..
        } = &*self.inner;
        let accent_text = card.accent.for_text();
        let style = |size: f32, heavy: bool, colour: Accent| Style {
            size,
            bold: heavy,
            rgb: colour.0,
        };
        let face = |heavy: bool| if heavy { bold } else { regular };
        // A run set so that it ends at `right`; returns where it starts.
        let ending = |pixmap: &mut Pixmap, run: Run<'_>, right: f32, baseline, style: Style| {
            let face = face(style.bold);
            let left = right - run.width(face, style.size);
            stamps.draw(pixmap, options, face, run.pieces(), (left, baseline), style);
            left
        };

        let level = format_number(card.level);
        let rank = format!("#{}", format_number(saturating_i64(card.rank)));
        let out_of = format!("/ {}", format_number(saturating_i64(card.out_of)));
        let top = [
            (Run::Text(&level), style(BIG, true, accent_text), 10.0),
            (Run::Label("LEVEL"), style(SMALL, true, accent_text), 34.0),
            (Run::Text(&out_of), style(SMALL, false, MUTED), 8.0),
            (Run::Text(&rank), style(BIG, true, TEXT), 10.0),
            (Run::Label("RANK"), style(SMALL, true, MUTED), 0.0),
        ];
        let mut x = COLUMN_RIGHT;
        for (run, style, gap) in top {
            x = ending(pixmap, run, x, TOP_BASELINE, style) - gap;
        }

        let needed = format!("/ {} XP", format_number(card.xp_for_level));
        let into = format_number(card.xp_into_level);
        let left = ending(
            pixmap,
            Run::Text(&needed),
            COLUMN_RIGHT,
            BOTTOM_BASELINE,
            style(SMALL, false, MUTED),
        );
        ending(
            pixmap,
            Run::Text(&into),
            left - 8.0,
            BOTTOM_BASELINE,
            style(SMALL, true, TEXT),
        );
        let total = format_number(card.total_xp);
        stamps.draw(
            pixmap,
            options,
            bold,
            Run::Text(&total).pieces(),
            (
                COLUMN_X + bold.width(TOTAL_XP, SMALL) + 10.0,
                BOTTOM_BASELINE,
            ),
            style(SMALL, true, TEXT),
        );
    }
}

/// A run of stamped text: a number's chars one by one, or a label whole.
#[derive(Clone, Copy)]
enum Run<'a> {
    Text(&'a str),
    Label(&'static str),
}

impl Run<'_> {
    fn width(self, face: &font::Metrics, size: f32) -> f32 {
        match self {
            Run::Text(text) | Run::Label(text) => face.width(text, size),
        }
    }

    fn pieces(self) -> impl Iterator<Item = Piece> {
        let (chars, label) = match self {
            Run::Text(text) => (Some(text.chars().map(Piece::Char)), None),
            Run::Label(label) => (None, Some(Piece::Label(label))),
        };
        chars.into_iter().flatten().chain(label)
    }
}

/// The accent part of the progress bar, `width` px long. From a full
/// bar's height on it's a pill like the track; shorter, it is the part of the
/// track's round left end that lies within `width`, so a sliver of progress
/// stays inside the track (a clip path would do the same at the price of a
/// full-size mask layer per card).
fn bar_fill(svg: &mut String, width: f32, accent: Accent) {
    let r = BAR_H / 2.0;
    if width < 0.5 {
        return;
    }
    if width >= BAR_H {
        let _ = writeln!(
            svg,
            r#"<rect x="{COLUMN_X}" y="{BAR_Y}" width="{width:.2}" height="{BAR_H}" rx="{r}" fill="{accent}"/>"#
        );
        return;
    }
    let x = COLUMN_X + width;
    let cy = BAR_Y + r;
    let half = (r * r - (r - width) * (r - width)).max(0.0).sqrt();
    let large = u8::from(width > r);
    let _ = writeln!(
        svg,
        r#"<path d="M {x:.2} {top:.2} A {r} {r} 0 {large} 0 {x:.2} {bottom:.2} Z" fill="{accent}"/>"#,
        top = cy - half,
        bottom = cy + half,
    );
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// An SVG rendered on its own, for the parts of the card that never change.
fn rasterise(svg: &str, options: &usvg::Options<'_>) -> Result<Pixmap, CardError> {
    rasterise_sized(svg, options, (WIDTH, HEIGHT))
}

/// [`rasterise`] on a canvas of another size (a stamp's).
fn rasterise_sized(
    svg: &str,
    options: &usvg::Options<'_>,
    (width, height): (u32, u32),
) -> Result<Pixmap, CardError> {
    let tree = usvg::Tree::from_str(svg, options)?;
    let mut pixmap = Pixmap::new(width, height).ok_or(CardError::Pixmap)?;
    resvg::render(&tree, Transform::identity(), &mut pixmap.as_mut());
    Ok(pixmap)
}

/// Largest avatar side decoded. Discord serves 128 px when asked; anything
/// far bigger is not what we asked for and would eat the render budget.
const MAX_AVATAR_SIDE: u32 = 1024;

/// The avatar's pixels, or `None` for anything that isn't a sane PNG.
fn decode_avatar(bytes: &[u8]) -> Option<Pixmap> {
    // IHDR is always the first chunk: signature (8), length (4), type (4),
    // then width and height. Checked before decoding so a bomb costs nothing.
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let header = bytes.get(..24)?;
    if &header[..8] != SIGNATURE || &header[12..16] != b"IHDR" {
        return None;
    }
    let side = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    if side(16) > MAX_AVATAR_SIDE || side(20) > MAX_AVATAR_SIDE {
        return None;
    }
    Pixmap::decode_png(bytes).ok()
}

/// Paints `avatar` into the avatar circle, scaled to cover it and centred
/// (a non-square picture loses its edges, as in Discord).
fn draw_avatar(pixmap: &mut Pixmap, avatar: &Pixmap) {
    let (w, h) = (avatar.width() as f32, avatar.height() as f32);
    let scale = 2.0 * AVATAR_R / w.min(h);
    let transform = Transform::from_row(
        scale,
        0.0,
        0.0,
        scale,
        AVATAR_CX - w * scale / 2.0,
        AVATAR_CY - h * scale / 2.0,
    );
    let paint = Paint {
        shader: Pattern::new(
            avatar.as_ref(),
            SpreadMode::Pad,
            // Bicubic is sharper on the 1.5x enlargement of a 128 px avatar
            // but costs 0.8 ms a card; bilinear looks the same at this size.
            FilterQuality::Bilinear,
            1.0,
            transform,
        ),
        anti_alias: true,
        ..Paint::default()
    };
    if let Some(circle) = PathBuilder::from_circle(AVATAR_CX, AVATAR_CY, AVATAR_R) {
        pixmap.fill_path(
            &circle,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
}

/// PNG with the png crate's fast (fdeflate) compression and the Paeth filter:
/// on this card about 0.6 ms for ~80 kB, where the default setting takes
/// over 8 ms for ~50 kB and tiny-skia's own `encode_png` (the default, plus a
/// per-pixel demultiply) even more. Paeth suits the gradients and flat areas
/// better than the adaptive choice, which is slower and no smaller here.
/// `pixmap` is demultiplied in place on the way (PNG wants straight alpha),
/// at the `translucent` pixels (by index; the others are opaque or empty), so
/// it is only good as a spare canvas afterwards.
fn encode_png(pixmap: &mut Pixmap, translucent: &[usize]) -> Result<Vec<u8>, CardError> {
    let (width, height) = (pixmap.width(), pixmap.height());
    let rgba = pixmap.data_mut();
    for &i in translucent {
        let Some(px) = rgba.get_mut(i * 4..i * 4 + 4) else {
            continue;
        };
        let a = u16::from(px[3]);
        if a != 255 && a != 0 {
            for c in &mut px[..3] {
                // c <= a for premultiplied data, so this stays <= 255.
                *c = ((u16::from(*c) * 255 + a / 2) / a) as u8;
            }
        }
    }
    let mut out = Vec::with_capacity(128 * 1024);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Paeth);
    let encode_error = |e: png::EncodingError| CardError::Encode(e.to_string());
    let mut writer = encoder.write_header().map_err(encode_error)?;
    writer.write_image_data(rgba).map_err(encode_error)?;
    writer.finish().map_err(encode_error)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use resvg::tiny_skia::PremultipliedColorU8;
    use std::collections::HashSet;
    use std::path::PathBuf;

    fn card(name: &str) -> RankCard<'_> {
        RankCard {
            name,
            level: 12,
            rank: 3,
            out_of: 1_234,
            xp_into_level: 1_234,
            xp_for_level: 5_000,
            total_xp: 45_678,
            accent: Accent::DEFAULT,
            avatar: Avatar::Initials,
        }
    }

    /// A background with a glow is kept per accent (the last few); a card drawn
    /// on a kept one, or on one drawn again after it was dropped, is the same
    /// card, and only the rounded corners' rim is translucent in it.
    #[test]
    fn kept_backgrounds_draw_the_same_card() {
        let renderer = Renderer::new();
        let first = renderer.render(&card("Kept")).unwrap();
        assert_eq!(renderer.render(&card("Kept")).unwrap(), first, "kept");
        for n in 0..MAX_GLOWING as u8 {
            let other = RankCard {
                accent: Accent([n, 200, 30]),
                ..card("Other")
            };
            renderer.render(&other).unwrap();
        }
        assert!(
            renderer
                .inner
                .glowing
                .lock()
                .unwrap()
                .iter()
                .all(|g| g.accent != Accent::DEFAULT),
            "the default accent was dropped"
        );
        assert_eq!(
            renderer.render(&card("Kept")).unwrap(),
            first,
            "drawn again"
        );

        let glowing = renderer.glowing(Accent::DEFAULT).expect("draws");
        assert!(!glowing.translucent.is_empty());
        let rim = CORNER_R.ceil() as usize + 1;
        for &i in &glowing.translucent {
            let (x, y) = (i % WIDTH as usize, i / WIDTH as usize);
            let near = |v: usize, size: u32| v < rim || v >= size as usize - rim;
            assert!(
                near(x, WIDTH) && near(y, HEIGHT),
                "({x}, {y}) is translucent"
            );
        }
    }

    /// Renders to PNG and decodes it again, so every test goes through the
    /// bytes a member actually receives.
    fn render(renderer: &Renderer, card: &RankCard<'_>) -> Pixmap {
        let png = renderer.render(card).expect("card renders");
        let pixmap = Pixmap::decode_png(&png).expect("output is a valid PNG");
        assert_eq!((pixmap.width(), pixmap.height()), (WIDTH, HEIGHT));
        pixmap
    }

    fn px(pixmap: &Pixmap, x: f32, y: f32) -> [u8; 4] {
        let c = pixmap
            .pixel(x as u32, y as u32)
            .unwrap_or_else(|| PremultipliedColorU8::from_rgba(0, 0, 0, 0).expect("valid"))
            .demultiply();
        [c.red(), c.green(), c.blue(), c.alpha()]
    }

    fn near(pixel: [u8; 4], rgb: [u8; 3], tolerance: u8) -> bool {
        pixel[3] == 255 && (0..3).all(|i| pixel[i].abs_diff(rgb[i]) <= tolerance)
    }

    /// Pixels of the rectangle, row by row.
    fn region(pixmap: &Pixmap, x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<[u8; 4]> {
        let mut out = Vec::new();
        for y in y0 as u32..y1 as u32 {
            for x in x0 as u32..x1 as u32 {
                out.push(px(pixmap, x as f32, y as f32));
            }
        }
        out
    }

    fn name_region(pixmap: &Pixmap) -> Vec<[u8; 4]> {
        region(
            pixmap,
            COLUMN_X,
            NAME_BASELINE - 46.0,
            COLUMN_RIGHT,
            NAME_BASELINE + 12.0,
        )
    }

    fn light(pixels: &[[u8; 4]]) -> usize {
        pixels
            .iter()
            .filter(|p| p[..3].iter().all(|&c| c > 200))
            .count()
    }

    fn solid_png(rgb: [u8; 3], side: u32) -> Vec<u8> {
        let mut pixmap = Pixmap::new(side, side).expect("pixmap");
        pixmap.fill(Color::from_rgba8(rgb[0], rgb[1], rgb[2], 255));
        pixmap.encode_png().expect("encodes")
    }

    #[test]
    fn renderer_is_shareable() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Renderer>();
    }

    /// Recycled canvases must not carry anything over from the card before,
    /// also when cards are rendered on several threads at once.
    #[test]
    fn cards_do_not_leak_into_each_other() {
        let red = solid_png([255, 0, 0], 128);
        let loud = RankCard {
            name: "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
            xp_into_level: 5_000,
            accent: Accent([0xFF, 0x88, 0x00]),
            avatar: Avatar::Png(&red),
            ..card("")
        };
        let quiet = RankCard {
            xp_into_level: 0,
            ..card("Al")
        };
        let want = Renderer::new().render(&quiet).expect("renders");
        let shared = Renderer::new();
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    for _ in 0..4 {
                        shared.render(&loud).expect("renders");
                        assert!(shared.render(&quiet).expect("renders") == want);
                    }
                });
            }
        });
        assert!(!shared.inner.spare.lock().expect("not poisoned").is_empty());
    }

    #[test]
    fn card_is_full_size_and_not_blank() {
        let pixmap = render(&Renderer::new(), &card("Alice Bob"));
        let colours: HashSet<[u8; 4]> = region(&pixmap, 0.0, 0.0, WIDTH as f32, HEIGHT as f32)
            .into_iter()
            .collect();
        assert!(
            colours.len() > 200,
            "only {} distinct colours",
            colours.len()
        );
        // Rounded corners are see-through, the middle is opaque.
        assert_eq!(px(&pixmap, 0.0, 0.0)[3], 0);
        assert_eq!(px(&pixmap, WIDTH as f32 / 2.0, HEIGHT as f32 / 2.0)[3], 255);
    }

    #[test]
    fn bar_fill_follows_progress() {
        let renderer = Renderer::new();
        let accent = Accent([0xFF, 0x88, 0x00]);
        let mid = BAR_Y + BAR_H / 2.0;
        let cases = [
            (0, 1_000, 0.0),
            (16, 1_000, 0.016),
            (45, 1_000, 0.045),
            (250, 1_000, 0.25),
            (500, 1_000, 0.5),
            (1_000, 1_000, 1.0),
            (1_500, 1_000, 1.0),
            (-20, 1_000, 0.0),
            (0, 0, 1.0),
        ];
        for (into, needed, share) in cases {
            let card = RankCard {
                xp_into_level: into,
                xp_for_level: needed,
                accent,
                ..card("Bar")
            };
            let pixmap = render(&renderer, &card);
            let row = region(&pixmap, COLUMN_X, mid, COLUMN_RIGHT, mid + 1.0);
            let filled = row.iter().filter(|&&p| near(p, accent.0, 6)).count() as f32;
            let want = COLUMN_W * share;
            assert!(
                (filled - want).abs() <= 3.0,
                "{into}/{needed}: {filled} accent pixels, want about {want}"
            );
            // A short fill stays inside the track's round end.
            let corner = px(&pixmap, COLUMN_X + 2.0, BAR_Y + 2.0);
            assert!(
                share == 1.0 || !near(corner, accent.0, 40),
                "{into}/{needed}: fill pokes out of the track"
            );
            if share == 0.0 {
                let bar = region(&pixmap, COLUMN_X, BAR_Y, COLUMN_RIGHT, BAR_Y + BAR_H);
                assert!(
                    !bar.iter().any(|&p| near(p, accent.0, 40)),
                    "{into}/{needed}: empty bar has accent"
                );
            }
        }
    }

    #[test]
    fn name_is_drawn_in_light_pixels() {
        let renderer = Renderer::new();
        let wide = name_region(&render(&renderer, &card("MMMMMM")));
        let narrow = name_region(&render(&renderer, &card("iiiiii")));
        assert_ne!(wide, narrow);
        assert!(
            light(&wide) > 2_000,
            "{} light pixels for MMMMMM",
            light(&wide)
        );
        assert!(light(&wide) > 2 * light(&narrow));
        // An empty name shows the fallback word, not a hole.
        let empty = name_region(&render(&renderer, &card("")));
        assert_eq!(empty, name_region(&render(&renderer, &card("Member"))));
        assert_ne!(empty, wide);
    }

    #[test]
    fn hostile_names_render() {
        let renderer = Renderer::new();
        let long = "W".repeat(500);
        let long_cjk = "漢".repeat(500);
        let zalgo = "Z\u{0351}\u{0352}\u{0353}a\u{0354}\u{0355}l\u{0356}g\u{0357}o".repeat(20);
        let names = [
            r#"<script>&"'</script>"#,
            "]]><!-- -->&amp;&#0;&#x202E;",
            &long,
            &long_cjk,
            "\u{202E}abc",
            "a\u{200D}b\u{200C}c\u{200B}d\u{2066}e\u{FEFF}",
            "👨\u{200D}👩\u{200D}👧 family",
            "漢字テスト",
            "🎉🔥",
            "Привет",
            "שלום עולם",
            "مرحبا بالعالم",
            "\u{0}\u{7}",
            "\u{0}\u{7}bell",
            "\u{FFFE}\u{FFFF}\u{10FFFF}\u{E0041}",
            "tab\tnew\nline\r\u{2028}sep",
            &zalgo,
            "Ｆｕｌｌｗｉｄｔｈ",
            "\u{3164}",
        ];
        for name in names {
            let shown = renderer.name_layout(name);
            assert!(
                !shown.text.is_empty() && !shown.initials.is_empty(),
                "{name:?}"
            );
            let pixmap = render(&renderer, &card(name));
            assert!(
                light(&name_region(&pixmap)) > 100,
                "{name:?}: no name drawn"
            );
        }
    }

    #[test]
    fn missing_glyphs_become_boxes_or_go() {
        let renderer = Renderer::new();
        let shown = |name: &str| renderer.name_layout(name).text;
        assert_eq!(shown("🎉 Alice 🔥"), "Alice");
        assert_eq!(shown("漢字テスト"), "□□□□□");
        assert_eq!(shown("Ana 漢字"), "Ana □□");
        assert_eq!(shown("🎉🔥"), "Member");
        assert_eq!(shown("Привет"), "Привет");
        assert_eq!(shown(r#"<script>&"'"#), r#"<script>&"'"#);
        assert_eq!(renderer.initials("Alice Bob"), "AB");
        assert_eq!(renderer.initials("alice"), "A");
        assert_eq!(renderer.initials("  "), "?");
        assert_eq!(renderer.initials("🎉🔥"), "?");
        assert_eq!(renderer.initials("漢字"), "?");
        assert_eq!(renderer.initials("漢字 Ana"), "A");
        assert_eq!(renderer.initials("\u{202E}zed"), "Z");
    }

    #[test]
    fn user_text_is_escaped_in_the_svg() {
        let renderer = Renderer::new();
        let svg = renderer.svg(&card(r#"<b>&"'</b>"#), false);
        assert!(
            svg.contains("&lt;b&gt;&amp;&quot;&apos;&lt;/b&gt;"),
            "{svg}"
        );
        assert!(!svg.contains("<b>"));
        usvg::Tree::from_str(&svg, &renderer.inner.options).expect("escaped SVG parses");
    }

    #[test]
    fn fit_keeps_short_names_and_cuts_long_ones() {
        let renderer = Renderer::new();
        assert!(matches!(
            renderer.fit("Alice", 40.0, 600.0),
            Cow::Borrowed("Alice")
        ));
        assert!(matches!(renderer.fit("", 40.0, 10.0), Cow::Borrowed("")));

        let long = "Bartholomew Montgomery-Fitzgerald the Third";
        for max in [80.0, 200.0, 400.0, 600.0] {
            let cut = renderer.fit(long, 32.0, max);
            assert!(cut.ends_with('…'), "{cut}");
            assert!(
                renderer.measure(&cut, 32.0) <= max,
                "{cut} is wider than {max}"
            );
            let kept = cut.trim_end_matches('…');
            assert!(long.starts_with(kept) && !kept.ends_with(' '), "{cut}");
            // Longest that fits: one more char would not.
            let next = long[kept.len()..].chars().next().expect("was cut");
            let longer = format!("{kept}{next}…");
            assert!(
                renderer.measure(&longer, 32.0) > max || next == ' ',
                "{cut} could be longer"
            );
        }

        // Multi-byte chars are never split, marks stay with their letter.
        let accents = "e\u{301}".repeat(40);
        let cut = renderer.fit(&accents, 32.0, 150.0);
        let kept = cut.trim_end_matches('…');
        assert!(
            kept.ends_with('\u{301}') && kept.chars().count().is_multiple_of(2),
            "{cut:?}"
        );
        let cyrillic = "Привет".repeat(20);
        let cyrillic = renderer.fit(&cyrillic, 32.0, 300.0);
        assert!(cyrillic.ends_with('…') && renderer.measure(&cyrillic, 32.0) <= 300.0);
        assert_eq!(renderer.fit("WWWW", 32.0, 1.0), "…");
    }

    /// The layout trusts summed advances; check against what usvg really
    /// lays out (kerning, Arabic forms, marks) that a fitted name stays in
    /// the column.
    #[test]
    fn fitted_names_stay_in_the_column_when_shaped() {
        let renderer = Renderer::new();
        let names = [
            "AVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAV",
            "Wolfgang Amadeus Mozart Salieri Haydn Beethoven",
            "Привет мир как дела Привет мир как дела",
            "مرحبا بالعالم مرحبا بالعالم مرحبا بالعالم مرحبا",
            "שלום עולם שלום עולם שלום עולם שלום עולם שלום",
            "ffi fl Ταχίστη αλώπηξ βαφής ψημένη γη, δρασκελίζει",
            "Z\u{0351}a\u{0354}l\u{0356}g\u{0357}o Z\u{0351}a\u{0354}l\u{0356}g\u{0357}o Zalgo Zalgo Zalgo",
        ];
        for name in names {
            let layout = renderer.name_layout(name);
            let svg = format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"><text x="0" y="100" font-size="{}" font-weight="bold">{}</text></svg>"#,
                layout.size,
                text::escape_xml(&layout.text)
            );
            let tree = usvg::Tree::from_str(&svg, &renderer.inner.options).expect("parses");
            let bbox = tree.root().abs_bounding_box();
            assert!(
                bbox.right() <= COLUMN_W,
                "{name}: {} laid out {} wide",
                layout.text,
                bbox.right()
            );
            assert!(bbox.width() > 100.0, "{name}: nothing laid out");
        }
    }

    #[test]
    fn avatar_fills_the_circle() {
        let renderer = Renderer::new();
        let red = solid_png([255, 0, 0], 128);
        let pixmap = render(
            &renderer,
            &RankCard {
                avatar: Avatar::Png(&red),
                ..card("Red")
            },
        );
        for (dx, dy) in [(0.0, 0.0), (-80.0, 0.0), (0.0, 80.0), (50.0, -50.0)] {
            let p = px(&pixmap, AVATAR_CX + dx, AVATAR_CY + dy);
            assert!(near(p, [255, 0, 0], 2), "{dx},{dy}: {p:?}");
        }
        // Clipped to the circle: the square's corner and the ring aren't red.
        assert!(!near(
            px(&pixmap, AVATAR_CX - 90.0, AVATAR_CY - 90.0),
            [255, 0, 0],
            60
        ));
        assert!(near(
            px(&pixmap, AVATAR_CX + RING_R, AVATAR_CY),
            Accent::DEFAULT.0,
            4
        ));

        // A non-square avatar covers the circle too.
        let mut wide = Pixmap::new(200, 100).expect("pixmap");
        wide.fill(Color::from_rgba8(0, 0, 255, 255));
        let wide = wide.encode_png().expect("encodes");
        let pixmap = render(
            &renderer,
            &RankCard {
                avatar: Avatar::Png(&wide),
                ..card("Blue")
            },
        );
        assert!(near(
            px(&pixmap, AVATAR_CX, AVATAR_CY - 90.0),
            [0, 0, 255],
            2
        ));
    }

    #[test]
    fn broken_avatars_fall_back_to_initials() {
        let renderer = Renderer::new();
        let initials = render(&renderer, &card("Alice Bob"));
        let disc = px(&initials, AVATAR_CX, AVATAR_CY - 80.0);
        assert!(near(disc, Accent::DEFAULT.0, 2), "{disc:?}");
        let mut truncated = solid_png([255, 0, 0], 128);
        truncated.truncate(truncated.len() / 2);
        let mut huge_header = solid_png([255, 0, 0], 8);
        huge_header[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        for bytes in [&b"not a png"[..], b"", &truncated, &huge_header] {
            let pixmap = render(
                &renderer,
                &RankCard {
                    avatar: Avatar::Png(bytes),
                    ..card("Alice Bob")
                },
            );
            assert!(
                pixmap == initials,
                "a broken avatar should look like no avatar"
            );
        }
    }

    #[test]
    fn extreme_numbers_render() {
        let renderer = Renderer::new();
        for (level, n, xp) in [
            (i64::MAX, u64::MAX, i64::MAX),
            (i64::MIN, 0, i64::MIN),
            (0, 1, 0),
        ] {
            let card = RankCard {
                level,
                rank: n,
                out_of: n,
                xp_into_level: xp,
                xp_for_level: xp,
                total_xp: xp,
                ..card("Numbers")
            };
            render(&renderer, &card);
        }
    }

    fn golden_path(case: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/card_{case}.png"))
    }

    /// Compares with `tests/golden/card_<case>.png`, allowing for rasteriser
    /// noise: at most 0.5% of the pixels may differ by more than 8 in a
    /// channel. Noise is well under 0.1%; 2% would let a short name vanish
    /// unnoticed (that is about 1.5% of the card).
    fn assert_golden(case: &str, png: &[u8]) {
        let path = golden_path(case);
        if std::env::var_os("KEEPER_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
            std::fs::write(&path, png).expect("golden file written");
            eprintln!("KEEPER_UPDATE_GOLDEN=1: rewrote {}", path.display());
            return;
        }
        let Ok(want) = std::fs::read(&path) else {
            panic!(
                "golden file {} is missing; look at the card, then create it with \
                 `KEEPER_UPDATE_GOLDEN=1 SQLX_OFFLINE=true cargo test --lib card::tests::golden`",
                path.display()
            );
        };
        let want = Pixmap::decode_png(&want).expect("golden file is a PNG");
        let got = Pixmap::decode_png(png).expect("render is a PNG");
        assert_eq!(
            (got.width(), got.height()),
            (want.width(), want.height()),
            "{case}: size"
        );
        let differing = got
            .pixels()
            .iter()
            .zip(want.pixels())
            .filter(|(a, b)| {
                let (a, b) = (a.demultiply(), b.demultiply());
                a.red().abs_diff(b.red()) > 8
                    || a.green().abs_diff(b.green()) > 8
                    || a.blue().abs_diff(b.blue()) > 8
                    || a.alpha().abs_diff(b.alpha()) > 8
            })
            .count();
        let allowed = got.pixels().len() / 200;
        eprintln!("{case}: {differing} pixels differ from the golden file");
        assert!(
            differing <= allowed,
            "{case}: {differing} pixels differ from {} (at most {allowed} may); \
             if the change is intended, look at the new card and rerun with KEEPER_UPDATE_GOLDEN=1",
            path.display()
        );
    }

    #[test]
    fn golden_normal_name_with_initials() {
        let png = Renderer::new().render(&card("Alice Bob")).expect("renders");
        assert_golden("normal", &png);
    }

    #[test]
    fn golden_long_name_with_ellipsis() {
        let name = "Bartholomew Montgomery-Fitzgerald, Third of His Name";
        let renderer = Renderer::new();
        assert!(renderer.name_layout(name).text.ends_with('…'));
        let card = RankCard {
            level: 47,
            rank: 1_021,
            out_of: 48_310,
            xp_into_level: 9_120,
            xp_for_level: 14_700,
            total_xp: 1_234_567,
            accent: Accent([0x2E, 0xCC, 0x71]),
            ..card(name)
        };
        assert_golden("long_name", &renderer.render(&card).expect("renders"));
    }

    #[test]
    fn golden_red_avatar_full_bar() {
        let red = solid_png([255, 0, 0], 128);
        let card = RankCard {
            level: 100,
            rank: 1,
            out_of: 312,
            xp_into_level: 5_000,
            xp_for_level: 5_000,
            total_xp: 340_500,
            accent: Accent([0xFF, 0x88, 0x00]),
            avatar: Avatar::Png(&red),
            ..card("Red Fox")
        };
        assert_golden(
            "red_avatar",
            &Renderer::new().render(&card).expect("renders"),
        );
    }
}

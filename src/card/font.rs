//! Just enough of the TrueType format to answer the two questions the card's
//! layout asks before resvg sees any text: "does this face have a glyph for
//! this char?" and "how wide is this string?".
//!
//! usvg has the answers internally (skrifa) but keeps them private, fontdb's
//! parser is private too, and probing with a throw-away usvg layout would both
//! cost a parse per question and make usvg log a warning for every missing
//! glyph. The faces read here are the two embedded DejaVu files, so the reader
//! only needs the tables they use (`head`, `hhea`, `hmtx`, `OS/2`, `cmap`
//! formats 12 and 4); every read is bounds-checked so a bad table is an error,
//! never a panic.

use std::fmt;

/// What one face says about char coverage and horizontal advances.
#[derive(Clone)]
pub(crate) struct Metrics {
    units_per_em: f32,
    /// Cap height in em, to centre capitals (the initials) on a point.
    cap_height: f32,
    /// (code point, glyph id), sorted by code point, glyph 0 left out.
    cmap: Vec<(u32, u16)>,
    /// Advance width of each glyph in font units.
    advances: Vec<u16>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("units_per_em", &self.units_per_em)
            .field("chars", &self.cmap.len())
            .field("glyphs", &self.advances.len())
            .finish()
    }
}

/// The face could not be read; only a wrong embedded file can cause this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FontFormatError(pub(crate) &'static str);

impl fmt::Display for FontFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&self, at: usize, len: usize) -> Result<&'a [u8], FontFormatError> {
        at.checked_add(len)
            .and_then(|end| self.0.get(at..end))
            .ok_or(FontFormatError("font table out of bounds"))
    }

    fn u16(&self, at: usize) -> Result<u16, FontFormatError> {
        let b = self.bytes(at, 2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn i16(&self, at: usize) -> Result<i16, FontFormatError> {
        self.u16(at).map(|v| v as i16)
    }

    fn u32(&self, at: usize) -> Result<u32, FontFormatError> {
        let b = self.bytes(at, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn table(&self, tag: &[u8; 4]) -> Result<Reader<'a>, FontFormatError> {
        let count = self.u16(4)? as usize;
        for i in 0..count {
            let record = 12 + 16 * i;
            if self.bytes(record, 4)? == tag {
                let offset = self.u32(record + 8)? as usize;
                let length = self.u32(record + 12)? as usize;
                return Ok(Reader(self.bytes(offset, length)?));
            }
        }
        Err(FontFormatError("font table missing"))
    }
}

impl Metrics {
    pub(crate) fn parse(data: &[u8]) -> Result<Metrics, FontFormatError> {
        let font = Reader(data);
        let head = font.table(b"head")?;
        let units_per_em = head.u16(18)?;
        if units_per_em == 0 {
            return Err(FontFormatError("unitsPerEm is zero"));
        }
        let hhea = font.table(b"hhea")?;
        let long_metrics = hhea.u16(34)? as usize;
        let num_glyphs = font.table(b"maxp")?.u16(4)? as usize;
        let hmtx = font.table(b"hmtx")?;
        let mut advances = Vec::with_capacity(num_glyphs.max(long_metrics));
        for i in 0..long_metrics {
            advances.push(hmtx.u16(4 * i)?);
        }
        // Glyphs past the long metrics share the last advance (monospaced tail).
        let last = advances.last().copied().unwrap_or(0);
        advances.resize(num_glyphs.max(long_metrics), last);

        // sCapHeight exists from OS/2 version 2; DejaVu's is 0.729 em.
        let cap_height = font
            .table(b"OS/2")
            .and_then(|os2| if os2.u16(0)? >= 2 { os2.i16(88) } else { Ok(0) })
            .ok()
            .filter(|&h| h > 0)
            .map_or(0.729, |h| f32::from(h) / f32::from(units_per_em));

        let mut cmap = read_cmap(&font.table(b"cmap")?)?;
        cmap.retain(|&(_, glyph)| glyph != 0 && usize::from(glyph) < advances.len());
        cmap.sort_unstable();
        cmap.dedup_by_key(|&mut (c, _)| c);

        Ok(Metrics {
            units_per_em: f32::from(units_per_em),
            cap_height,
            cmap,
            advances,
        })
    }

    fn glyph(&self, c: char) -> Option<u16> {
        self.cmap
            .binary_search_by_key(&(c as u32), |&(code, _)| code)
            .ok()
            .map(|i| self.cmap[i].1)
    }

    pub(crate) fn has_glyph(&self, c: char) -> bool {
        self.glyph(c).is_some()
    }

    pub(crate) fn cap_height(&self) -> f32 {
        self.cap_height
    }

    /// Advance of `c` in em; a char without a glyph takes `.notdef`'s.
    pub(crate) fn advance(&self, c: char) -> f32 {
        let glyph = self.glyph(c).unwrap_or(0);
        let units = self.advances.get(usize::from(glyph)).copied().unwrap_or(0);
        f32::from(units) / self.units_per_em
    }

    /// Width of `text` set at `font_size` px, as the sum of advances.
    ///
    /// Kerning and contextual forms are left out: DejaVu's kerning only
    /// tightens pairs, so the real line is at most this wide for the scripts
    /// the card sets left to right, and the layout keeps a little slack for
    /// the rest (see `card::NAME_SLACK`).
    pub(crate) fn width(&self, text: &str, font_size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * font_size
    }
}

/// Every (code point, glyph) pair of the best Unicode subtable: format 12
/// covers the astral planes, format 4 is the BMP-only fallback every font has.
fn read_cmap(cmap: &Reader<'_>) -> Result<Vec<(u32, u16)>, FontFormatError> {
    let count = cmap.u16(2)? as usize;
    let mut format4 = None;
    for i in 0..count {
        let record = 4 + 8 * i;
        let platform = cmap.u16(record)?;
        let encoding = cmap.u16(record + 2)?;
        let offset = cmap.u32(record + 4)? as usize;
        let unicode = matches!((platform, encoding), (0, _) | (3, 1) | (3, 10));
        if !unicode {
            continue;
        }
        match cmap.u16(offset)? {
            12 => return read_format12(&Reader(cmap.bytes(offset, cmap.0.len() - offset)?)),
            4 if format4.is_none() => format4 = Some(offset),
            _ => {}
        }
    }
    let offset = format4.ok_or(FontFormatError("no Unicode cmap subtable"))?;
    read_format4(&Reader(cmap.bytes(offset, cmap.0.len() - offset)?))
}

fn read_format12(sub: &Reader<'_>) -> Result<Vec<(u32, u16)>, FontFormatError> {
    let groups = sub.u32(12)? as usize;
    let mut out = Vec::new();
    for g in 0..groups {
        let at = 16 + 12 * g;
        let (start, end, first) = (sub.u32(at)?, sub.u32(at + 4)?, sub.u32(at + 8)?);
        // A corrupt group could span billions of code points; Unicode ends at 0x10FFFF.
        if start > end || end > 0x10_FFFF {
            return Err(FontFormatError("bad cmap format 12 group"));
        }
        for code in start..=end {
            let glyph = first
                .checked_add(code - start)
                .and_then(|g| u16::try_from(g).ok());
            if let Some(glyph) = glyph {
                out.push((code, glyph));
            }
        }
    }
    Ok(out)
}

fn read_format4(sub: &Reader<'_>) -> Result<Vec<(u32, u16)>, FontFormatError> {
    let segments = usize::from(sub.u16(6)? / 2);
    let ends = 14;
    let starts = ends + 2 * segments + 2;
    let deltas = starts + 2 * segments;
    let range_offsets = deltas + 2 * segments;
    let mut out = Vec::new();
    for s in 0..segments {
        let (start, end) = (sub.u16(starts + 2 * s)?, sub.u16(ends + 2 * s)?);
        let delta = sub.u16(deltas + 2 * s)?;
        let range_offset_at = range_offsets + 2 * s;
        let range_offset = usize::from(sub.u16(range_offset_at)?);
        if start > end {
            continue;
        }
        for code in start..=end {
            let glyph = if range_offset == 0 {
                code.wrapping_add(delta)
            } else {
                let at = range_offset_at + range_offset + 2 * usize::from(code - start);
                match sub.u16(at)? {
                    0 => 0,
                    g => g.wrapping_add(delta),
                }
            };
            out.push((u32::from(code), glyph));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
    const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

    #[test]
    fn reads_the_embedded_faces() {
        for data in [REGULAR, BOLD] {
            let m = Metrics::parse(data).expect("embedded face parses");
            for c in ['A', 'é', 'Ж', 'א', 'ب', '…', '□', '#', '0'] {
                assert!(m.has_glyph(c), "{c:?} should be covered");
            }
            for c in ['漢', 'テ', '🎉', '\u{10FFFD}'] {
                assert!(!m.has_glyph(c), "{c:?} should not be covered");
            }
            // DejaVu Sans: 2048 units per em, 'M' is 1767 (regular) or 2074 (bold) wide.
            let m_width = m.advance('M');
            assert!((0.8..1.1).contains(&m_width), "advance of M is {m_width}");
            assert!(m.advance('i') < m.advance('M'));
            assert!((m.width("MM", 10.0) - 20.0 * m_width).abs() < 1e-4);
            assert!((0.7..0.75).contains(&m.cap_height()));
        }
    }

    #[test]
    fn format4_agrees_with_format12_on_the_bmp() {
        let font = Reader(REGULAR);
        let cmap = font.table(b"cmap").expect("cmap");
        let (mut f4, mut f12) = (None, None);
        for i in 0..cmap.u16(2).expect("count") as usize {
            let offset = cmap.u32(4 + 8 * i + 4).expect("offset") as usize;
            let sub = Reader(&cmap.0[offset..]);
            match sub.u16(0).expect("format") {
                4 => f4 = Some(read_format4(&sub).expect("format 4")),
                12 => f12 = Some(read_format12(&sub).expect("format 12")),
                _ => {}
            }
        }
        let clean = |mut v: Vec<(u32, u16)>| {
            v.retain(|&(c, g)| g != 0 && c <= 0xFFFF);
            v.sort_unstable();
            v
        };
        let (f4, f12) = (
            clean(f4.expect("has format 4")),
            clean(f12.expect("has format 12")),
        );
        assert!(f4.len() > 3000, "{} BMP chars", f4.len());
        assert_eq!(f4, f12);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for data in [
            &b""[..],
            b"\0\x01\0\0\0\x05",
            &REGULAR[..100],
            &[0xFF; 64][..],
        ] {
            assert!(Metrics::parse(data).is_err());
        }
    }
}

//! Pure string helpers of the card: cleaning a display name, initials,
//! escaping for SVG and number formatting. None of them knows about fonts.

use std::borrow::Cow;

/// Longest name (in chars, after cleaning) the card looks at. Discord caps
/// display names at 32; the cap keeps a hostile 100 kB "name" from costing
/// more than a normal one, and nothing past it could fit on the card anyway.
pub(crate) const MAX_NAME_CHARS: usize = 200;

/// Chars that draw nothing yet change how text around them is laid out or
/// read: zero-width spaces and joiners, bidi marks, embeddings, overrides and
/// isolates, the BOM, variation selectors, tag characters, and the "blank"
/// Hangul fillers people use for invisible names. Dropping the bidi controls
/// means an RLO can't mirror the rest of the card's text, and dropping the
/// joiners turns an emoji ZWJ sequence into its separate emoji, which the
/// glyph fallback then treats one by one.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Code points XML 1.0 forbids or reserves as non-characters; after
/// `is_control` removed C0/C1 these are what's left that roxmltree rejects
/// or that no font will ever have.
fn is_noncharacter(c: char) -> bool {
    let v = c as u32;
    (0xFDD0..=0xFDEF).contains(&v) || (v & 0xFFFE) == 0xFFFE
}

/// The name as the card shows it before glyph coverage is considered:
/// controls, invisibles and non-characters gone, any run of whitespace (tabs,
/// newlines, U+2028, ideographic space, ...) one plain space, trimmed, and at
/// most [`MAX_NAME_CHARS`] chars.
pub(crate) fn clean_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(4 * MAX_NAME_CHARS));
    let mut chars = 0;
    let mut pending_space = false;
    for c in name.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_invisible(c) || is_noncharacter(c) {
            continue;
        }
        if chars + usize::from(pending_space) >= MAX_NAME_CHARS {
            break;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

/// Up to two capitals: the first letter or digit of each of the first two
/// words that have one, or "?" when none does (emoji, punctuation, empty).
pub fn initials(name: &str) -> String {
    let mut out = String::new();
    for word in name.split_whitespace() {
        if let Some(first) = word.chars().find(|c| c.is_alphanumeric()) {
            // One char of the uppercase form: 'ß' would otherwise become "SS"
            // and count as two initials.
            out.push(first.to_uppercase().next().unwrap_or(first));
            if out.chars().count() == 2 {
                break;
            }
        }
    }
    if out.is_empty() {
        out.push('?');
    }
    out
}

/// `text` made safe for SVG character data and attribute values.
pub(crate) fn escape_xml(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Combining marks of the common scripts: cutting right before one would
/// strip an accent off its letter, so the ellipsis never goes there.
pub(crate) fn is_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{0483}'..='\u{0489}'
            | '\u{0591}'..='\u{05BD}'
            | '\u{05BF}'
            | '\u{05C1}'..='\u{05C2}'
            | '\u{05C4}'..='\u{05C5}'
            | '\u{05C7}'
            | '\u{0610}'..='\u{061A}'
            | '\u{064B}'..='\u{065F}'
            | '\u{0670}'
            | '\u{06D6}'..='\u{06DC}'
            | '\u{06DF}'..='\u{06E4}'
            | '\u{06E7}'..='\u{06E8}'
            | '\u{06EA}'..='\u{06ED}'
            | '\u{0E31}'
            | '\u{0E34}'..='\u{0E3A}'
            | '\u{0E47}'..='\u{0E4E}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// Numbers the way the whole card shows them: grouped with commas below
/// 100,000 ("99,999"), three significant digits with a suffix from there on
/// ("123K", "4.56M", "7.89B"), so no value (even `i64::MIN`) is wider than
/// seven chars plus the sign and the layout never has to guess.
pub fn format_number(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    let abs = n.unsigned_abs();
    if abs < 100_000 {
        return format!("{sign}{}", group_thousands(abs));
    }
    const SUFFIXES: [&str; 6] = ["K", "M", "B", "T", "Qa", "Qi"];
    let mut scale = 1_000u64;
    let mut suffix = 0;
    // Move up a unit once the value would round to 1,000 of the current one.
    while suffix + 1 < SUFFIXES.len() && abs >= scale.saturating_mul(1000).saturating_sub(scale / 2)
    {
        scale *= 1000;
        suffix += 1;
    }
    let value = abs as f64 / scale as f64;
    let digits = if value >= 99.95 {
        0
    } else if value >= 9.995 {
        1
    } else {
        2
    };
    let mut text = format!("{value:.digits$}");
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(trimmed);
    }
    format!("{sign}{text}{}", SUFFIXES[suffix])
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_strips_what_must_not_reach_the_svg() {
        assert_eq!(clean_name("  Alice \t\n  Bob  "), "Alice Bob");
        assert_eq!(clean_name("\u{202E}abc"), "abc");
        assert_eq!(
            clean_name("a\u{200B}b\u{200D}c\u{FEFF}d\u{2067}e\u{2069}"),
            "abcde"
        );
        assert_eq!(clean_name("\u{0}\u{7}x\u{1B}[31m\u{7F}\u{85}"), "x[31m");
        assert_eq!(clean_name("\u{FFFE}\u{FFFF}\u{FDD0}\u{10FFFF}ok"), "ok");
        assert_eq!(clean_name("\u{3164}\u{3164}"), "");
        assert_eq!(clean_name("a\u{2028}b\u{3000}c"), "a b c");
        assert_eq!(clean_name("❤\u{FE0F}"), "❤");
        let long = clean_name(&"ab ".repeat(1000));
        assert_eq!(long.chars().count(), MAX_NAME_CHARS);
        assert!(!long.ends_with(' '));
    }

    #[test]
    fn initials_take_the_first_letters_of_two_words() {
        assert_eq!(initials("Alice Bob"), "AB");
        assert_eq!(initials("alice"), "A");
        assert_eq!(initials("alice bob carol"), "AB");
        assert_eq!(initials("  "), "?");
        assert_eq!(initials(""), "?");
        assert_eq!(initials("漢字"), "漢");
        assert_eq!(initials("🎉🔥"), "?");
        assert_eq!(initials("🎉 party 🔥"), "P");
        assert_eq!(initials("(dj) [mc]"), "DM");
        assert_eq!(initials("ßen élan"), "SÉ");
        assert_eq!(initials("Привет мир"), "ПМ");
        assert_eq!(initials("404 crew"), "4C");
    }

    #[test]
    fn escaping_covers_the_five_specials() {
        assert_eq!(escape_xml("plain"), Cow::Borrowed("plain"));
        assert_eq!(
            escape_xml(r#"<script>&"'</script>"#),
            "&lt;script&gt;&amp;&quot;&apos;&lt;/script&gt;"
        );
    }

    #[test]
    fn numbers_are_grouped_then_compact() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (12_345, "12,345"),
            (99_999, "99,999"),
            (100_000, "100K"),
            (123_456, "123K"),
            (999_499, "999K"),
            (999_500, "1M"),
            (1_234_567, "1.23M"),
            (12_345_678, "12.3M"),
            (1_000_000_000, "1B"),
            (4_560_000_000_000, "4.56T"),
            (-12_345, "-12,345"),
            (-1_500_000, "-1.5M"),
            (i64::MAX, "9.22Qi"),
            (i64::MIN, "-9.22Qi"),
        ];
        for (n, want) in cases {
            assert_eq!(format_number(n), want, "{n}");
        }
    }
}

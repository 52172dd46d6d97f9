//! Durations as moderators type them (`30m`, `12h`, `7d`, `2w`, `1d12h`,
//! `1w 2d`), for warning expiries, timeouts and temporary bans; and the same
//! back, for answers and the mod-log. Pure: parsing never reads a clock.

use std::{fmt, time::Duration};

/// The units, largest first, with their length in seconds.
const UNITS: [(char, u64, &str); 5] = [
    ('w', 7 * 86_400, "week"),
    ('d', 86_400, "day"),
    ('h', 3_600, "hour"),
    ('m', 60, "minute"),
    ('s', 1, "second"),
];

/// The longest duration accepted at all (a year); each use has its own bound
/// too (a timeout is at most 28 days, Discord's limit).
pub const MAX: Duration = Duration::from_secs(365 * 86_400);

/// Why a duration was not understood, worded for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurationError {
    Empty,
    /// A number with no unit after it (`30`).
    NoUnit(String),
    /// A unit with no number before it (`d`), or a character that is neither.
    Unexpected(char),
    UnknownUnit(char),
    /// The same unit twice (`1d2d`): probably a typo.
    Repeated(char),
    Zero,
    TooLong,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HOW: &str =
            "Write it as a number and a unit: `30m`, `12h`, `7d`, `2w`, or several, like `1d12h`.";
        match self {
            DurationError::Empty => write!(f, "The duration is empty. {HOW}"),
            DurationError::NoUnit(n) => write!(f, "`{n}` has no unit. {HOW}"),
            DurationError::Unexpected('-') => {
                write!(f, "A duration can't be negative. {HOW}")
            }
            DurationError::Unexpected(c) => write!(f, "I didn't expect `{c}` there. {HOW}"),
            DurationError::UnknownUnit(c) => write!(
                f,
                "`{c}` is not a unit I know: use `s`, `m`, `h`, `d` or `w`. {HOW}"
            ),
            DurationError::Repeated(c) => write!(f, "`{c}` is given twice. {HOW}"),
            DurationError::Zero => write!(f, "The duration must be longer than zero."),
            DurationError::TooLong => write!(f, "That is longer than a year, the most I accept."),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parse a duration: numbers each followed by a unit (`s`, `m`, `h`, `d`, `w`,
/// any case), each unit at most once, spaces allowed around each part; more
/// than zero and at most [`MAX`].
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let mut chars = text.trim().chars().peekable();
    if chars.peek().is_none() {
        return Err(DurationError::Empty);
    }
    let mut total: u64 = 0;
    let mut seen = Vec::new();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if !c.is_ascii_digit() {
            return Err(DurationError::Unexpected(c));
        }
        let mut digits = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(d);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(unit) = chars.next().map(|u| u.to_ascii_lowercase()) else {
            return Err(DurationError::NoUnit(digits));
        };
        let Some(&(_, secs, _)) = UNITS.iter().find(|(u, ..)| *u == unit) else {
            return Err(if unit.is_alphabetic() {
                DurationError::UnknownUnit(unit)
            } else {
                DurationError::Unexpected(unit)
            });
        };
        if seen.contains(&unit) {
            return Err(DurationError::Repeated(unit));
        }
        seen.push(unit);
        // Digits only, so the one failure is overflow: far past MAX anyway.
        let n: u64 = digits.parse().map_err(|_| DurationError::TooLong)?;
        total = n
            .checked_mul(secs)
            .and_then(|part| total.checked_add(part))
            .ok_or(DurationError::TooLong)?;
    }
    match Duration::from_secs(total) {
        Duration::ZERO => Err(DurationError::Zero),
        d if d > MAX => Err(DurationError::TooLong),
        d => Ok(d),
    }
}

/// A duration in words, largest units first, whole seconds: `1 day 12 hours`.
pub fn describe(duration: Duration) -> String {
    let mut left = duration.as_secs();
    let mut parts = Vec::new();
    for (_, secs, name) in UNITS {
        let n = left / secs;
        left %= secs;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        return "0 seconds".to_owned();
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Result<Duration, DurationError> {
        Ok(Duration::from_secs(n))
    }

    #[test]
    fn single_units() {
        assert_eq!(parse("30m"), secs(30 * 60));
        assert_eq!(parse("12h"), secs(12 * 3600));
        assert_eq!(parse("7d"), secs(7 * 86_400));
        assert_eq!(parse("2w"), secs(14 * 86_400));
        assert_eq!(parse("45s"), secs(45));
    }

    #[test]
    fn combinations_in_any_order_case_and_spacing() {
        assert_eq!(parse("1d12h"), secs(86_400 + 12 * 3600));
        assert_eq!(parse("12h1d"), secs(86_400 + 12 * 3600));
        assert_eq!(parse(" 1W 2D "), secs(9 * 86_400));
        assert_eq!(parse("1 d 30 m"), secs(86_400 + 1800));
        assert_eq!(parse("0d5m"), secs(300), "a zero part is fine");
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(parse("   "), Err(DurationError::Empty));
        assert_eq!(parse("30"), Err(DurationError::NoUnit("30".into())));
        assert_eq!(parse("1d30"), Err(DurationError::NoUnit("30".into())));
        assert_eq!(parse("-1d"), Err(DurationError::Unexpected('-')));
        assert_eq!(parse("d"), Err(DurationError::Unexpected('d')));
        assert_eq!(parse("5y"), Err(DurationError::UnknownUnit('y')));
        assert_eq!(parse("5é"), Err(DurationError::UnknownUnit('é')));
        assert_eq!(parse("1.5h"), Err(DurationError::Unexpected('.')));
        assert_eq!(parse("1d2d"), Err(DurationError::Repeated('d')));
        assert_eq!(parse("0m"), Err(DurationError::Zero));
        assert_eq!(parse("0d0h"), Err(DurationError::Zero));
        assert_eq!(parse("53w"), Err(DurationError::TooLong));
        assert_eq!(parse("52w2d"), Err(DurationError::TooLong));
        assert_eq!(parse("52w1d"), secs(365 * 86_400), "exactly a year");
        assert_eq!(
            parse("99999999999999999999999w"),
            Err(DurationError::TooLong),
            "more digits than u64 holds"
        );
        assert_eq!(
            parse("3000000000000000w"),
            Err(DurationError::TooLong),
            "fits u64, overflows in seconds"
        );
    }

    #[test]
    fn errors_say_what_to_type() {
        for bad in ["", "30", "-1d", "5y", "1d2d", "0m", "60w", "x"] {
            let message = parse(bad).unwrap_err().to_string();
            assert!(!message.is_empty(), "{bad}");
            assert!(
                message.contains('`') || message.contains("zero") || message.contains("year"),
                "{bad}: {message}"
            );
        }
        assert!(parse("-1d").unwrap_err().to_string().contains("negative"));
    }

    #[test]
    fn described_largest_first() {
        assert_eq!(
            describe(Duration::from_secs(86_400 + 12 * 3600)),
            "1 day 12 hours"
        );
        assert_eq!(describe(Duration::from_secs(14 * 86_400)), "2 weeks");
        assert_eq!(describe(Duration::from_secs(61)), "1 minute 1 second");
        assert_eq!(describe(Duration::ZERO), "0 seconds");
        for text in ["30m", "1d12h", "2w", "1w2d3h4m5s"] {
            let d = parse(text).unwrap();
            let words = describe(d);
            let compact: String = words
                .split(' ')
                .collect::<Vec<_>>()
                .chunks(2)
                .map(|p| format!("{}{}", p[0], &p[1][..1]))
                .collect();
            assert_eq!(parse(&compact).unwrap(), d, "{words}");
        }
    }
}

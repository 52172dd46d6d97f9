//! Discord ids as other bots wrote them: strings, or numbers, which a
//! JavaScript bot may have rounded.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::snowflake;

/// The largest integer every JSON reader holds exactly (2^53): JavaScript's
/// numbers are doubles, and above this they round.
pub const EXACT_IN_JAVASCRIPT: u64 = 1 << 53;

/// An id written as a string or a number, checked as a snowflake.
pub fn snowflake_value(value: &Value, now: DateTime<Utc>) -> Result<u64, String> {
    match value {
        Value::String(text) => snowflake_text(text, now),
        Value::Number(number) => match number.as_u64() {
            Some(id) => {
                if id > EXACT_IN_JAVASCRIPT && could_be_rounded(id) {
                    Err(format!(
                        "{id} is written as a number above 2^53, as JavaScript rounds them, \
                         so it may not be the id it was (write ids as strings)"
                    ))
                } else {
                    checked(id, now)
                }
            }
            None => Err(format!("{number} is not a Discord id")),
        },
        other => Err(format!("{} is not a Discord id", short(other))),
    }
}

/// An id written as text: digits only.
pub fn snowflake_text(text: &str, now: DateTime<Utc>) -> Result<u64, String> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{:?} is not a Discord id", clip(text)));
    }
    let id = digits
        .parse::<u64>()
        .map_err(|_| format!("{:?} is too large for a Discord id", clip(text)))?;
    checked(id, now)
}

/// Whether JavaScript could have printed `id`: it writes a double as the
/// shortest decimal that reads back as that double, padded with zeros, so a
/// rounded id is one equal to that printing of its nearest double. An exact id
/// (written by Python, say) almost never is; the rare exact one that is, is
/// refused too, as there is no telling the two apart.
pub fn could_be_rounded(id: u64) -> bool {
    let nearest = id as f64;
    format!("{nearest}").parse::<u64>() == Ok(id)
}

/// Not 0, and not made after `now` (with a day of slack for clocks).
fn checked(id: u64, now: DateTime<Utc>) -> Result<u64, String> {
    if id == 0 {
        return Err("0 is not a Discord id".into());
    }
    if snowflake::created_at(id) > now + Duration::days(1) {
        return Err(format!(
            "{id} is not a Discord id: its time would be in the future"
        ));
    }
    Ok(id)
}

/// A value as a report shows it: short.
pub fn short(value: &Value) -> String {
    clip(&value.to_string())
}

/// At most 40 characters of `text`, so a gigabyte string makes one short line.
pub fn clip(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn strings_and_exact_numbers_are_ids() {
        let id = 1_234_567_890_123_456_789u64;
        assert!(!could_be_rounded(id));
        assert_eq!(
            snowflake_value(&json!("1234567890123456789"), now()),
            Ok(id)
        );
        assert_eq!(snowflake_value(&json!(id), now()), Ok(id));
        assert_eq!(snowflake_value(&json!(" 42 "), now()), Ok(42));
        assert_eq!(snowflake_value(&json!(42), now()), Ok(42));
    }

    #[test]
    fn a_number_javascript_rounded_is_reported() {
        // What `JSON.stringify(1234567890123456789)` writes.
        let rounded = 1_234_567_890_123_456_800u64;
        assert!(could_be_rounded(rounded));
        let err = snowflake_value(&json!(rounded), now()).unwrap_err();
        assert!(err.contains("2^53"), "{err}");
        // The same id as a string is taken as written.
        assert_eq!(
            snowflake_value(&json!("1234567890123456800"), now()),
            Ok(rounded)
        );
        // At or below 2^53 every integer is exact.
        assert_eq!(
            snowflake_value(&json!(EXACT_IN_JAVASCRIPT), now()),
            Ok(EXACT_IN_JAVASCRIPT)
        );
    }

    #[test]
    fn what_is_no_id_says_why() {
        for (value, why) in [
            (json!("abc"), "is not a Discord id"),
            (json!(""), "is not a Discord id"),
            (json!("-5"), "is not a Discord id"),
            (json!("1e18"), "is not a Discord id"),
            (json!("99999999999999999999999"), "too large"),
            (json!(-5), "is not a Discord id"),
            (json!(1.5), "is not a Discord id"),
            (json!(1e30), "is not a Discord id"),
            (json!(0), "0 is not"),
            (json!(null), "null is not"),
            (json!([1]), "is not a Discord id"),
            (json!({"id": 1}), "is not a Discord id"),
            // Made in 2090: in the future.
            (json!(u64::MAX.to_string()), "in the future"),
        ] {
            let err = snowflake_value(&value, now()).unwrap_err();
            assert!(err.contains(why), "{value}: {err}");
        }
    }

    #[test]
    fn a_huge_string_is_reported_in_one_short_line() {
        let err = snowflake_text(&"x".repeat(1_000_000), now()).unwrap_err();
        assert!(err.len() < 80, "{err}");
    }
}

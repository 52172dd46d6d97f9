//! Conversions between what SQLite stores and the domain types: times as
//! milliseconds; INTEGERs narrowed to Rust's smaller types and rows to values,
//! both shared by every backend.

use chrono::{DateTime, Utc};
pub(crate) use keeper_store::backend::{attach_roles, from_rows, narrow, rank_from_counts};
use keeper_store::{StoreError, StoreResult};

/// Times are stored as INTEGER milliseconds since the Unix epoch, UTC.
pub(crate) fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The inverse of [`to_ms`].
pub(crate) fn from_ms(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Internal(format!("stored time {ms} ms is out of range").into()))
}

/// [`from_ms`] for nullable columns.
pub(crate) fn from_ms_opt(ms: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    ms.map(from_ms).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_milliseconds() {
        let at = DateTime::from_timestamp_millis(1_764_000_000_123).unwrap();
        assert_eq!(from_ms(to_ms(at)).unwrap(), at);
    }
}

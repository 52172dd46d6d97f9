//! Conversions between what SQLite stores and the domain types: times as
//! milliseconds, INTEGERs narrowed to Rust's smaller types, rows to values.

use chrono::{DateTime, Utc};
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

/// A stored INTEGER that must fit a narrower Rust type (levels, counts).
pub(crate) fn narrow<T: TryFrom<i64>>(value: i64, what: &str) -> StoreResult<T> {
    T::try_from(value)
        .map_err(|_| StoreError::Internal(format!("stored {what} {value} is out of range").into()))
}

/// Every row of a read as its domain type (each row struct has a `TryFrom`).
pub(crate) fn from_rows<R, T>(rows: Vec<R>) -> StoreResult<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
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

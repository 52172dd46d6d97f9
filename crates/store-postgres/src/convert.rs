//! Conversions between what PostgreSQL stores and the domain types: BIGINTs
//! narrowed to Rust's smaller or unsigned types, rows to values. (Times need none:
//! `timestamptz` is a `DateTime<Utc>` as it is.)

use keeper_store::{StoreError, StoreResult};

/// A stored BIGINT that must fit a narrower Rust type (counts).
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

//! Sorting sqlx errors into [`StoreError`] by what the caller can do about them.

use keeper_store::StoreError;

/// Map a sqlx error to what the caller can do about it.
pub(crate) fn db_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(err),
        sqlx::Error::Configuration(_) => StoreError::Config(err.to_string()),
        sqlx::Error::Database(_) => match sqlite_code(&err) {
            // SQLITE_BUSY, SQLITE_LOCKED (another process holds the file past
            // busy_timeout), SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN:
            // the file or the disk is in the way, nothing was written, later may work.
            Some(5 | 6 | 8 | 10 | 13 | 14) => StoreError::unavailable(err),
            _ => StoreError::internal(err),
        },
        _ => StoreError::internal(err),
    }
}

/// The primary SQLite result code of a database error.
pub(crate) fn sqlite_code(err: &sqlx::Error) -> Option<i32> {
    match err {
        sqlx::Error::Database(db) => db.code()?.parse::<i32>().ok().map(|c| c & 0xff),
        _ => None,
    }
}

/// Whether SQLite refused a value for its column type (SQLITE_CONSTRAINT_DATATYPE),
/// which is how an overflowing sum shows: SQLite turns it into a REAL, and the
/// STRICT table's INTEGER column refuses it.
pub(crate) fn is_overflow(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("3091"))
}

/// A value the caller passed that the database can't hold.
pub(crate) fn out_of_range(what: &str) -> StoreError {
    StoreError::Invalid(format!("{what} is out of range."))
}

//! Sorting sqlx errors into [`StoreError`] by what the caller can do about them.

use keeper_store::StoreError;

/// Sort a sqlx error by what the caller can do about it.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(e),
        sqlx::Error::Database(ref db) if db.code().is_some_and(|c| is_unavailable_code(&c)) => {
            StoreError::unavailable(e)
        }
        // 22021: PostgreSQL text can't hold U+0000, the only character a Rust
        // string can carry that it refuses.
        sqlx::Error::Database(ref db) if db.code().as_deref() == Some("22021") => {
            StoreError::Invalid("Text can't contain the NUL character (U+0000).".into())
        }
        // 42P05 duplicate_prepared_statement, 26000 invalid_sql_statement_name:
        // statements prepared on one server connection and run on another, what
        // a pooler in transaction mode does to a client that does not know it.
        sqlx::Error::Database(ref db)
            if matches!(db.code().as_deref(), Some("42P05" | "26000")) =>
        {
            StoreError::Config(format!(
                "{e}: PostgreSQL is reached through a pooler in transaction mode \
                 (PgBouncer's pool_mode = transaction?); set KEEPER_PG_POOLER=transaction"
            ))
        }
        sqlx::Error::Configuration(_) => {
            StoreError::Config(format!("PostgreSQL configuration: {e}"))
        }
        e => StoreError::internal(e),
    }
}

/// SQLSTATEs meaning the server can't serve us right now: connection exceptions
/// (class 08), shutdown or startup (57P01-57P03) and too many connections (53300).
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P0") || code == "53300"
}

/// Whether an integer sum overflowed: 22003, numeric_value_out_of_range (a total
/// would pass `i64::MAX`).
pub(crate) fn is_overflow(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("22003"))
}

/// A CHECK constraint refused the row (23514): the value was out of its range, told
/// to the person as `message`; any other error is sorted by [`db_error`].
pub(crate) fn check_violation(e: sqlx::Error, message: &str) -> StoreError {
    match e {
        sqlx::Error::Database(ref db) if db.code().as_deref() == Some("23514") => {
            StoreError::Invalid(message.to_owned())
        }
        e => db_error(e),
    }
}

/// A Discord id or counter that doesn't fit the column, as a sentence.
pub(crate) fn out_of_range(what: &str) -> StoreError {
    StoreError::Invalid(format!("{what} is out of range."))
}

//! Sorting sqlx errors into [`StoreError`] by what the caller can do about them,
//! and retrying what InnoDB asks to be retried.

use std::future::Future;

use keeper_store::{StoreError, StoreResult};

/// MySQL's and MariaDB's error numbers Keeper tells apart.
mod code {
    /// ER_LOCK_DEADLOCK: InnoDB chose this transaction as a deadlock's victim
    /// and rolled it back.
    pub const DEADLOCK: u16 = 1213;
    /// ER_LOCK_WAIT_TIMEOUT: a row lock was not granted within
    /// innodb_lock_wait_timeout; the statement was rolled back.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// ER_CON_COUNT_ERROR: too many connections.
    pub const TOO_MANY_CONNECTIONS: u16 = 1040;
    /// ER_SERVER_SHUTDOWN.
    pub const SHUTDOWN: u16 = 1053;
    /// ER_QUERY_INTERRUPTED, ER_CONNECTION_KILLED (MariaDB).
    pub const INTERRUPTED: u16 = 1317;
    pub const KILLED: u16 = 1927;
    /// ER_OPTION_PREVENTS_STATEMENT (a read-only server, as a replica or a
    /// failover in progress is).
    pub const READ_ONLY: u16 = 1290;
    /// ER_WARN_DATA_OUT_OF_RANGE, ER_DATA_OUT_OF_RANGE: a value too big for
    /// its column or an arithmetic overflow (`xp + ?` past 2^63).
    pub const OUT_OF_RANGE: u16 = 1264;
    pub const DATA_OUT_OF_RANGE: u16 = 1690;
    /// MariaDB's ER_CONSTRAINT_FAILED and MySQL's ER_CHECK_CONSTRAINT_VIOLATED.
    pub const CHECK_MARIADB: u16 = 4025;
    pub const CHECK_MYSQL: u16 = 3819;
    /// ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_BAD_DB_ERROR.
    pub const ACCESS_DENIED: u16 = 1045;
    pub const DB_ACCESS_DENIED: u16 = 1044;
    pub const BAD_DB: u16 = 1049;
    /// ER_DUP_ENTRY: a row with the same unique key exists.
    pub const DUP_ENTRY: u16 = 1062;
}

/// The server's error number of a database error.
pub(crate) fn mysql_code(e: &sqlx::Error) -> Option<u16> {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map(|e| e.number()),
        _ => None,
    }
}

/// Sort a sqlx error by what the caller can do about it.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(e),
        ref db if is_retryable(db) => StoreError::unavailable(e),
        ref db
            if matches!(
                mysql_code(db),
                Some(
                    code::TOO_MANY_CONNECTIONS
                        | code::SHUTDOWN
                        | code::INTERRUPTED
                        | code::KILLED
                        | code::READ_ONLY
                )
            ) =>
        {
            StoreError::unavailable(e)
        }
        sqlx::Error::Configuration(_) => StoreError::Config(format!("MySQL configuration: {e}")),
        e => StoreError::internal(e),
    }
}

/// Whether InnoDB rolled the statement or transaction back for a reason that
/// retrying it may not meet again: a deadlock, or a lock not granted in time.
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    matches!(
        mysql_code(e),
        Some(code::DEADLOCK | code::LOCK_WAIT_TIMEOUT)
    )
}

/// Whether the error was a refused connection (bad user, password or database):
/// retrying at boot will not help.
pub(crate) fn is_refusal(e: &sqlx::Error) -> bool {
    matches!(
        mysql_code(e),
        Some(code::ACCESS_DENIED | code::DB_ACCESS_DENIED | code::BAD_DB)
    )
}

/// Whether a row with the same key was already there.
pub(crate) fn is_duplicate_key(e: &sqlx::Error) -> bool {
    mysql_code(e) == Some(code::DUP_ENTRY)
}

/// Whether an integer sum overflowed its BIGINT (a total past `i64::MAX`).
pub(crate) fn is_overflow(e: &sqlx::Error) -> bool {
    matches!(
        mysql_code(e),
        Some(code::OUT_OF_RANGE | code::DATA_OUT_OF_RANGE)
    )
}

/// A CHECK constraint refused the row: the value was out of its range, told to
/// the person as `message`; any other error is sorted by [`db_error`].
pub(crate) fn check_violation(e: sqlx::Error, message: &str) -> StoreError {
    if matches!(
        mysql_code(&e),
        Some(code::CHECK_MARIADB | code::CHECK_MYSQL)
    ) {
        StoreError::Invalid(message.to_owned())
    } else {
        db_error(e)
    }
}

/// A Discord id or counter that doesn't fit the column, as a sentence.
pub(crate) fn out_of_range(what: &str) -> StoreError {
    StoreError::Invalid(format!("{what} is out of range."))
}

/// How many times a transaction InnoDB rolled back is run again before its
/// error is returned.
const ATTEMPTS: u32 = 5;

/// What a transaction's body returns: its value, or why it stopped, keeping a
/// sqlx error as it came so that [`retrying`] can tell a deadlock.
pub(crate) enum Stop {
    Db(sqlx::Error),
    Store(StoreError),
    /// Another writer changed what the transaction had read and could not
    /// lock (a row it found missing, then inserted): run it again, like a
    /// deadlock.
    Raced(sqlx::Error),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Db(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

impl From<Stop> for StoreError {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Db(e) => db_error(e),
            Stop::Store(e) => e,
            Stop::Raced(e) => db_error(e),
        }
    }
}

/// Run a transaction, again when InnoDB rolled it back (a deadlock, a lock wait
/// timeout) or another writer raced it ([`Stop::Raced`]), up to [`ATTEMPTS`] times with a short growing pause: a deadlock is
/// the engine's way of asking one of two writers to try again, never something
/// to tell a member. `attempt` must start its own transaction and commit it, so
/// that each run starts clean (InnoDB rolled the failed one back whole).
pub(crate) async fn retrying<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Stop>>,
{
    let mut tries = 1;
    loop {
        let e = match attempt().await {
            Ok(value) => return Ok(value),
            Err(Stop::Raced(e)) if tries < ATTEMPTS => e,
            Err(Stop::Db(e)) if is_retryable(&e) && tries < ATTEMPTS => e,
            Err(stop) => return Err(stop.into()),
        };
        tracing::debug!(error = %e, tries, "a transaction was rolled back; running it again");
        tokio::time::sleep(std::time::Duration::from_millis(
            u64::from(tries) * 5 + u64::from(rand_jitter()),
        ))
        .await;
        tries += 1;
    }
}

/// A few milliseconds that differ between two writers retrying at once, so they
/// do not meet again in step (from the clock: good enough to tell two apart).
fn rand_jitter() -> u8 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos % 7) as u8
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn raced() -> Stop {
        Stop::Raced(sqlx::Error::Protocol("a row inserted in between".into()))
    }

    #[tokio::test]
    async fn a_raced_transaction_runs_again_until_it_goes_through() {
        let runs = AtomicU32::new(0);
        let value = retrying(|| async {
            if runs.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(raced())
            } else {
                Ok(7)
            }
        })
        .await
        .expect("the third run goes through");
        assert_eq!((value, runs.load(Ordering::SeqCst)), (7, 3));
    }

    #[tokio::test]
    async fn a_transaction_raced_every_time_stops_after_its_attempts() {
        let runs = AtomicU32::new(0);
        let result: StoreResult<()> = retrying(|| async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(raced())
        })
        .await;
        assert!(result.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), ATTEMPTS);
    }

    #[tokio::test]
    async fn any_other_database_error_is_not_run_again() {
        let runs = AtomicU32::new(0);
        let result: StoreResult<()> = retrying(|| async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(Stop::Db(sqlx::Error::Protocol("broken".into())))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}

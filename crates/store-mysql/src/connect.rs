//! Reaching the server: the configuration, each connection's session settings,
//! and connecting with retries at boot so that a bot started together with its
//! database waits for it.

use std::{str::FromStr, time::Duration};

use keeper_store::{StoreError, StoreResult};
use sqlx::{
    Connection, Executor, MySqlConnection,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
};

use crate::{
    MySqlStore,
    error::{db_error, is_refusal},
    migrate::migrate,
};

/// Connections in the pool when `KEEPER_MYSQL_POOL` is not set.
pub const DEFAULT_POOL_SIZE: u32 = 10;
/// Connection attempts at boot by default: with the backoff below, about 30 s of
/// waiting for a database that is still starting (as under docker compose).
pub const DEFAULT_CONNECT_ATTEMPTS: u32 = 8;
/// First pause between boot attempts; it doubles after each failure...
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// ...up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// How long one query waits for a free (or new) connection: short, so that a
/// database that went away answers "unavailable" quickly.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach MySQL or MariaDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MySqlConfig {
    /// `mysql://user:password@host:port/database` (or `mariadb://`, the same).
    pub url: String,
    /// Most connections held open at once.
    pub pool_size: u32,
    /// Tries at boot before giving up, with exponential backoff in between.
    pub connect_attempts: u32,
}

impl MySqlConfig {
    /// A configuration for `url` with the default pool size and boot attempts.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_attempts: DEFAULT_CONNECT_ATTEMPTS,
        }
    }
}

/// The URL as sqlx reads it: `mariadb://` is Keeper's spelling of the same
/// protocol.
pub(crate) fn mysql_url(url: &str) -> String {
    match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_owned(),
    }
}

/// Set on every connection as it opens (one round trip):
///
/// - `READ COMMITTED`: InnoDB's default, REPEATABLE READ, takes gap and next-key
///   locks on the ranges a locking read or an upsert looks at, and two award
///   flushes inserting new members into the same gap deadlock on them. READ
///   COMMITTED locks the rows themselves only. Keeper never relies on a writing
///   transaction re-reading the same snapshot: it locks what it reads
///   (`FOR UPDATE`) or writes with one statement. A read that must see one
///   snapshot runs in [`BEGIN_READ`].
/// - strict mode for every table: a value that does not fit its column is an
///   error, never silently clipped (MariaDB's default mode is strict for
///   transactional tables only, and a server's may be anything).
/// - `innodb_lock_wait_timeout`: a row lock not granted in 10 s ends the
///   statement (the transaction is retried, see `error::retrying`), instead of
///   the default 50 s.
/// - `time_zone`: UTC, so `UNIX_TIMESTAMP()` and `NOW()` in the views agree with
///   the milliseconds Keeper stores.
///
/// Two statements: `SET SESSION TRANSACTION` can't share a `SET` with variables
/// on MariaDB.
const SESSION_SETTINGS: &str = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; \
     SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES', 'NO_ENGINE_SUBSTITUTION'), \
     SESSION innodb_lock_wait_timeout = 10, \
     SESSION time_zone = '+00:00'";

/// A read-only transaction on one snapshot (the reads of one answer agree): the
/// sessions' READ COMMITTED takes a snapshot per statement, so this one
/// transaction asks for REPEATABLE READ (`SET TRANSACTION` without `SESSION`
/// applies to the next transaction only).
pub(crate) const BEGIN_READ: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
     START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";

impl MySqlStore {
    /// Connect (retrying while the server is unreachable), refuse a schema newer
    /// than this build, and apply pending migrations (sqlx holds a named lock,
    /// `GET_LOCK`, while it migrates, so processes starting together take turns).
    pub async fn connect(config: &MySqlConfig) -> StoreResult<Self> {
        let options = MySqlConnectOptions::from_str(&mysql_url(&config.url))
            .map_err(|e| StoreError::Config(format!("the MySQL URL is not valid: {e}")))?
            // utf8mb4 whatever the server's default: names with emoji survive.
            .charset("utf8mb4")
            .collation("utf8mb4_bin");
        if config.pool_size == 0 {
            return Err(StoreError::Config(
                "the MySQL pool size must be at least 1".into(),
            ));
        }
        wait_for_server(&options, config.connect_attempts.max(1)).await?;
        let pool = MySqlPoolOptions::new()
            .max_connections(config.pool_size)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SESSION_SETTINGS).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        let store = Self {
            pool,
            url: config.url.clone(),
        };
        migrate(&store).await?;
        Ok(store)
    }
}

/// Try to open one connection, `attempts` times with backoff, so that a bot
/// started together with its database waits for it instead of failing at once.
async fn wait_for_server(options: &MySqlConnectOptions, attempts: u32) -> StoreResult<()> {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=attempts {
        let outcome = tokio::time::timeout(ACQUIRE_TIMEOUT, MySqlConnection::connect_with(options))
            .await
            .map_err(|_| StoreError::unavailable(sqlx::Error::PoolTimedOut));
        let err = match outcome {
            Ok(Ok(conn)) => {
                // Only a probe; the pool opens its own connections.
                let _ = conn.close().await;
                return Ok(());
            }
            Ok(Err(e)) if is_refusal(&e) => {
                return Err(StoreError::Config(format!(
                    "MySQL refused the connection (check the user, password and database \
                     name in the URL): {e}"
                )));
            }
            Ok(Err(e)) => match db_error(e) {
                StoreError::Unavailable(source) => source,
                StoreError::Internal(e) => {
                    return Err(StoreError::Config(format!(
                        "MySQL refused the connection: {e}"
                    )));
                }
                other => return Err(other),
            },
            Err(StoreError::Unavailable(source)) => source,
            Err(other) => return Err(other),
        };
        if attempt == attempts {
            return Err(StoreError::Unavailable(
                format!(
                    "could not reach MySQL at {}:{} after {attempts} attempt{}: {err}",
                    options.get_host(),
                    options.get_port(),
                    if attempts == 1 { "" } else { "s" },
                )
                .into(),
            ));
        }
        tracing::warn!(
            host = options.get_host(),
            port = options.get_port(),
            attempt,
            attempts,
            error = %err,
            "MySQL is not answering yet; retrying in {backoff:?}"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    unreachable!("the loop returns on its last attempt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_urls_are_mysql_urls() {
        assert_eq!(
            mysql_url("mariadb://root@h:3306/k"),
            "mysql://root@h:3306/k"
        );
        assert_eq!(mysql_url("mysql://root@h/k"), "mysql://root@h/k");
    }
}

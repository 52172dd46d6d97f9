//! Reaching the server: the configuration, and connecting with retries at boot so
//! that a bot started together with its database waits for it.

use std::{str::FromStr, time::Duration};

use keeper_store::{StoreError, StoreResult};
use sqlx::{
    Connection, PgConnection,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{PgStore, error::db_error, migrate::migrate};

/// Connections in the pool when `KEEPER_PG_POOL` is not set.
pub const DEFAULT_POOL_SIZE: u32 = 10;
/// Connection attempts at boot by default: with the backoff below, about 30 s of
/// waiting for a database that is still starting (as under docker compose).
pub const DEFAULT_CONNECT_ATTEMPTS: u32 = 10;
/// First pause between boot attempts; it doubles after each failure...
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// ...up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// How long one query waits for a free (or new) connection. Short, so that a
/// database that went away answers "unavailable" quickly instead of hanging the
/// command that needed it.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database?options`.
    pub url: String,
    /// Most connections held open at once (`KEEPER_PG_POOL`).
    pub pool_size: u32,
    /// Tries at boot before giving up, with exponential backoff in between
    /// (0.5 s, 1 s, 2 s, then 4 s each).
    pub connect_attempts: u32,
}

impl PgConfig {
    /// A configuration for `url` with the default pool size and boot attempts.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_attempts: DEFAULT_CONNECT_ATTEMPTS,
        }
    }
}

impl PgStore {
    /// Connect (retrying while the server is unreachable), refuse a schema newer
    /// than this build, and apply pending migrations.
    ///
    /// Several processes may call this at once on one database: sqlx's migrator
    /// holds a Postgres advisory lock while it migrates, so exactly one applies each
    /// migration and the others wait, then find it applied.
    pub async fn connect(config: &PgConfig) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(&config.url)
            .map_err(|e| StoreError::Config(format!("the PostgreSQL URL is not valid: {e}")))?
            .options(SESSION_LIMITS);
        if config.pool_size == 0 {
            return Err(StoreError::Config(
                "the PostgreSQL pool size must be at least 1".into(),
            ));
        }
        wait_for_server(&options, config.connect_attempts.max(1)).await?;

        // Lazy: the server just answered, and connections are opened as queries
        // need them (each bounded by ACQUIRE_TIMEOUT).
        let pool = PgPoolOptions::new()
            .max_connections(config.pool_size)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        migrate(&pool).await?;
        Ok(Self {
            pool,
            url: config.url.clone(),
        })
    }
}

/// Set on every connection, so that nothing Keeper starts holds the server
/// for ever: a statement that runs 10 s is cancelled (Keeper's own writes take
/// milliseconds; its flush gives up on a write after 15 s); a transaction left
/// open and idle (its client gone quiet) is ended after 30 s, releasing its
/// locks; and the server probes an idle connection after 30 s, so one whose
/// client vanished without a word is closed within about a minute. The client
/// side of a silent connection is the flush's timeout and the pool's.
const SESSION_LIMITS: [(&str, &str); 5] = [
    ("statement_timeout", "10s"),
    ("idle_in_transaction_session_timeout", "30s"),
    ("tcp_keepalives_idle", "30"),
    ("tcp_keepalives_interval", "10"),
    ("tcp_keepalives_count", "3"),
];

/// Try to open one connection, `attempts` times with backoff, so that a bot started
/// together with its database waits for it instead of failing at once.
async fn wait_for_server(options: &PgConnectOptions, attempts: u32) -> StoreResult<()> {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=attempts {
        let outcome = tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(options))
            .await
            .map_err(|_| StoreError::unavailable(sqlx::Error::PoolTimedOut))
            .and_then(|connected| connected.map_err(db_error));
        let err = match outcome {
            Ok(conn) => {
                // Only a probe; the pool opens its own connections.
                let _ = conn.close().await;
                return Ok(());
            }
            // The cause alone: the final message already says "unavailable".
            Err(StoreError::Unavailable(source)) => source,
            // Wrong password, unknown database...: retrying will not help.
            Err(StoreError::Internal(e)) => return Err(StoreError::Config(connect_refused(e))),
            Err(err) => return Err(err),
        };
        if attempt == attempts {
            return Err(StoreError::Unavailable(
                format!(
                    "could not reach PostgreSQL at {}:{} after {attempts} attempt{}: {err}",
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
            "PostgreSQL is not answering yet; retrying in {backoff:?}"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    unreachable!("the loop returns on its last attempt")
}

/// The sentence for a server that answered but would not let us in.
fn connect_refused(e: Box<dyn std::error::Error + Send + Sync>) -> String {
    format!(
        "PostgreSQL refused the connection (check the user, password and database name in the URL): {e}"
    )
}

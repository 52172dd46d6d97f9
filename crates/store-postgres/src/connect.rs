//! Reaching the server: the configuration, and connecting with retries at boot so
//! that a bot started together with its database waits for it.

use std::{str::FromStr, time::Duration};

use keeper_store::{StoreError, StoreResult};
use sqlx::{
    Connection, PgConnection,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{PgStore, Pooler, error::db_error, migrate::migrate};

/// Connections in the pool when `KEEPER_PG_POOL` is not set.
pub const DEFAULT_POOL_SIZE: u32 = 10;
/// Connection attempts at boot by default: with the backoff below, about 30 s of
/// waiting for a database that is still starting (as under docker compose).
pub const DEFAULT_CONNECT_ATTEMPTS: u32 = 8;
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
    /// What sits between Keeper and the server (`KEEPER_PG_POOLER`).
    pub pooler: Pooler,
}

impl PgConfig {
    /// A configuration for `url` with the default pool size and boot attempts.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_attempts: DEFAULT_CONNECT_ATTEMPTS,
            pooler: Pooler::None,
        }
    }
}

impl PgStore {
    /// Connect (retrying while the server is unreachable), refuse a schema newer
    /// than this build, and apply pending migrations.
    ///
    /// Several processes may call this at once on one database: the migrations
    /// run in one transaction under a transaction-level advisory lock, so exactly
    /// one applies them and the others wait, then find them applied (`migrate.rs`).
    pub async fn connect(config: &PgConfig) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(&config.url)
            .map_err(|e| StoreError::Config(format!("the PostgreSQL URL is not valid: {e}")))?;
        let options = match config.pooler {
            Pooler::None => options.options(SESSION_LIMITS),
            // No startup option PgBouncer would refuse (each transaction sets
            // the limits itself: POOLED_BEGIN), and no statement cache.
            Pooler::Transaction => options.extra_float_digits(None).statement_cache_capacity(0),
        };
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
        let store = Self {
            pool,
            url: config.url.clone(),
            pooler: config.pooler,
        };
        migrate(&store).await?;
        Ok(store)
    }
}

// The two limits a transaction behind a pooler sets for itself too, written
// once for both (`concat!` takes literals only).
macro_rules! statement_timeout {
    () => {
        "10s"
    };
}
macro_rules! idle_in_transaction_timeout {
    () => {
        "30s"
    };
}

// What follows the BEGIN of every transaction behind a pooler.
macro_rules! pooled_transaction {
    () => {
        concat!(
            "DEALLOCATE ALL; SET LOCAL statement_timeout = '",
            statement_timeout!(),
            "'; SET LOCAL idle_in_transaction_session_timeout = '",
            idle_in_transaction_timeout!(),
            "'"
        )
    };
}

/// How every transaction starts behind a pooler in transaction mode, in one
/// round trip (a simple query may hold several statements; none takes a value).
///
/// - `DEALLOCATE ALL`: with its cache off sqlx still names each statement it
///   prepares (`sqlx_s_1`, `sqlx_s_2`... counted per client connection) and
///   never closes it, so a server connection keeps the statements of every
///   client that used it before; another client reaching the same name there
///   would fail with "already exists". Clearing them first makes the names of
///   this transaction the only ones.
/// - `SET LOCAL`: the [`SESSION_LIMITS`] can't be startup options (PgBouncer
///   refuses those it does not know) nor session settings (the next
///   transaction may run on another server connection), so each transaction
///   sets them for itself. Keepalives are PgBouncer's own settings there.
pub(crate) const POOLED_BEGIN: &str = concat!("BEGIN; ", pooled_transaction!());

/// A read-only transaction on one snapshot (the reads of one answer agree).
pub(crate) const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// [`BEGIN_READ`] behind a pooler: as [`POOLED_BEGIN`].
pub(crate) const POOLED_BEGIN_READ: &str = concat!(
    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; ",
    pooled_transaction!()
);

/// Set on every connection, so that nothing Keeper starts holds the server
/// for ever: a statement that runs 10 s is cancelled (Keeper's own writes take
/// milliseconds; its flush gives up on a write after 15 s); a transaction left
/// open and idle (its client gone quiet) is ended after 30 s, releasing its
/// locks; and the server probes an idle connection after 30 s, so one whose
/// client vanished without a word is closed within about a minute. The client
/// side of a silent connection is the flush's timeout and the pool's.
const SESSION_LIMITS: [(&str, &str); 5] = [
    ("statement_timeout", statement_timeout!()),
    (
        "idle_in_transaction_session_timeout",
        idle_in_transaction_timeout!(),
    ),
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
            .and_then(|connected| connected.map_err(connect_error));
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

/// A failed connection sorted as [`db_error`] does, except PgBouncer's refusal
/// of a startup option (which comes as a protocol error, class 08, and would
/// read as "unavailable" and be retried): that is the operator's to fix.
fn connect_error(e: sqlx::Error) -> StoreError {
    let said = e.to_string();
    if said.contains("unsupported startup parameter") {
        return StoreError::Config(format!(
            "a pooler between Keeper and PostgreSQL refused the connection ({said}). \
             Behind PgBouncer in transaction mode set KEEPER_PG_POOLER=transaction; \
             in session mode add the parameter to PgBouncer's ignore_startup_parameters"
        ));
    }
    db_error(e)
}

/// The sentence for a server that answered but would not let us in.
fn connect_refused(e: Box<dyn std::error::Error + Send + Sync>) -> String {
    format!(
        "PostgreSQL refused the connection (check the user, password and database name in the URL): {e}"
    )
}

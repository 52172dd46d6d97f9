//! Keeper's PostgreSQL backend: every SQL statement Keeper runs against PostgreSQL.
//!
//! [`PgStore`] implements each storage trait of `keeper-store` in the module of
//! its entity, and so [`keeper_store::Store`]: `settings` (`SettingsStore`), `xp`
//! (`XpStore`), `rewards` (`RewardStore`), `cases` (`CaseStore`), `escalations`
//! (`EscalationStore`), `users` (`UserDataStore`), `sessions` (`SessionStore`),
//! `transfer` (`TransferStore`) and `admin` (`AdminStore`). Each module holds its
//! row structs (`SettingsRow`, `XpRow`...), their `TryFrom` conversions into the
//! domain types, and its SQL.
//! The plumbing they share has modules of its own: `connect` (configuration,
//! connecting with retries at boot), `migrate` (the embedded migrations and the
//! schema check), `error` (sorting sqlx errors into `StoreError`) and `convert`
//! (narrowing integers, rows to domain types). `backup` reads a `pg_dump` archive
//! for `keeper restore` (`inspect_dump`, `restore_dump`). `keeper-store-sqlite`
//! has the same modules, the same row and helper names.
//!
//! Every query is a compile-time checked `sqlx` macro (see `sqlx.toml` for the
//! database the checks run against; offline data is in `.sqlx/`).
//!
//! A query's SQL text is the key of its offline data in `.sqlx/` (a hash of the
//! exact string), so the continuation lines of the SQL strings keep the
//! indentation they were prepared with even where the code around them moved:
//! re-indenting one means running `cargo sqlx prepare` again.

mod admin;
mod backup;
mod cases;
mod connect;
mod convert;
mod error;
mod escalations;
mod guilds;
mod import;
mod migrate;
mod profiles;
mod replays;
mod rewards;
mod sessions;
mod settings;
mod transfer;
mod users;
mod xp;

use keeper_store::StoreResult;
use sqlx::{PgConnection, PgPool, Postgres, Transaction, pool::PoolConnection};

pub use backup::{inspect_dump, restore_dump};
pub use connect::{DEFAULT_CONNECT_ATTEMPTS, DEFAULT_POOL_SIZE, PgConfig};
pub use migrate::{MIGRATOR, SCHEMA_VERSION, binary_schema_version};

use crate::error::db_error;

/// The PostgreSQL [`Store`](keeper_store::Store) on a connection pool.
///
/// Opened with [`PgStore::connect`] (in `connect.rs`); the storage traits are
/// implemented one per entity module.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// The URL it was opened with, for the tools it runs (`pg_dump`).
    url: String,
    /// What sits between Keeper and the server (see [`Pooler`]).
    pooler: Pooler,
}

impl PgStore {
    /// The pool, for benchmarks and tests that seed data in bulk.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection for one operation's statements; [`Work::done`] ends it.
    ///
    /// Directly on the server it is a pooled connection and costs nothing more.
    /// Behind a pooler in transaction mode it is a transaction, because there
    /// a server connection is ours only inside one: sqlx prepares a statement
    /// and runs it in two exchanges, which must reach the same server.
    pub(crate) async fn work(&self) -> StoreResult<Work> {
        Ok(match self.pooler {
            Pooler::None => Work::Direct(self.pool.acquire().await.map_err(db_error)?),
            Pooler::Transaction => Work::Pooled(self.begin_write().await?),
        })
    }

    /// Start a transaction for writes that must land together.
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        match self.pooler {
            Pooler::None => self.pool.begin().await,
            Pooler::Transaction => self.pool.begin_with(connect::POOLED_BEGIN).await,
        }
        .map_err(db_error)
    }

    /// Start a read-only transaction whose reads all see one snapshot.
    pub(crate) async fn begin_read(&self) -> StoreResult<Transaction<'static, Postgres>> {
        match self.pooler {
            Pooler::None => self.pool.begin_with(connect::BEGIN_READ).await,
            Pooler::Transaction => self.pool.begin_with(connect::POOLED_BEGIN_READ).await,
        }
        .map_err(db_error)
    }
}

/// What sits between Keeper and PostgreSQL (`KEEPER_PG_POOLER`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pooler {
    /// Keeper talks to the server itself, or through a pooler in session mode
    /// (a client connection keeps its server connection): statements are
    /// prepared once per connection and cached.
    #[default]
    None,
    /// A pooler in transaction mode, such as PgBouncer with
    /// `pool_mode = transaction`: a server connection is ours only inside a
    /// transaction. Every operation runs in one, sqlx's statement cache is off
    /// (a cached statement lives on a server connection the next transaction
    /// may not get), and no startup option is sent. Works with PgBouncer 1.18,
    /// which does not track prepared statements (1.21's
    /// `max_prepared_statements` does). Costs a round trip or two per
    /// operation: BENCHMARKS.md has the figures.
    Transaction,
}

/// A connection lent for one operation (see [`PgStore::work`]).
pub(crate) enum Work {
    Direct(PoolConnection<Postgres>),
    Pooled(Transaction<'static, Postgres>),
}

impl Work {
    /// End the operation: behind a pooler, commit its transaction (dropped
    /// without this, it is rolled back, so an operation that failed half way
    /// leaves nothing).
    pub(crate) async fn done(self) -> StoreResult<()> {
        match self {
            Work::Direct(_) => Ok(()),
            Work::Pooled(tx) => tx.commit().await.map_err(db_error),
        }
    }
}

impl std::ops::Deref for Work {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            Work::Direct(conn) => conn,
            Work::Pooled(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for Work {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Work::Direct(conn) => conn,
            Work::Pooled(tx) => tx,
        }
    }
}

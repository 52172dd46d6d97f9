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
mod replays;
mod rewards;
mod sessions;
mod settings;
mod transfer;
mod users;
mod xp;

use keeper_store::StoreResult;
use sqlx::{PgPool, Postgres, Transaction};

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
}

impl PgStore {
    /// The pool, for benchmarks and tests that seed data in bulk.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Start a transaction for writes that must land together.
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_error)
    }

    /// Start a read-only transaction whose reads all see one snapshot.
    pub(crate) async fn begin_read(&self) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Ok(tx)
    }
}

//! Keeper's MySQL and MariaDB backend: every SQL statement Keeper runs against
//! MySQL or MariaDB.
//!
//! [`MySqlStore`] implements each storage trait of `keeper-store` in the module
//! of its entity, and so [`keeper_store::Store`], file for file and name for name
//! as `keeper-store-postgres` and `keeper-store-sqlite` do: `settings`, `xp`,
//! `rewards`, `cases`, `escalations`, `users`, `sessions`, `replays`, `guilds`,
//! `profiles`, `transfer`, `import` and `admin`, each with its row structs and
//! their conversions into the domain types. The plumbing: `connect`
//! (configuration, session settings, connecting with retries at boot),
//! `migrate`, `error` (sorting sqlx errors, retrying what InnoDB rolled back)
//! and `convert` (times as milliseconds, as on SQLite).
//!
//! Every query is a compile-time checked `sqlx` macro (see `sqlx.toml` for the
//! database the checks run against; offline data is in `.sqlx/`).
//!
//! # How the guarantees hold on InnoDB
//!
//! - Sessions run at READ COMMITTED (`connect.rs`): no gap locks, so writers
//!   inserting new rows side by side do not deadlock on the ranges between them.
//! - A transaction that reads what it then writes locks it first (`SELECT ...
//!   FOR UPDATE`, in key order), or writes with one statement (`INSERT ... ON
//!   DUPLICATE KEY UPDATE`, whose arithmetic runs on the locked row).
//! - Whatever InnoDB still rolls back (a deadlock, a lock wait timeout) is run
//!   again whole by `error::retrying`; a member never sees it.
//! - Neither MySQL nor MariaDB has `UPDATE ... RETURNING` (and MySQL has no
//!   `RETURNING` at all), so a write's result is read back in its transaction.

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
use sqlx::{MySql, MySqlPool, Transaction};

pub use backup::{inspect_dump, restore_dump};
pub use connect::{DEFAULT_CONNECT_ATTEMPTS, DEFAULT_POOL_SIZE, MySqlConfig};
pub use migrate::{MIGRATOR, SCHEMA_VERSION, binary_schema_version};

use crate::error::db_error;

/// The MySQL or MariaDB [`Store`](keeper_store::Store) on a connection pool.
///
/// Opened with [`MySqlStore::connect`] (in `connect.rs`); the storage traits are
/// implemented one per entity module.
#[derive(Clone, Debug)]
pub struct MySqlStore {
    pool: MySqlPool,
    /// The URL it was opened with, for the tools it runs (`mariadb-dump`).
    url: String,
}

impl MySqlStore {
    /// The pool, for benchmarks and tests that seed data in bulk.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Start a transaction for writes that must land together.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, MySql>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Start a read-only transaction whose reads all see one snapshot.
    pub(crate) async fn begin_read(&self) -> StoreResult<Transaction<'static, MySql>> {
        self.pool
            .begin_with(connect::BEGIN_READ)
            .await
            .map_err(db_error)
    }
}

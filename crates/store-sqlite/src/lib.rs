//! Keeper's SQLite backend: every SQL statement Keeper runs against SQLite.
//!
//! [`SqliteStore`] implements each storage trait of `keeper-store` in the module
//! of its entity, and so [`keeper_store::Store`]: `settings` (`SettingsStore`),
//! `xp` (`XpStore`), `rewards` (`RewardStore`), `cases` (`CaseStore`),
//! `escalations` (`EscalationStore`), `users` (`UserDataStore`), `sessions`
//! (`SessionStore`), `transfer` (`TransferStore`) and `admin` (`AdminStore`).
//! Each module holds its row structs (`SettingsRow`, `XpRow`...), their `TryFrom`
//! conversions into the domain types, and its SQL. The plumbing they share has
//! modules of its own: `connect` (configuration and opening the pools), `migrate`
//! (the embedded migrations and the schema check), `error` (sorting sqlx errors
//! into `StoreError`) and `convert` (times, narrowing integers, rows to domain
//! types). `backup` checks a backup file before `keeper restore` reads it
//! (`inspect_backup`).
//! `keeper-store-postgres` has the same modules, the same row and helper names.
//!
//! A query's SQL text is the key of its offline data in `.sqlx/` (a hash of the
//! exact string), so the continuation lines of the SQL strings keep the
//! indentation they were prepared with even where the code around them moved:
//! re-indenting one means running `cargo sqlx prepare` again.
//!
//! # Connections
//!
//! SQLite allows one writer at a time per database file. A pool of writers would
//! fight over that lock and, once `busy_timeout` ran out, hand "database is locked"
//! to a user. So every write goes through **one** writer connection (a pool of at
//! most one, which queues callers fairly), and reads use a small pool of read-only
//! connections that WAL lets run beside the writer without waiting for it.
//! `busy_timeout` stays as a guard against *other processes* (`sqlite3` on the
//! command line, a second Keeper by mistake). Every method picks `self.writer` or
//! `self.reader` accordingly.
//!
//! Write transactions start with `BEGIN IMMEDIATE` (`SqliteStore::begin_write`):
//! they take the write lock up front, so a transaction that reads before it writes
//! (settings, case numbers) can never fail halfway with `SQLITE_BUSY` when another
//! process wrote in between.
//!
//! # RETURNING
//!
//! Statements with `RETURNING` are read with `fetch_all` or `execute`, never
//! `fetch_one`/`fetch_optional`: those leave the statement un-reset, the connection
//! keeps its read snapshot, and the WAL can no longer be checkpointed (it was seen
//! growing to 1 GB beside an 80 MB database).

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

use std::path::{Path, PathBuf};

use keeper_store::StoreResult;
use sqlx::{Sqlite, SqlitePool, Transaction};

pub use admin::SqlitePragmas;
pub use backup::inspect_backup;
pub use connect::{SqliteConfig, SqliteSync};
pub use migrate::{MIGRATOR, SCHEMA_VERSION, binary_schema_version};

use crate::error::db_error;

/// Keeper's store on one SQLite file.
///
/// Opened with [`SqliteStore::connect`] (in `connect.rs`); the storage traits are
/// implemented one per entity module.
pub struct SqliteStore {
    /// The only connection that writes (a pool of one, so callers queue in order).
    writer: SqlitePool,
    /// Read-only connections; WAL lets them read while the writer writes.
    reader: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Start a write transaction on the writer, taking the write lock at once.
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }

    /// Start a read transaction on a reader, so that several reads see one
    /// snapshot.
    pub(crate) async fn begin_read(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.reader.begin().await.map_err(db_error)
    }
}

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
//! A third connection only checkpoints the WAL into the database file, every
//! 500 ms (`connect::checkpoints`), so that the writer never stops for it.
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
mod profiles;
mod replays;
mod rewards;
mod sessions;
mod settings;
mod transfer;
mod users;
mod xp;

use std::{
    path::{Path, PathBuf},
    sync::atomic::AtomicBool,
};

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
    /// The connection that copies the WAL into the file (`connect::checkpoints`,
    /// the task behind `checkpoints`), so the writer does not have to.
    checkpointer: SqlitePool,
    checkpoints: tokio::task::AbortHandle,
    path: PathBuf,
    /// Whether `xp_staged` may hold parts (true until a look found none), so a
    /// flush does not look for them every time.
    staged: AtomicBool,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpoints.abort();
    }
}

impl SqliteStore {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Start a write transaction on the writer, taking the write lock at once.
    /// Callers queue for the writer first come, first served (sqlx's pool is
    /// fair): a command that comes while the XP flush writes one of its parts
    /// (`xp.rs`) goes before the next part.
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

#[cfg(test)]
mod tests {
    use std::{sync::Mutex, time::Duration};

    use keeper_store::prelude::*;

    use super::*;
    use crate::SqliteConfig;

    /// The flush writes part after part, each asking for the writer again as
    /// soon as the last is committed; a command that queued meanwhile gets the
    /// writer first, so it waits for one part at most.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_command_goes_before_the_flushs_next_part() {
        let path =
            std::env::temp_dir().join(format!("keeper-writer-queue-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store =
            SqliteStore::connect(&SqliteConfig::new(format!("sqlite://{}", path.display())))
                .await
                .unwrap();
        let order = Mutex::new(Vec::new());
        let flush = async {
            let part = store.begin_write().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            part.commit().await.unwrap();
            let next = store.begin_write().await.unwrap();
            order.lock().unwrap().push("next part");
            next.commit().await.unwrap();
        };
        let command = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let tx = store.begin_write().await.unwrap();
            order.lock().unwrap().push("command");
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.commit().await.unwrap();
        };
        tokio::join!(flush, command);
        assert_eq!(*order.lock().unwrap(), ["command", "next part"]);
        store.close().await;
        for end in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{end}", path.display()));
        }
    }
}

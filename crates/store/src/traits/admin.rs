use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{BackupRun, StoreResult};

/// The store as a whole: which backend it is, whether it answers, its schema, and
/// closing it.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Which backend this is, for `keeper check` and logs: `"sqlite"`, `"postgres"` or `"mysql"`.
    fn backend(&self) -> &'static str;

    /// A cheap round trip proving the database answers.
    async fn health_check(&self) -> StoreResult<()>;

    /// The highest migration version applied to the database.
    async fn schema_version(&self) -> StoreResult<i64>;

    /// Row counts per table, for `keeper check`.
    async fn table_counts(&self) -> StoreResult<Vec<(&'static str, i64)>>;

    /// What in the database's own configuration an operator should change, one
    /// sentence each; empty when nothing. `keeper check` prints them and `keeper
    /// run` logs them at start-up.
    async fn advisories(&self) -> StoreResult<Vec<String>> {
        Ok(Vec::new())
    }

    /// Write a consistent copy of the whole database to `path`, an empty file
    /// (made by the caller, with the permissions it wants), while Keeper may be
    /// writing: SQLite's `VACUUM INTO` (a database file), PostgreSQL's
    /// `pg_dump --format=custom`, MySQL's `mariadb-dump` or `mysqldump`
    /// (`--single-transaction`, a SQL script). A tool that is missing is a `Config` error
    /// naming what to install.
    async fn backup_to(&self, path: &Path) -> StoreResult<()>;

    /// About how many bytes [`AdminStore::backup_to`] will write, for its
    /// progress bar; `None` when there is no telling (a compressed archive).
    async fn backup_size_hint(&self) -> StoreResult<Option<u64>> {
        Ok(None)
    }

    /// The extension of what [`AdminStore::backup_to`] writes: `db`, `dump` or `sql`.
    fn backup_extension(&self) -> &'static str;

    /// Claim the scheduled backup of the period starting at `period` for
    /// `by`: true for the one caller whose claim was recorded, false for every
    /// other (several processes on one database take each backup once).
    async fn claim_backup(
        &self,
        period: DateTime<Utc>,
        by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// How a claimed backup ended: `Ok(file)` written, `Err(why)` not.
    async fn finish_backup(
        &self,
        period: DateTime<Utc>,
        outcome: Result<&str, &str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The newest `limit` periods of the scheduled backups, newest first
    /// (`keeper check` shows them).
    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>>;

    /// Close the pool, waiting for connections in use to be returned.
    async fn close(&self);
}

//! [`AdminStore`]: health, schema version, row counts and closing, for `keeper
//! check` and monitoring; and the durability pragmas only SQLite has.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{AdminStore, BackupRun, StoreError, StoreResult};

use crate::{
    SqliteStore, SqliteSync,
    convert::{from_ms, from_ms_opt, to_ms},
    error::db_error,
};

#[async_trait]
impl AdminStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    /// On a reader: `VACUUM INTO` copies one read transaction's snapshot,
    /// compacted, and never waits on the writer (nor makes it wait).
    async fn backup_to(&self, path: &Path) -> StoreResult<()> {
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Config(format!("{} is not a UTF-8 path", path.display())))?;
        sqlx::query!("VACUUM INTO ?1", target)
            .execute(&self.reader)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// The pages in use: `VACUUM INTO` writes them and leaves the free ones out.
    async fn backup_size_hint(&self) -> StoreResult<Option<u64>> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        let pages = sqlx::query_scalar!(r#"PRAGMA page_count"#)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error)?;
        let free = sqlx::query_scalar!(r#"PRAGMA freelist_count"#)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error)?;
        let size = sqlx::query_scalar!(r#"PRAGMA page_size"#)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error)?;
        let used = pages.unwrap_or(0).saturating_sub(free.unwrap_or(0));
        Ok(u64::try_from(used.saturating_mul(size.unwrap_or(0))).ok())
    }

    fn backup_extension(&self) -> &'static str {
        "db"
    }

    async fn health_check(&self) -> StoreResult<()> {
        sqlx::query_scalar!(r#"SELECT 1 AS "one!: i64""#)
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        let version = sqlx::query_scalar!(
            r#"SELECT COALESCE(MAX(version), 0) AS "v!: i64" FROM _sqlx_migrations WHERE success"#
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        Ok(version.into_iter().next().unwrap_or(0))
    }

    async fn table_counts(&self) -> StoreResult<Vec<(&'static str, i64)>> {
        // One statement, so the counts come from one snapshot.
        let rows = sqlx::query!(
            r#"SELECT
             (SELECT COUNT(*) FROM guild_settings) AS "guild_settings!: i64",
             (SELECT COUNT(*) FROM member_xp) AS "member_xp!: i64",
             (SELECT COUNT(*) FROM mod_cases) AS "mod_cases!: i64",
             (SELECT COUNT(*) FROM case_amendments) AS "case_amendments!: i64",
             (SELECT COUNT(*) FROM case_counters) AS "case_counters!: i64",
             (SELECT COUNT(*) FROM level_rewards) AS "level_rewards!: i64",
             (SELECT COUNT(*) FROM escalation_rules) AS "escalation_rules!: i64",
             (SELECT COUNT(*) FROM gateway_sessions) AS "gateway_sessions!: i64",
             (SELECT COUNT(*) FROM applied_interactions) AS "applied_interactions!: i64",
             (SELECT COUNT(*) FROM welcomed_members) AS "welcomed_members!: i64",
             (SELECT COUNT(*) FROM guilds) AS "guilds!: i64",
             (SELECT COUNT(*) FROM guild_roles) AS "guild_roles!: i64",
             (SELECT COUNT(*) FROM member_profiles) AS "member_profiles!: i64""#
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        let Some(r) = rows.into_iter().next() else {
            return Ok(Vec::new());
        };
        Ok(vec![
            ("guild_settings", r.guild_settings),
            ("member_xp", r.member_xp),
            ("mod_cases", r.mod_cases),
            ("case_amendments", r.case_amendments),
            ("case_counters", r.case_counters),
            ("level_rewards", r.level_rewards),
            ("escalation_rules", r.escalation_rules),
            ("gateway_sessions", r.gateway_sessions),
            ("applied_interactions", r.applied_interactions),
            ("welcomed_members", r.welcomed_members),
            ("guilds", r.guilds),
            ("guild_roles", r.guild_roles),
            ("member_profiles", r.member_profiles),
        ])
    }

    /// The primary key decides: the first insert for a period wins.
    async fn claim_backup(
        &self,
        period: DateTime<Utc>,
        by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (period_ms, at_ms) = (to_ms(period), to_ms(at));
        let mut tx = self.begin_write().await?;
        let done = sqlx::query!(
            "INSERT INTO backup_runs (period_start, claimed_by, claimed_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (period_start) DO NOTHING",
            period_ms,
            by,
            at_ms
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_backup(
        &self,
        period: DateTime<Utc>,
        outcome: Result<&str, &str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (period_ms, at_ms) = (to_ms(period), to_ms(at));
        let (file, error) = (outcome.ok(), outcome.err());
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            "UPDATE backup_runs SET finished_at = ?2, file = ?3, error = ?4 WHERE period_start = ?1",
            period_ms,
            at_ms,
            file,
            error
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>> {
        let rows = sqlx::query!(
            r#"SELECT period_start, claimed_by, claimed_at, finished_at, file, error
               FROM backup_runs ORDER BY period_start DESC LIMIT ?1"#,
            limit
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(BackupRun {
                    period_start: from_ms(r.period_start)?,
                    claimed_by: r.claimed_by,
                    claimed_at: from_ms(r.claimed_at)?,
                    finished_at: from_ms_opt(r.finished_at)?,
                    file: r.file,
                    error: r.error,
                })
            })
            .collect()
    }

    async fn close(&self) {
        // Readers first: the writer closing last checkpoints the WAL into the
        // database and removes the -wal and -shm files.
        self.reader.close().await;
        self.checkpoints.abort();
        self.checkpointer.close().await;
        self.writer.close().await;
    }
}

/// The durability settings in force on the writer, as SQLite reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlitePragmas {
    /// `wal` once the store is open.
    pub journal_mode: String,
    pub synchronous: SqliteSync,
    /// Whether the writer enforces foreign keys.
    pub foreign_keys: bool,
}

impl SqliteStore {
    /// The journal mode and durability the writer runs with, for `keeper check`.
    pub async fn pragmas(&self) -> StoreResult<SqlitePragmas> {
        // The `+ 0` and `|| ''` make expressions of the columns: the macros look up a
        // plain column's table metadata, which pragma functions don't have.
        // One connection for the three reads: `synchronous` and `foreign_keys` are
        // per-connection settings, and the writer is the connection that matters.
        let mut conn = self.writer.acquire().await.map_err(db_error)?;
        let journal_mode = sqlx::query_scalar!(
            r#"SELECT journal_mode || '' AS "mode: String" FROM pragma_journal_mode()"#
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        let synchronous = sqlx::query_scalar!(
            r#"SELECT synchronous + 0 AS "sync: i64" FROM pragma_synchronous()"#
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        let foreign_keys = sqlx::query_scalar!(
            r#"SELECT foreign_keys + 0 AS "fk: i64" FROM pragma_foreign_keys()"#
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        Ok(SqlitePragmas {
            journal_mode: journal_mode
                .into_iter()
                .flatten()
                .next()
                .unwrap_or_default(),
            // 1 is NORMAL, 2 FULL (and 3 EXTRA, which is at least as durable as FULL).
            synchronous: if synchronous.into_iter().flatten().next().unwrap_or(0) >= 2 {
                SqliteSync::Full
            } else {
                SqliteSync::Normal
            },
            foreign_keys: foreign_keys.into_iter().flatten().next().unwrap_or(0) != 0,
        })
    }
}

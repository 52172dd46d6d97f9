//! [`AdminStore`]: health, schema version, row counts and closing, what `keeper
//! check` prints; and the server configuration it advises on.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{AdminStore, BackupRun, StoreError, StoreResult};

use crate::{PgStore, error::db_error};

#[async_trait]
impl AdminStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    /// `pg_dump` takes one snapshot (a repeatable-read transaction) and
    /// blocks no writer. Its custom format is what `pg_restore` reads.
    async fn backup_to(&self, path: &Path) -> StoreResult<()> {
        let dumped = tokio::process::Command::new("pg_dump")
            .arg("--format=custom")
            .arg("--no-owner")
            .arg("--file")
            .arg(path)
            .arg("--dbname")
            .arg(&self.url)
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        let out = match dumped {
            Ok(out) => out,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Config(
                    "pg_dump is not on PATH: install PostgreSQL's client tools \
                     (Debian and Ubuntu: apt-get install postgresql-client), \
                     of the server's major version or newer"
                        .into(),
                ));
            }
            Err(err) => {
                return Err(StoreError::Internal(
                    format!("could not run pg_dump: {err}").into(),
                ));
            }
        };
        if out.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said.trim();
        Err(StoreError::Unavailable(
            format!("pg_dump failed ({}): {said}", out.status).into(),
        ))
    }

    fn backup_extension(&self) -> &'static str {
        "dump"
    }

    async fn health_check(&self) -> StoreResult<()> {
        let mut work = self.work().await?;
        sqlx::query_scalar!(r#"SELECT 1 AS "one!""#)
            .fetch_one(&mut *work)
            .await
            .map_err(db_error)?;
        work.done().await?;
        Ok(())
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        let mut work = self.work().await?;
        let out = sqlx::query_scalar!(
            r#"SELECT COALESCE(MAX(version), 0) AS "version!" FROM _sqlx_migrations WHERE success"#
        )
        .fetch_one(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(out)
    }

    async fn table_counts(&self) -> StoreResult<Vec<(&'static str, i64)>> {
        // One round trip; exact counts are fine at Keeper's sizes (a million XP rows
        // count in well under a second with the primary key).
        let mut work = self.work().await?;
        let row = sqlx::query!(
            r#"SELECT
            (SELECT COUNT(*) FROM guild_settings) AS "guild_settings!",
            (SELECT COUNT(*) FROM member_xp) AS "member_xp!",
            (SELECT COUNT(*) FROM mod_cases) AS "mod_cases!",
            (SELECT COUNT(*) FROM case_amendments) AS "case_amendments!",
            (SELECT COUNT(*) FROM case_counters) AS "case_counters!",
            (SELECT COUNT(*) FROM level_rewards) AS "level_rewards!",
            (SELECT COUNT(*) FROM escalation_rules) AS "escalation_rules!",
            (SELECT COUNT(*) FROM gateway_sessions) AS "gateway_sessions!",
            (SELECT COUNT(*) FROM applied_interactions) AS "applied_interactions!",
            (SELECT COUNT(*) FROM welcomed_members) AS "welcomed_members!",
            (SELECT COUNT(*) FROM guilds) AS "guilds!",
            (SELECT COUNT(*) FROM guild_roles) AS "guild_roles!",
            (SELECT COUNT(*) FROM member_profiles) AS "member_profiles!""#
        )
        .fetch_one(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(vec![
            ("guild_settings", row.guild_settings),
            ("member_xp", row.member_xp),
            ("mod_cases", row.mod_cases),
            ("case_amendments", row.case_amendments),
            ("case_counters", row.case_counters),
            ("level_rewards", row.level_rewards),
            ("escalation_rules", row.escalation_rules),
            ("gateway_sessions", row.gateway_sessions),
            ("applied_interactions", row.applied_interactions),
            ("welcomed_members", row.welcomed_members),
            ("guilds", row.guilds),
            ("guild_roles", row.guild_roles),
            ("member_profiles", row.member_profiles),
        ])
    }

    async fn advisories(&self) -> StoreResult<Vec<String>> {
        let mut work = self.work().await?;
        let autovacuum =
            sqlx::query_scalar!(r#"SELECT current_setting('autovacuum') AS "setting!""#)
                .fetch_one(&mut *work)
                .await
                .map_err(db_error)?;
        work.done().await?;
        Ok(autovacuum_advice(&autovacuum).into_iter().collect())
    }

    /// The primary key decides: the first insert for a period wins.
    async fn claim_backup(
        &self,
        period: DateTime<Utc>,
        by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut work = self.work().await?;
        let done = sqlx::query!(
            "INSERT INTO backup_runs (period_start, claimed_by, claimed_at) VALUES ($1, $2, $3)
             ON CONFLICT (period_start) DO NOTHING",
            period,
            by,
            at
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_backup(
        &self,
        period: DateTime<Utc>,
        outcome: Result<&str, &str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (file, error) = (outcome.ok(), outcome.err());
        let mut work = self.work().await?;
        sqlx::query!(
            "UPDATE backup_runs SET finished_at = $2, file = $3, error = $4 WHERE period_start = $1",
            period,
            at,
            file,
            error
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(())
    }

    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>> {
        let mut work = self.work().await?;
        let rows = sqlx::query!(
            r#"SELECT period_start, claimed_by, claimed_at, finished_at, file, error
               FROM backup_runs ORDER BY period_start DESC LIMIT $1"#,
            i64::from(limit)
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(rows
            .into_iter()
            .map(|r| BackupRun {
                period_start: r.period_start,
                claimed_by: r.claimed_by,
                claimed_at: r.claimed_at,
                finished_at: r.finished_at,
                file: r.file,
                error: r.error,
            })
            .collect())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Every award rewrites a `member_xp` row. Most are HOT updates (migration 0003),
/// whose old versions PostgreSQL prunes within the page; the others (a new XP
/// bucket or level, a page without room) leave a dead row version and dead index
/// entries that only VACUUM reclaims. With autovacuum off those pile up, the
/// visibility map and the planner's statistics go stale, and ranks slow down.
pub(crate) fn autovacuum_advice(setting: &str) -> Option<String> {
    (setting != "on").then(|| {
        "autovacuum is off on this PostgreSQL server: XP awards leave dead row \
         versions and index entries in member_xp that only VACUUM reclaims, so the \
         table grows and ranks slow down; turn autovacuum on (postgresql.conf) or run \
         `VACUUM (ANALYZE) member_xp` regularly, e.g. hourly from cron"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::autovacuum_advice;

    #[test]
    fn autovacuum_off_is_told_with_its_remedy() {
        assert_eq!(autovacuum_advice("on"), None);
        let advice = autovacuum_advice("off").expect("advice");
        assert!(advice.contains("autovacuum is off"), "{advice}");
        assert!(advice.contains("VACUUM"), "{advice}");
    }
}

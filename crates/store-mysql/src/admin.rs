//! [`AdminStore`]: health, schema version, row counts and closing, what `keeper
//! check` prints; the server configuration it advises on; and backups with
//! `mariadb-dump`.

use std::{path::Path, process::Stdio};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{AdminStore, BackupRun, StoreError, StoreResult};

use crate::{
    MySqlStore,
    backup::{Client, option},
    convert::{from_ms, from_ms_opt, to_ms},
    error::{db_error, retrying},
};

/// The dump tools, in the order tried: MariaDB's name first (its `mysqldump`
/// is a deprecated alias), then MySQL's (or an older MariaDB's).
const DUMP_TOOLS: [&str; 2] = ["mariadb-dump", "mysqldump"];

#[async_trait]
impl AdminStore for MySqlStore {
    fn backend(&self) -> &'static str {
        "mysql"
    }

    /// `--single-transaction` dumps every table from one snapshot (a
    /// REPEATABLE READ transaction; Keeper's tables are all InnoDB) and blocks
    /// no writer. `--no-tablespaces` spares the PROCESS privilege, which
    /// Keeper's user need not have; `--hex-blob` keeps the file text (the
    /// migrations' checksums are binary); utf8mb4 keeps names with emoji on a
    /// tool whose default is still utf8mb3. The password goes in `MYSQL_PWD`
    /// ([`Client`]). MySQL 8's `mysqldump` dumping a MariaDB server needs
    /// `column-statistics=0` in its option file (`[mysqldump]`).
    async fn backup_to(&self, path: &Path) -> StoreResult<()> {
        let client = Client::from_url(&self.url)?;
        for tool in DUMP_TOOLS {
            let dumped = client
                .command(tool)
                .args([
                    "--single-transaction",
                    "--routines",
                    "--triggers",
                    "--no-tablespaces",
                    "--hex-blob",
                    "--default-character-set=utf8mb4",
                ])
                .arg(option("--result-file=", path.as_os_str()))
                .arg(&client.database)
                .stdin(Stdio::null())
                .output()
                .await;
            let out = match dumped {
                Ok(out) => out,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => {
                    return Err(StoreError::Internal(
                        format!("could not run {tool}: {err}").into(),
                    ));
                }
            };
            if out.status.success() {
                return Ok(());
            }
            let said = String::from_utf8_lossy(&out.stderr);
            let said = said.trim();
            return Err(StoreError::Unavailable(
                format!("{tool} failed ({}): {said}", out.status).into(),
            ));
        }
        Err(StoreError::Config(
            "neither mariadb-dump nor mysqldump is on PATH: install MariaDB's client tools \
             (Debian and Ubuntu: apt-get install mariadb-client) or MySQL's, of the \
             server's version or newer"
                .into(),
        ))
    }

    fn backup_extension(&self) -> &'static str {
        "sql"
    }

    async fn health_check(&self) -> StoreResult<()> {
        sqlx::query_scalar!(r#"SELECT 1 AS "one!: i64""#)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        sqlx::query_scalar!(
            r#"SELECT COALESCE(MAX(version), 0) AS "version!: i64" FROM _sqlx_migrations
               WHERE success"#
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)
    }

    async fn table_counts(&self) -> StoreResult<Vec<(&'static str, i64)>> {
        // One statement, so the counts come from one snapshot (READ COMMITTED
        // takes one per statement).
        let row = sqlx::query!(
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
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
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

    /// The server's own settings do not matter for isolation, strictness or
    /// lock waits (each connection sets its own, see `connect.rs`); what does:
    /// a server too old for Keeper's SQL, and commits not flushed to disk.
    async fn advisories(&self) -> StoreResult<Vec<String>> {
        let row = sqlx::query!(
            r#"SELECT VERSION() AS "version!: String",
                      CAST(@@innodb_flush_log_at_trx_commit AS SIGNED) AS "flush!: i64",
                      CAST(@@innodb_buffer_pool_size AS SIGNED) AS "pool!: i64",
                      CAST(COALESCE((SELECT SUM(data_length + index_length)
                                     FROM information_schema.tables
                                     WHERE table_schema = DATABASE()
                                       AND table_name = 'member_xp'), 0) AS SIGNED)
                          AS "member_xp!: i64""#
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(version_advice(&row.version)
            .into_iter()
            .chain(flush_advice(row.flush))
            .chain(buffer_pool_advice(row.pool, row.member_xp))
            .collect())
    }

    /// The primary key decides: the first insert for a period wins, and the
    /// others fail on the duplicate key. Not an upsert that changes nothing:
    /// with the found-rows count sqlx asks for, it would count 1 either way.
    async fn claim_backup(
        &self,
        period: DateTime<Utc>,
        by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (period_ms, at_ms) = (to_ms(period), to_ms(at));
        // Claimants waiting on the first one's insert can deadlock when it
        // fails: one of them is run again, and finds the period taken.
        retrying(|| async move {
            let inserted = sqlx::query!(
                "INSERT INTO backup_runs (period_start, claimed_by, claimed_at) VALUES (?, ?, ?)",
                period_ms,
                by,
                at_ms
            )
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => Ok(true),
                Err(e)
                    if e.as_database_error()
                        .is_some_and(|d| d.is_unique_violation()) =>
                {
                    Ok(false)
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn finish_backup(
        &self,
        period: DateTime<Utc>,
        outcome: Result<&str, &str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (period_ms, at_ms) = (to_ms(period), to_ms(at));
        let (file, error) = (outcome.ok(), outcome.err());
        sqlx::query!(
            "UPDATE backup_runs SET finished_at = ?, file = ?, error = ? WHERE period_start = ?",
            at_ms,
            file,
            error,
            period_ms
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>> {
        let rows = sqlx::query!(
            "SELECT period_start, claimed_by, claimed_at, finished_at, file, error
             FROM backup_runs ORDER BY period_start DESC LIMIT ?",
            i64::from(limit)
        )
        .fetch_all(&self.pool)
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
        self.pool.close().await;
    }
}

/// Keeper's batches read their rows with `JSON_TABLE` (MariaDB 10.6, MySQL 8.0)
/// and its schema counts on CHECK constraints being enforced (MySQL 8.0.16): an
/// older server migrates, then fails writes. `version` is `VERSION()`.
pub(crate) fn version_advice(version: &str) -> Option<String> {
    let (server, needed) = if version.contains("MariaDB") {
        ("MariaDB", [10, 6, 0])
    } else {
        ("MySQL", [8, 0, 16])
    };
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse::<u32>().ok());
    let found = [parts.next()??, parts.next()??, parts.next()??];
    (found < needed).then(|| {
        format!(
            "this server is {server} {}: Keeper needs {server} {} or newer (JSON_TABLE, \
             enforced CHECK constraints), and some of its writes will fail here; upgrade \
             the server",
            join(found),
            join(needed)
        )
    })
}

/// `[10, 6, 0]` as `10.6.0`.
fn join(version: [u32; 3]) -> String {
    let [major, minor, patch] = version;
    format!("{major}.{minor}.{patch}")
}

/// With `innodb_flush_log_at_trx_commit` at 0 or 2, InnoDB flushes its log to
/// disk about once a second instead of at each commit: what Keeper was told is
/// written may be lost.
pub(crate) fn flush_advice(setting: i64) -> Option<String> {
    let loses = match setting {
        1 => return None,
        2 => "a power cut or an operating system crash",
        _ => "any crash, of the server process too,",
    };
    Some(format!(
        "innodb_flush_log_at_trx_commit is {setting} on this server: InnoDB flushes \
         commits to disk about once a second, so {loses} can lose the last second of \
         XP, cases and settings; set it to 1 (the default) in the server's configuration \
         for full durability"
    ))
}

/// `member_xp` is read and written by every award; when it (rows and indexes,
/// `member_xp_bytes`) fills more than half of InnoDB's buffer pool, awards wait
/// on the disk for pages the pool dropped: twice the award throughput with a
/// pool of 1 GiB instead of the default 128 MiB at 1,000,000 members
/// (BENCHMARKS.md). Small databases fit any pool and get no advice.
pub(crate) fn buffer_pool_advice(pool_bytes: i64, member_xp_bytes: i64) -> Option<String> {
    const MIB: i64 = 1 << 20;
    (member_xp_bytes > 32 * MIB && member_xp_bytes * 2 > pool_bytes).then(|| {
        format!(
            "member_xp takes {} MiB and InnoDB's buffer pool is {} MiB: awards will wait \
             on the disk for the pages it cannot keep; set innodb_buffer_pool_size to at \
             least {} MiB in the server's configuration",
            member_xp_bytes / MIB,
            pool_bytes / MIB,
            (member_xp_bytes * 3 + MIB - 1) / MIB
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_smaller_than_twice_member_xp_is_told() {
        const MIB: i64 = 1 << 20;
        assert_eq!(buffer_pool_advice(128 * MIB, 10 * MIB), None);
        assert_eq!(buffer_pool_advice(1024 * MIB, 123 * MIB), None);
        let advice = buffer_pool_advice(128 * MIB, 123 * MIB).expect("advice");
        assert!(advice.contains("123 MiB"), "{advice}");
        assert!(advice.contains("at least 369 MiB"), "{advice}");
    }

    #[test]
    fn a_server_too_old_for_keepers_sql_is_told() {
        assert_eq!(version_advice("10.11.19-MariaDB-0+deb12u1"), None);
        assert_eq!(version_advice("10.6.0-MariaDB"), None);
        assert_eq!(version_advice("8.0.36"), None);
        assert_eq!(version_advice("8.4.3-log"), None);
        let old = version_advice("10.5.26-MariaDB-log").expect("advice");
        assert!(
            old.contains("MariaDB 10.5.26") && old.contains("MariaDB 10.6.0"),
            "{old}"
        );
        let old = version_advice("8.0.15").expect("advice");
        assert!(
            old.contains("MySQL 8.0.15") && old.contains("8.0.16"),
            "{old}"
        );
        assert_eq!(version_advice("unknown"), None, "no telling: no advice");
    }

    #[test]
    fn commits_not_flushed_are_told_with_the_remedy() {
        assert_eq!(flush_advice(1), None);
        for setting in [0, 2] {
            let advice = flush_advice(setting).expect("advice");
            assert!(advice.contains(&format!("is {setting}")), "{advice}");
            assert!(advice.contains("set it to 1"), "{advice}");
        }
    }
}

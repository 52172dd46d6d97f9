//! Reading a `pg_dump` archive for `keeper restore`: checked with `pg_restore
//! --list`, its schema version read from the archive's own migration records
//! (no database needed), then restored over Keeper's tables.

use std::{path::Path, process::Output};

use keeper_store::{StoreError, StoreResult};
use sqlx::{Connection, PgConnection};

use crate::error::db_error;

/// The schema version of the `pg_dump` archive at `path`, once `pg_restore`
/// could list it. A damaged archive or one of another database is a `Config`
/// error saying which.
pub async fn inspect_dump(path: &Path) -> StoreResult<i64> {
    pg_restore(&["--list"], path)
        .await
        .map_err(|e| StoreError::Config(format!("damaged: {e}")))?;
    // The rows of `_sqlx_migrations` as COPY text, to stdout.
    let rows = pg_restore(
        &["--data-only", "--table=_sqlx_migrations", "--file=-"],
        path,
    )
    .await
    .map_err(|e| StoreError::Config(format!("damaged: {e}")))?;
    migrations_version(&String::from_utf8_lossy(&rows.stdout)).ok_or_else(|| {
        StoreError::Config(
            "a pg_dump archive, but not of Keeper's database: it holds no record of \
             Keeper's migrations"
                .into(),
        )
    })
}

/// Drop Keeper's tables and views at `url` (emptied already or replaced on
/// purpose: the caller checked), then `pg_restore` the archive in one
/// transaction. Migrations are the caller's next step.
pub async fn restore_dump(path: &Path, url: &str) -> StoreResult<()> {
    let mut conn = PgConnection::connect(url).await.map_err(db_error)?;
    // The archive creates every object itself; what is there would clash. The
    // views go with CASCADE. Every table of `migrations/postgres` must be named
    // here: restoring a dump over a migrated database (tests/data_ops.rs) fails
    // on any that is not.
    let dropped = sqlx::query!(
        "DROP TABLE IF EXISTS guild_settings, guilds, guild_roles, member_xp, member_xp_buckets,
             member_profiles,
             level_rewards, case_counters, mod_cases, case_amendments, escalation_rules,
             welcomed_members, gateway_sessions, applied_interactions, backup_runs,
             identify_slots, _sqlx_migrations
             CASCADE"
    )
    .execute(&mut conn)
    .await
    .map_err(db_error);
    // Functions outlive their tables (the triggers went with member_xp), and the
    // archive creates them again.
    let dropped = match dropped {
        Ok(_) => sqlx::query!(
            "DROP FUNCTION IF EXISTS member_xp_buckets_count(), member_xp_buckets_clear(),
                 member_xp_buckets_add(int8, int8, int8), member_xp_buckets_move(),
                 member_xp_bucket(int8), member_xp_bucket_exact(int8, int8)"
        )
        .execute(&mut conn)
        .await
        .map_err(db_error),
        Err(e) => Err(e),
    };
    let _ = conn.close().await;
    dropped?;
    pg_restore(
        &[
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            url,
        ],
        path,
    )
    .await
    .map_err(|e| {
        StoreError::Unavailable(
            format!("{e}; Keeper's tables were dropped first, so the database is now empty: fix the cause and run the restore again").into(),
        )
    })?;
    Ok(())
}

/// The highest successful version in `COPY ... _sqlx_migrations` text: rows of
/// tab-separated `version, description, installed_on, success, ...` ending at
/// `\.`.
fn migrations_version(copy: &str) -> Option<i64> {
    let mut lines = copy.lines();
    lines.find(|l| l.starts_with("COPY ") && l.contains("_sqlx_migrations"))?;
    lines
        .take_while(|l| *l != "\\.")
        .filter_map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            let success = fields.get(3).is_some_and(|s| *s == "t");
            success.then(|| fields[0].parse::<i64>().ok()).flatten()
        })
        .max()
}

/// Run `pg_restore` with `args` on `path`; its first error line otherwise.
async fn pg_restore(args: &[&str], path: &Path) -> Result<Output, String> {
    let run = tokio::process::Command::new("pg_restore")
        .args(args)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    let out = match run {
        Ok(out) => out,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                "pg_restore is not on PATH: install PostgreSQL's client tools \
                 (Debian and Ubuntu: apt-get install postgresql-client)"
                    .into(),
            );
        }
        Err(err) => return Err(format!("could not run pg_restore: {err}")),
    };
    if out.status.success() {
        return Ok(out);
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let line = said
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    Err(format!("pg_restore failed ({}): {line}", out.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_highest_successful_migration() {
        let copy = "--\n-- Data\n--\n\nCOPY public._sqlx_migrations (version, description, installed_on, success, checksum, execution_time) FROM stdin;\n1\tinit\t2026-01-01\tt\t\\\\x00\t1\n10\tviews\t2026-01-01\tt\t\\\\x00\t1\n11\tbroken\t2026-01-01\tf\t\\\\x00\t1\n\\.\n\n";
        assert_eq!(migrations_version(copy), Some(10));
        assert_eq!(
            migrations_version("COPY public.guilds (a) FROM stdin;\n1\n\\.\n"),
            None
        );
        assert_eq!(migrations_version(""), None);
    }
}

//! Checking a backup file before `keeper restore` reads it: a whole SQLite
//! database of Keeper's, at a schema version the caller compares with its own.
//! The file is opened read-only and immutable, so checking never writes it.

use std::path::Path;

use keeper_store::{StoreError, StoreResult};
use sqlx::{ConnectOptions, Connection, sqlite::SqliteConnectOptions};

/// The schema version of the SQLite backup at `path`, once SQLite's
/// `integrity_check` passed. A file that is not SQLite, is damaged or is not
/// Keeper's is a `Config` error saying which.
pub async fn inspect_backup(path: &Path) -> StoreResult<i64> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .connect()
        .await
        .map_err(|e| StoreError::Config(format!("can't open it as a SQLite database: {e}")))?;
    let checked = integrity(&mut conn).await;
    let version = match checked {
        Ok(()) => version(&mut conn).await,
        Err(err) => Err(err),
    };
    let _ = conn.close().await;
    version
}

async fn integrity(conn: &mut sqlx::SqliteConnection) -> StoreResult<()> {
    let found = sqlx::query_scalar!(r#"PRAGMA integrity_check"#)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| StoreError::Config(format!("damaged: SQLite can't read it ({e})")))?;
    let found: Vec<String> = found.into_iter().flatten().collect();
    match found.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        [] => Err(StoreError::Config(
            "damaged: SQLite's integrity check said nothing".into(),
        )),
        [first, ..] => Err(StoreError::Config(format!(
            "damaged: SQLite's integrity check found {} problem(s), the first: {first}",
            found.len()
        ))),
    }
}

async fn version(conn: &mut sqlx::SqliteConnection) -> StoreResult<i64> {
    let versions = sqlx::query_scalar!(
        r#"SELECT MAX(version) AS "version: i64" FROM _sqlx_migrations WHERE success"#
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|_| not_keepers())?;
    versions
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(not_keepers)
}

fn not_keepers() -> StoreError {
    StoreError::Config(
        "a SQLite database, but not Keeper's: it holds no record of Keeper's migrations".into(),
    )
}

//! The embedded migrations, the schema version this build knows, and migrating
//! at boot (refusing a database newer than this build first).

use keeper_store::{StoreError, StoreResult};
use sqlx::{
    SqliteConnection, SqlitePool,
    migrate::{MigrateError, Migrator},
};

use crate::error::db_error;

/// The migrations in `migrations/sqlite`, embedded at compile time (`build.rs`
/// makes a new file trigger a rebuild).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The highest schema version this build knows: the version of the newest file in
/// `migrations/sqlite`. A database above it is refused ([`StoreError::SchemaTooNew`]).
pub const SCHEMA_VERSION: i64 = keeper_store::backend::highest_version(&MIGRATOR);

/// The highest migration version this binary knows (same as [`SCHEMA_VERSION`]).
pub fn binary_schema_version() -> i64 {
    SCHEMA_VERSION
}

/// Refuse a newer schema, then apply pending migrations on the writer.
pub(crate) async fn migrate(writer: &SqlitePool) -> StoreResult<()> {
    let mut conn = writer.acquire().await.map_err(db_error)?;
    let applied = applied_version(&mut conn).await?;
    // Back to the pool (of one) for the migrator: `run` on a pool is the form whose
    // future is `Send` (on a `&mut` connection it hits a lifetime limitation).
    drop(conn);
    if let Some(database) = applied {
        let binary = binary_schema_version();
        if database > binary {
            return Err(StoreError::SchemaTooNew { database, binary });
        }
    }
    MIGRATOR.run(writer).await.map_err(|e| match e {
        MigrateError::Execute(e) => db_error(e),
        other => StoreError::Internal(format!("migrating the SQLite database: {other}").into()),
    })
}

/// The highest migration applied, `None` for a database sqlx never migrated. Read
/// before migrating, to refuse a database newer than this build.
async fn applied_version(conn: &mut SqliteConnection) -> StoreResult<Option<i64>> {
    let tables = sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM sqlite_schema
           WHERE type = 'table' AND name = '_sqlx_migrations'"#
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    if tables.first().copied().unwrap_or(0) == 0 {
        return Ok(None);
    }
    let version = sqlx::query_scalar!(r#"SELECT MAX(version) AS "v: i64" FROM _sqlx_migrations"#)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(version.into_iter().next().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_version_is_the_newest_migration() {
        let newest = MIGRATOR.iter().map(|m| m.version).max().unwrap();
        assert_eq!(SCHEMA_VERSION, newest);
        assert_eq!(binary_schema_version(), newest);
    }
}

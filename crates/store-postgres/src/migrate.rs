//! The embedded migrations, the schema version this build knows, and migrating
//! at boot (refusing a database newer than this build first).

use keeper_store::{StoreError, StoreResult};
use sqlx::{
    Connection, PgPool,
    migrate::{MigrateError, Migrator},
};

use crate::error::db_error;

/// The migrations of `migrations/postgres`, embedded at compile time (the folder
/// comes from `sqlx.toml`; `build.rs` makes a new file trigger a rebuild).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The schema version this build knows: the highest migration embedded in it.
pub const SCHEMA_VERSION: i64 = keeper_store::backend::highest_version(&MIGRATOR);

/// The highest migration version this binary knows (same as [`SCHEMA_VERSION`]).
pub fn binary_schema_version() -> i64 {
    SCHEMA_VERSION
}

/// Refuse a newer schema, then apply pending migrations (under sqlx's advisory
/// lock, so concurrent boots take turns: see [`PgStore::connect`](crate::PgStore::connect)).
pub(crate) async fn migrate(pool: &PgPool) -> StoreResult<()> {
    // Checked before migrating so that an older binary started against a newer
    // database never touches it (sqlx alone would only notice a missing file).
    if let Some(database) = applied_version(pool).await?
        && database > SCHEMA_VERSION
    {
        return Err(StoreError::SchemaTooNew {
            database,
            binary: SCHEMA_VERSION,
        });
    }
    // One transaction for all of it, under a transaction-level lock: a process
    // starting beside another waits until the other's migrations are committed
    // (not merely applied: sqlx's own lock is released before the end), and a
    // failed run leaves nothing half-applied.
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let mut tx = conn.begin().await.map_err(db_error)?;
    sqlx::query!("SELECT pg_advisory_xact_lock(7243580119522613317)")
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    let ran = MIGRATOR.run_direct(None, &mut *tx, false).await;
    if ran.is_ok() {
        tx.commit().await.map_err(db_error)?;
    } else {
        let _ = tx.rollback().await;
        // sqlx's session lock outlives the rollback: release it on this
        // connection, or the next boot that gets it from the pool would wait
        // for ever.
        let _ = sqlx::query!("SELECT pg_advisory_unlock_all()")
            .execute(&mut *conn)
            .await;
    }
    ran.map_err(|e| match e {
        // A newer binary migrated between our check and the lock.
        MigrateError::VersionMissing(database) if database > SCHEMA_VERSION => {
            StoreError::SchemaTooNew {
                database,
                binary: SCHEMA_VERSION,
            }
        }
        MigrateError::Execute(e) => db_error(e),
        other => StoreError::internal(other),
    })
}

/// The highest applied migration, `None` before the first boot (no
/// `_sqlx_migrations` table yet). Read before migrating, to refuse a newer schema.
async fn applied_version(pool: &PgPool) -> StoreResult<Option<i64>> {
    // The table is looked up first because a statement naming a missing table
    // fails to plan; `to_regclass` follows the search_path as sqlx's migrator does.
    let exists =
        sqlx::query_scalar!(r#"SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS "exists!""#)
            .fetch_one(pool)
            .await
            .map_err(db_error)?;
    if !exists {
        return Ok(None);
    }
    sqlx::query_scalar!("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await
        .map_err(db_error)
}

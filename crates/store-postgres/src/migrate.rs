//! The embedded migrations, the schema version this build knows, and migrating
//! at boot (refusing a database newer than this build first).

use keeper_store::{StoreError, StoreResult};
use sqlx::migrate::{MigrateError, Migrator};

use crate::{PgStore, error::db_error};

/// The migrations of `migrations/postgres`, embedded at compile time (the folder
/// comes from `sqlx.toml`; `build.rs` makes a new file trigger a rebuild).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The schema version this build knows: the highest migration embedded in it.
pub const SCHEMA_VERSION: i64 = keeper_store::backend::highest_version(&MIGRATOR);

/// The highest migration version this binary knows (same as [`SCHEMA_VERSION`]).
pub fn binary_schema_version() -> i64 {
    SCHEMA_VERSION
}

/// Refuse a newer schema, then apply pending migrations, in one transaction
/// under a transaction-level lock, so concurrent boots take turns: see
/// [`PgStore::connect`](crate::PgStore::connect).
pub(crate) async fn migrate(store: &PgStore) -> StoreResult<()> {
    // Checked before migrating so that an older binary started against a newer
    // database never touches it (sqlx alone would only notice a missing file).
    if let Some(database) = applied_version(store).await?
        && database > SCHEMA_VERSION
    {
        return Err(StoreError::SchemaTooNew {
            database,
            binary: SCHEMA_VERSION,
        });
    }
    // One transaction for all of it, under a transaction-level lock: a process
    // starting beside another waits until the other's migrations are committed
    // (not merely applied), and a failed run leaves nothing half-applied. The
    // lock is the only one: sqlx's own is a session lock, which a pooler in
    // transaction mode would leave held on a server connection after a failed
    // run, and it is released before the commit.
    let migrator = Migrator {
        locking: false,
        migrations: MIGRATOR.migrations.clone(),
        ignore_missing: MIGRATOR.ignore_missing,
        no_tx: MIGRATOR.no_tx,
        table_name: MIGRATOR.table_name.clone(),
        create_schemas: MIGRATOR.create_schemas.clone(),
    };
    let mut tx = store.begin_write().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(7243580119522613317)")
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    // Dropped on error, the transaction rolls back.
    migrator
        .run_direct(None, &mut *tx, false)
        .await
        .map_err(|e| match e {
            // A newer binary migrated between our check and the lock.
            MigrateError::VersionMissing(database) if database > SCHEMA_VERSION => {
                StoreError::SchemaTooNew {
                    database,
                    binary: SCHEMA_VERSION,
                }
            }
            MigrateError::Execute(e) => db_error(e),
            other => StoreError::internal(other),
        })?;
    tx.commit().await.map_err(db_error)
}

/// The highest applied migration, `None` before the first boot (no
/// `_sqlx_migrations` table yet). Read before migrating, to refuse a newer schema.
async fn applied_version(store: &PgStore) -> StoreResult<Option<i64>> {
    let mut work = store.work().await?;
    // The table is looked up first because a statement naming a missing table
    // fails to plan; `to_regclass` follows the search_path as sqlx's migrator does.
    let exists =
        sqlx::query_scalar!(r#"SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS "exists!""#)
            .fetch_one(&mut *work)
            .await
            .map_err(db_error)?;
    let version = if exists {
        sqlx::query_scalar!("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&mut *work)
            .await
            .map_err(db_error)?
    } else {
        None
    };
    work.done().await?;
    Ok(version)
}

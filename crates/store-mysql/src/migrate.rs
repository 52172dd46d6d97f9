//! The embedded migrations, the schema version this build knows, and migrating
//! at boot (refusing a database newer than this build first).

use keeper_store::{StoreError, StoreResult};
use sqlx::migrate::{MigrateError, Migrator};

use crate::{MySqlStore, error::db_error};

/// The migrations of `migrations/mysql`, embedded at compile time (the folder
/// comes from `sqlx.toml`; `build.rs` makes a new file trigger a rebuild).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The schema version this build knows: the highest migration embedded in it.
pub const SCHEMA_VERSION: i64 = keeper_store::backend::highest_version(&MIGRATOR);

/// The highest migration version this binary knows (same as [`SCHEMA_VERSION`]).
pub fn binary_schema_version() -> i64 {
    SCHEMA_VERSION
}

/// Refuse a newer schema, then apply pending migrations.
///
/// MySQL commits each DDL statement by itself, so migrations can't share one
/// transaction as on PostgreSQL: sqlx takes a named lock (`GET_LOCK`) for the
/// run, so processes booting together take turns and each finds the others'
/// work applied, and marks each migration unfinished until it ran whole (a
/// migration that failed half way is refused at the next boot as "dirty"
/// rather than run over).
pub(crate) async fn migrate(store: &MySqlStore) -> StoreResult<()> {
    if let Some(database) = applied_version(store).await?
        && database > SCHEMA_VERSION
    {
        return Err(StoreError::SchemaTooNew {
            database,
            binary: SCHEMA_VERSION,
        });
    }
    MIGRATOR.run(&store.pool).await.map_err(|e| match e {
        // A newer binary migrated between our check and the lock.
        MigrateError::VersionMissing(database) if database > SCHEMA_VERSION => {
            StoreError::SchemaTooNew {
                database,
                binary: SCHEMA_VERSION,
            }
        }
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => db_error(e),
        other => StoreError::internal(other),
    })
}

/// The highest applied migration, `None` before the first boot (no
/// `_sqlx_migrations` table yet).
async fn applied_version(store: &MySqlStore) -> StoreResult<Option<i64>> {
    let mut conn = store.pool.acquire().await.map_err(db_error)?;
    let exists = sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "exists!" FROM information_schema.tables
           WHERE table_schema = DATABASE() AND table_name = '_sqlx_migrations'"#
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    if exists == 0 {
        return Ok(None);
    }
    sqlx::query_scalar!("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)
}

//! Opening the store named by `DATABASE_URL`: the only place that knows both
//! backends exist. Everything after this holds an `Arc<dyn Store>`.

use std::sync::Arc;

use keeper_store::{Store, StoreError};
use keeper_store_postgres::{PgConfig, PgStore};
use keeper_store_sqlite::{SqliteConfig, SqliteStore, SqliteSync};

use crate::config::{DatabaseConfig, DatabaseUrl, SqliteSyncArg};

/// Connect, refuse a schema newer than this binary, and apply pending migrations.
pub async fn open(config: &DatabaseConfig) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match &config.database_url {
        DatabaseUrl::Sqlite(url) => {
            let sync = match config.sqlite_sync {
                SqliteSyncArg::Normal => SqliteSync::Normal,
                SqliteSyncArg::Full => SqliteSync::Full,
            };
            let config = SqliteConfig {
                sync,
                ..SqliteConfig::new(url.clone())
            };
            Arc::new(SqliteStore::connect(&config).await?)
        }
        DatabaseUrl::Postgres(url) => {
            let config = PgConfig {
                url: url.clone(),
                pool_size: config.pg_pool,
                connect_attempts: config.pg_connect_attempts,
            };
            Arc::new(PgStore::connect(&config).await?)
        }
    })
}

/// The highest schema version this binary knows for the configured backend.
pub fn binary_schema_version(url: &DatabaseUrl) -> i64 {
    match url {
        DatabaseUrl::Sqlite(_) => keeper_store_sqlite::binary_schema_version(),
        DatabaseUrl::Postgres(_) => keeper_store_postgres::binary_schema_version(),
    }
}

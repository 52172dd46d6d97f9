//! Opening the store named by `DATABASE_URL`: the only place that knows which
//! backends exist. Everything after this holds an `Arc<dyn Store>`.

use std::sync::Arc;

use keeper_store::{Store, StoreError};
use keeper_store_mysql::{MySqlConfig, MySqlStore};
use keeper_store_postgres::{PgConfig, PgStore, Pooler};
use keeper_store_sqlite::{SqliteConfig, SqliteStore, SqliteSync};

use crate::config::{DatabaseConfig, DatabaseUrl, PgPoolerArg, SqliteSyncArg};

/// Connect, refuse a schema newer than this binary, and apply pending migrations.
pub async fn open(config: &DatabaseConfig) -> Result<Arc<dyn Store>, StoreError> {
    open_url(&config.database_url, config).await
}

/// [`open`] another database than `DATABASE_URL` (`keeper copy`, `keeper
/// restore --to`), with the same settings.
pub async fn open_url(
    url: &DatabaseUrl,
    config: &DatabaseConfig,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match url {
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
                pooler: match config.pg_pooler {
                    PgPoolerArg::None => Pooler::None,
                    PgPoolerArg::Transaction => Pooler::Transaction,
                },
            };
            Arc::new(PgStore::connect(&config).await?)
        }
        DatabaseUrl::MySql(url) => {
            let config = MySqlConfig {
                url: url.clone(),
                pool_size: config.mysql_pool,
                connect_attempts: config.mysql_connect_attempts,
            };
            Arc::new(MySqlStore::connect(&config).await?)
        }
    })
}

/// The highest schema version this binary knows for the configured backend.
pub fn binary_schema_version(url: &DatabaseUrl) -> i64 {
    match url {
        DatabaseUrl::Sqlite(_) => keeper_store_sqlite::binary_schema_version(),
        DatabaseUrl::Postgres(_) => keeper_store_postgres::binary_schema_version(),
        DatabaseUrl::MySql(_) => keeper_store_mysql::binary_schema_version(),
    }
}

/// What a backup file is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupKind {
    /// A SQLite database file (`keeper backup` of SQLite, or any copy of one).
    Sqlite,
    /// A `pg_dump --format=custom` archive (`keeper backup` of PostgreSQL).
    PgDump,
    /// A `mariadb-dump` or `mysqldump` SQL script (`keeper backup` of MySQL).
    MySqlDump,
    /// Keeper's own export (`keeper export`): gzip-compressed JSON lines.
    Export,
}

/// Tell a SQLite file, a `pg_dump` archive, a MySQL dump and an export apart by
/// their first bytes; anything else is a sentence saying what was expected.
pub fn backup_kind(path: &std::path::Path) -> Result<BackupKind, String> {
    use std::io::Read;
    let mut head = [0_u8; 16];
    let mut file = std::fs::File::open(path).map_err(|e| format!("can't read it: {e}"))?;
    let read = file
        .read(&mut head)
        .map_err(|e| format!("can't read it: {e}"))?;
    kind_of(&head[..read]).ok_or_else(|| {
        "not a Keeper backup: neither a SQLite database, a pg_dump archive, a \
         mariadb-dump or mysqldump script nor a Keeper export (`keeper backup` and \
         `keeper export` write them)"
            .to_owned()
    })
}

fn kind_of(head: &[u8]) -> Option<BackupKind> {
    if head.starts_with(b"SQLite format 3\0") {
        Some(BackupKind::Sqlite)
    } else if head.starts_with(b"PGDMP") {
        Some(BackupKind::PgDump)
    } else if [&b"-- MariaDB dump"[..], b"-- MySQL dump", b"/*M!999999"]
        .iter()
        .any(|header| head.starts_with(header))
    {
        // `/*M!999999\- enable the sandbox mode */`: MariaDB's dumps' first
        // line since 10.5.25 (`inspect_dump` reads the header after it).
        Some(BackupKind::MySqlDump)
    } else if crate::export::is_export(head) {
        Some(BackupKind::Export)
    } else {
        None
    }
}

/// A SQLite backup passes `PRAGMA integrity_check` and holds Keeper's
/// migrations; its schema version.
pub async fn check_sqlite_backup(path: &std::path::Path) -> Result<i64, StoreError> {
    keeper_store_sqlite::inspect_backup(path).await
}

/// A `pg_dump` archive `pg_restore` can list, holding Keeper's migrations; its
/// schema version.
pub async fn check_pg_dump(path: &std::path::Path) -> Result<i64, StoreError> {
    keeper_store_postgres::inspect_dump(path).await
}

/// Replace Keeper's tables in the PostgreSQL database at `url` with the
/// archive's, in one `pg_restore` transaction.
pub async fn restore_pg_dump(path: &std::path::Path, url: &str) -> Result<(), StoreError> {
    keeper_store_postgres::restore_dump(path, url).await
}

/// A whole `mariadb-dump` or `mysqldump` script of Keeper's database; its
/// schema version.
pub async fn check_mysql_dump(path: &std::path::Path) -> Result<i64, StoreError> {
    keeper_store_mysql::inspect_dump(path).await
}

/// Replace Keeper's tables in the MySQL database at `url` with the dump's,
/// through `mariadb` or `mysql` (table by table: see
/// `keeper_store_mysql::restore_dump`).
pub async fn restore_mysql_dump(path: &std::path::Path, url: &str) -> Result<(), StoreError> {
    keeper_store_mysql::restore_dump(path, url).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_are_told_apart_by_their_first_bytes() {
        assert_eq!(
            kind_of(b"SQLite format 3\0\x10\0"),
            Some(BackupKind::Sqlite)
        );
        assert_eq!(kind_of(b"PGDMP\x01\x0e"), Some(BackupKind::PgDump));
        assert_eq!(kind_of(b"-- MySQL dump 10"), Some(BackupKind::MySqlDump));
        assert_eq!(kind_of(b"/*M!999999\\- ena"), Some(BackupKind::MySqlDump));
        assert_eq!(kind_of(b"-- MariaDB dump "), Some(BackupKind::MySqlDump));
        assert_eq!(kind_of(b"-- a comment"), None);
        assert_eq!(kind_of(b"\x1f\x8b\x08\0"), Some(BackupKind::Export));
        assert_eq!(kind_of(b"SQLite format 2\0"), None);
        assert_eq!(kind_of(b"{\"guilds\": {}}"), None);
        assert_eq!(kind_of(b""), None);
    }
}

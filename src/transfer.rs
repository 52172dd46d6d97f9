//! Moving a whole database: `keeper restore FILE [--to URL] [--force]` and
//! `keeper copy --from URL --to URL [--force]`.
//!
//! Both are written against the store's `TransferStore` (every table read and
//! written page by page), so they work between any two backends: a SQLite
//! backup restores into any of them, and a copy goes any way. A `pg_dump`
//! archive and a MySQL dump are the exceptions: only their backend's tools read
//! them (`pg_restore`, `mariadb`), into their own backend. A Keeper export (`keeper export`, `export.rs`) restores like a
//! SQLite backup, into either backend (`keeper import` is `keeper restore`). Every run ends by reading the target back, table by table, and
//! comparing its row count and checksum with what was read from the source.
//!
//! A target that holds rows is refused unless `--force` says to replace them.
//! Each page is its own transaction, so an interrupted run (Ctrl-C, `kill -9`,
//! a lost connection) leaves part of the data behind; the next run finds the
//! target not empty and says to add `--force`, which starts over.

use std::path::{Path, PathBuf};

use keeper_store::{
    Store, StoreError,
    transfer::{self, Table, TableDigest},
};

use crate::{
    config::{Config, DatabaseUrl},
    db::{self, BackupKind},
    error::Fatal,
    progress::{Progress, grouped},
};

/// Rows per page: one read on the source and one transaction on the target.
const PAGE: u32 = 5_000;

/// `keeper restore`: `file` (a SQLite backup, a `pg_dump` archive, a MySQL
/// dump or an export) into
/// `to`, or `DATABASE_URL` when not given.
pub async fn restore(
    config: &Config,
    file: &Path,
    to: Option<&DatabaseUrl>,
    force: bool,
) -> Result<(), Fatal> {
    let target = to.unwrap_or(&config.database.database_url);
    let kind =
        db::backup_kind(file).map_err(|e| Fatal::Config(format!("{}: {e}", file.display())))?;
    match kind {
        BackupKind::Sqlite => restore_sqlite(config, file, target, force).await,
        BackupKind::PgDump => restore_tool_dump(config, file, target, force, ToolDump::Pg).await,
        BackupKind::MySqlDump => {
            restore_tool_dump(config, file, target, force, ToolDump::MySql).await
        }
        BackupKind::Export => import(config, file, target, force).await,
    }
}

/// `keeper export`: every table into `out` (see `export.rs`).
pub async fn export(config: &Config, out: &Path) -> Result<(), Fatal> {
    let store = db::open(&config.database).await.map_err(Fatal::database)?;
    let written = crate::export::write(&*store, out).await;
    store.close().await;
    let rows = written.map_err(Fatal::Runtime)?;
    println!("exported {} rows to {}", grouped(rows), out.display());
    Ok(())
}

/// A Keeper export: read whole and checked first, then written page by page
/// and compared table by table with what the file holds.
async fn import(
    config: &Config,
    file: &Path,
    target: &DatabaseUrl,
    force: bool,
) -> Result<(), Fatal> {
    let checked = check_export(file).await?;
    let version = checked.header.schema_version;
    refuse_newer(file, version, db::binary_schema_version(target))?;
    println!(
        "{} is a whole Keeper export of a {} database at schema version {version}, made {}",
        file.display(),
        checked.header.backend,
        checked.header.exported_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let store = open_target(config, target).await?;
    let imported = import_into(&*store, file, target, force, &checked).await;
    store.close().await;
    let rows = imported?;
    println!(
        "imported {} into {target}: {} rows, every table read back and compared",
        file.display(),
        grouped(rows)
    );
    Ok(())
}

/// Read the export `file` whole and check it, writing nothing (see
/// `export.rs`): what it holds, or one line saying what is wrong.
pub async fn check_export(file: &Path) -> Result<crate::export::Checked, Fatal> {
    let path = file.to_path_buf();
    tokio::task::spawn_blocking(move || crate::export::read(&path, drop))
        .await
        .map_err(|e| Fatal::Runtime(format!("reading {}: {e}", file.display())))?
        .map_err(|e| Fatal::Config(format!("{}: {e}", file.display())))
}

async fn import_into(
    target: &dyn Store,
    file: &Path,
    target_url: &DatabaseUrl,
    force: bool,
    checked: &crate::export::Checked,
) -> Result<u64, Fatal> {
    empty_target(target, target_url, force).await?;
    let total = checked.rows.values().sum();
    let (pages, mut incoming) = tokio::sync::mpsc::channel(4);
    let path = file.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        crate::export::read(&path, |page| {
            // A closed channel means the writer stopped; its error is told.
            let _ = pages.blocking_send(page);
        })
    });
    let mut progress = Progress::new(total);
    let mut digests: Vec<TableDigest> = Table::ALL.into_iter().map(TableDigest::new).collect();
    let mut done = 0;
    while let Some(page) = incoming.recv().await {
        let table = page.table();
        if let Err(err) = target.write_rows(&page).await {
            progress.finish();
            return Err(Fatal::Runtime(format!(
                "importing {} stopped: {err}. {target_url} now holds part of the data; \
                 run the same command again with --force to start over",
                table.name()
            )));
        }
        let digest = digests
            .iter_mut()
            .find(|d| d.table == table)
            .expect("every table has a digest");
        digest.add(&page);
        done += page.len() as u64;
        progress.update(table.name(), 0, done);
    }
    progress.finish();
    reader
        .await
        .map_err(|e| Fatal::Runtime(format!("reading {}: {e}", file.display())))?
        .map_err(|e| {
            Fatal::Runtime(format!("{} changed while it was read: {e}", file.display()))
        })?;
    compare(target, target_url, &digests).await?;
    Ok(done)
}

/// A SQLite backup: checked, copied aside and migrated there (the backup
/// itself is never written), then moved table by table into the target.
async fn restore_sqlite(
    config: &Config,
    file: &Path,
    target: &DatabaseUrl,
    force: bool,
) -> Result<(), Fatal> {
    let version = db::check_sqlite_backup(file)
        .await
        .map_err(|e| bad_file(file, e))?;
    refuse_newer(file, version, db::binary_schema_version(target))?;
    println!(
        "{} is a whole SQLite backup at schema version {version}",
        file.display()
    );
    let scratch = Scratch::copy_of(file)?;
    let source = db::open_url(&scratch.url(), &config.database)
        .await
        .map_err(|e| bad_file(file, e));
    let source = match source {
        Ok(source) => source,
        Err(err) => {
            drop(scratch);
            return Err(err);
        }
    };
    let moved = match open_target(config, target).await {
        Ok(target_store) => {
            let moved = move_all(&*source, &*target_store, target, force).await;
            target_store.close().await;
            moved
        }
        Err(err) => Err(err),
    };
    source.close().await;
    drop(scratch);
    let rows = moved?;
    println!(
        "restored {} into {target}: {} rows, every table read back and compared",
        file.display(),
        grouped(rows)
    );
    Ok(())
}

/// A dump only its own backend's tools read: a `pg_dump` archive or a
/// `mariadb-dump`/`mysqldump` script.
#[derive(Clone, Copy)]
enum ToolDump {
    Pg,
    MySql,
}

impl ToolDump {
    fn what(self) -> &'static str {
        match self {
            ToolDump::Pg => "a pg_dump archive",
            ToolDump::MySql => "a mariadb-dump (or mysqldump) script",
        }
    }

    /// The URL to restore into, when `target` is of the dump's backend.
    fn url(self, target: &DatabaseUrl) -> Option<&str> {
        match (self, target) {
            (ToolDump::Pg, DatabaseUrl::Postgres(url))
            | (ToolDump::MySql, DatabaseUrl::MySql(url)) => Some(url),
            _ => None,
        }
    }

    fn example(self) -> &'static str {
        match self {
            ToolDump::Pg => "postgres://...",
            ToolDump::MySql => "mysql://...",
        }
    }

    async fn check(self, file: &Path) -> Result<i64, StoreError> {
        match self {
            ToolDump::Pg => db::check_pg_dump(file).await,
            ToolDump::MySql => db::check_mysql_dump(file).await,
        }
    }

    async fn restore(self, file: &Path, url: &str) -> Result<(), StoreError> {
        match self {
            ToolDump::Pg => db::restore_pg_dump(file, url).await,
            ToolDump::MySql => db::restore_mysql_dump(file, url).await,
        }
    }
}

/// A `pg_dump` archive into PostgreSQL (`pg_restore`), or a MySQL dump into
/// MySQL (`mariadb`), then migrated to this Keeper's schema.
async fn restore_tool_dump(
    config: &Config,
    file: &Path,
    target: &DatabaseUrl,
    force: bool,
    dump: ToolDump,
) -> Result<(), Fatal> {
    let Some(url) = dump.url(target) else {
        return Err(Fatal::Config(format!(
            "{} is {}, which only restores into its own backend: give --to {} \
             (and then, to move it into another backend, `keeper copy`)",
            file.display(),
            dump.what(),
            dump.example(),
        )));
    };
    let version = dump.check(file).await.map_err(|e| bad_file(file, e))?;
    refuse_newer(file, version, db::binary_schema_version(target))?;
    println!(
        "{} is {} at schema version {version}",
        file.display(),
        dump.what()
    );
    let store = open_target(config, target).await?;
    let held = rows_held(&*store).await;
    store.close().await;
    let held = held?;
    if !held.is_empty() && !force {
        return Err(not_empty(target, &held));
    }
    dump.restore(file, url)
        .await
        .map_err(|e| Fatal::Runtime(format!("{target}: {e}")))?;
    let store = open_target(config, target).await?;
    let counts = store
        .table_counts()
        .await
        .map_err(|e| target_failed(target, e));
    store.close().await;
    let counts = counts?;
    print_counts(counts.iter().map(|(t, n)| (*t, *n as u64, None)));
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    println!(
        "restored {} into {target}: {} rows, schema migrated to version {}",
        file.display(),
        grouped(total as u64),
        db::binary_schema_version(target)
    );
    Ok(())
}

/// `keeper copy`: every table of `from` into `to`.
pub async fn copy(
    config: &Config,
    from: &DatabaseUrl,
    to: &DatabaseUrl,
    force: bool,
) -> Result<(), Fatal> {
    if from.as_str() == to.as_str() {
        return Err(Fatal::Config(
            "--from and --to name the same database; nothing to copy".into(),
        ));
    }
    let source = db::open_url(from, &config.database)
        .await
        .map_err(|e| Fatal::Config(format!("--from {from}: {e}")))?;
    let moved = match open_target(config, to).await {
        Ok(target) => {
            let moved = move_all(&*source, &*target, to, force).await;
            target.close().await;
            moved
        }
        Err(err) => Err(err),
    };
    source.close().await;
    let rows = moved?;
    println!(
        "copied {from} into {to}: {} rows, every table read back and compared",
        grouped(rows)
    );
    Ok(())
}

/// Every table from `source` into `target` (emptied first when `force`),
/// with progress, then compared table by table. The rows moved.
async fn move_all(
    source: &dyn Store,
    target: &dyn Store,
    target_url: &DatabaseUrl,
    force: bool,
) -> Result<u64, Fatal> {
    empty_target(target, target_url, force).await?;
    let total: i64 = source
        .table_counts()
        .await
        .map_err(source_failed)?
        .iter()
        .map(|(_, n)| n)
        .sum();
    let mut progress = Progress::new(total.max(0) as u64);
    let mut copied = Vec::new();
    let mut before = 0;
    for table in Table::ALL {
        let digest = transfer::copy_table(source, target, table, PAGE, |rows| {
            progress.update(table.name(), before, rows)
        })
        .await;
        let digest = match digest {
            Ok(digest) => digest,
            Err(err) => {
                progress.finish();
                return Err(Fatal::Runtime(format!(
                    "copying {} stopped: {err}. {target_url} now holds part of the data; \
                     run the same command again with --force to start over",
                    table.name()
                )));
            }
        };
        before += digest.rows;
        copied.push(digest);
    }
    progress.finish();
    let rate = progress.rate();
    compare(target, target_url, &copied).await?;
    println!("{} rows/s", grouped(rate.round() as u64));
    Ok(before)
}

/// A target that holds rows is refused, or emptied with `--force`.
async fn empty_target(
    target: &dyn Store,
    target_url: &DatabaseUrl,
    force: bool,
) -> Result<(), Fatal> {
    let held = rows_held(target).await?;
    if !held.is_empty() {
        if !force {
            return Err(not_empty(target_url, &held));
        }
        target
            .clear_all()
            .await
            .map_err(|e| target_failed(target_url, e))?;
        println!("--force: emptied {target_url} first");
    }
    Ok(())
}

/// Read every table back from the target and compare it with what was
/// written; print each table's rows and checksum.
async fn compare(
    target: &dyn Store,
    target_url: &DatabaseUrl,
    expected: &[TableDigest],
) -> Result<(), Fatal> {
    let mut lines = Vec::new();
    for expected in expected {
        let found = transfer::digest_table(target, expected.table, PAGE)
            .await
            .map_err(|e| target_failed(target_url, e))?;
        if found != *expected {
            return Err(mismatch(target_url, expected, &found));
        }
        lines.push((expected.table.name(), expected.rows, Some(expected.digest)));
    }
    print_counts(lines);
    Ok(())
}

/// The tables of `store` that hold rows, with their counts.
async fn rows_held(store: &dyn Store) -> Result<Vec<(&'static str, i64)>, Fatal> {
    let counts = store
        .table_counts()
        .await
        .map_err(|e| Fatal::Runtime(e.to_string()))?;
    Ok(counts.into_iter().filter(|(_, n)| *n > 0).collect())
}

/// Open `target` with the configured settings; failing is about that URL.
pub async fn open_target(
    config: &Config,
    target: &DatabaseUrl,
) -> Result<std::sync::Arc<dyn Store>, Fatal> {
    db::open_url(target, &config.database)
        .await
        .map_err(|e| Fatal::Config(format!("{target}: {e}")))
}

fn print_counts(lines: impl IntoIterator<Item = (&'static str, u64, Option<u64>)>) {
    for (table, rows, digest) in lines {
        match digest {
            Some(digest) => println!(
                "  {table:<22} {:>12} rows  checksum {digest:016x}  ok",
                grouped(rows)
            ),
            None => println!("  {table:<22} {:>12} rows", grouped(rows)),
        }
    }
}

/// A backup newer than this Keeper is refused before anything is written.
fn refuse_newer(file: &Path, version: i64, binary: i64) -> Result<(), Fatal> {
    if version > binary {
        return Err(Fatal::Config(format!(
            "{} was written by a newer Keeper (schema version {version}; this one knows up \
             to {binary}): restore it with that version of Keeper or a later one",
            file.display()
        )));
    }
    Ok(())
}

fn not_empty(target: &DatabaseUrl, held: &[(&'static str, i64)]) -> Fatal {
    let total: i64 = held.iter().map(|(_, n)| n).sum();
    let tables: Vec<String> = held.iter().map(|(t, n)| format!("{t} {n}")).collect();
    Fatal::Config(format!(
        "{target} already holds {total} rows ({}); nothing was written. Add --force to \
         replace everything in it",
        tables.join(", ")
    ))
}

fn mismatch(target: &DatabaseUrl, expected: &TableDigest, found: &TableDigest) -> Fatal {
    Fatal::Runtime(format!(
        "{}: {target} holds {} rows (checksum {:016x}) where {} were copied (checksum {:016x}); \
         was something writing to it? Run again with --force",
        expected.table.name(),
        found.rows,
        found.digest,
        expected.rows,
        expected.digest
    ))
}

fn bad_file(file: &Path, err: StoreError) -> Fatal {
    match err {
        StoreError::Internal(_) => Fatal::Runtime(format!("{}: {err}", file.display())),
        _ => Fatal::Config(format!("{}: {err}", file.display())),
    }
}

fn source_failed(err: StoreError) -> Fatal {
    Fatal::Runtime(format!("reading the source: {err}"))
}

fn target_failed(target: &DatabaseUrl, err: StoreError) -> Fatal {
    Fatal::Runtime(format!("{target}: {err}"))
}

/// A private copy of a backup file, migrated in place of the original and
/// removed (with its WAL files) when dropped.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn copy_of(file: &Path) -> Result<Self, Fatal> {
        let path = std::env::temp_dir().join(format!(
            "keeper-restore-{}-{}.db",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let scratch = Scratch { path };
        crate::backups::private_empty_file(&scratch.path)
            .and_then(|()| std::fs::copy(file, &scratch.path).map(drop))
            .map_err(|e| {
                Fatal::Runtime(format!(
                    "can't copy {} to {}: {e}",
                    file.display(),
                    scratch.path.display()
                ))
            })?;
        Ok(scratch)
    }

    fn url(&self) -> DatabaseUrl {
        DatabaseUrl::Sqlite(format!("sqlite://{}", self.path.display()))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

//! Opening the database: the configuration, the writer and the read pool, and the
//! checks that turn an unusable path into one clear sentence.

use std::{fs, io::ErrorKind, path::Path, str::FromStr, time::Duration};

use keeper_store::{StoreError, StoreResult};
use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{
    SqliteStore,
    error::{db_error, sqlite_code},
    migrate::migrate,
};

/// How long a connection waits for a lock held by *another process* before giving
/// up. Within Keeper the single writer means nobody waits on the file lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a caller may queue for the writer (or a reader) before the store
/// reports itself unavailable. Generous: a queue of writes drains in milliseconds.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Page cache of the writer, as `PRAGMA cache_size` (negative: KiB): 64 MiB.
const WRITER_CACHE_KIB: &str = "-65536";
/// Page cache of each reader: 16 MiB.
const READER_CACHE_KIB: &str = "-16384";

/// WAL pages after which a commit checkpoints them into the database file
/// (`PRAGMA wal_autocheckpoint`): 8,192 pages, 32 MiB at 4 KiB pages. SQLite's
/// default of 1,000 pages is less than one busy flush touches (each award dirties
/// a table page and a leaderboard index page, and a flush of a few hundred
/// members at random makes ~1,000 of them), so every commit paid for a checkpoint
/// with its fsyncs; measured at 1,000,000 members, batches of 500 went from
/// 12,540 to 17,685 rows/s (+38 %) with 8,192 (see BENCHMARKS.md).
const WAL_AUTOCHECKPOINT_PAGES: &str = "8192";
/// How often the checkpointer copies the WAL into the database file
/// ([`checkpoints`]), on a connection of its own so the writer never does it
/// (`WAL_AUTOCHECKPOINT_PAGES` stays as a backstop should it fall behind).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// Once checkpointed, the WAL file is truncated back to this size (bytes), so
/// a burst does not leave a large file behind: 64 MiB.
const WAL_SIZE_LIMIT_BYTES: &str = "67108864";

/// When a commit is made durable (`PRAGMA synchronous`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SqliteSync {
    /// `synchronous=NORMAL`: in WAL mode the database never corrupts, but the last
    /// commits before a power loss (not a crash of Keeper) may be rolled back.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is on disk before it returns; slower.
    Full,
}

/// How to open the SQLite database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteConfig {
    /// `sqlite://path/to/keeper.db` (relative to the working directory) or
    /// `sqlite:///absolute/path.db`. The file is created when missing; in-memory
    /// databases are refused (nothing would survive a restart).
    pub url: String,
    pub sync: SqliteSync,
    /// Size of the read-only pool used by every read.
    pub read_connections: u32,
}

impl SqliteConfig {
    /// Default size of the read pool.
    pub const DEFAULT_READ_CONNECTIONS: u32 = 4;

    /// A configuration with the defaults: `synchronous=NORMAL`, 4 readers.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            sync: SqliteSync::default(),
            read_connections: Self::DEFAULT_READ_CONNECTIONS,
        }
    }
}

impl SqliteStore {
    /// Open (creating when missing) and migrate the database.
    ///
    /// Refuses an in-memory URL, a path that can't be created or written
    /// ([`StoreError::Config`], naming the path and the OS reason) and a database
    /// whose schema is newer than this build ([`StoreError::SchemaTooNew`]).
    pub async fn connect(config: &SqliteConfig) -> StoreResult<Self> {
        let options = file_options(&config.url)?;
        let path = options.get_filename().to_path_buf();
        check_path(&path)?;

        let writer = open_writer(options.clone(), config.sync)
            .await
            .map_err(|e| open_error(&path, e))?;
        if let Err(e) = migrate(&writer).await {
            writer.close().await;
            return Err(e);
        }

        // Opened after the writer, which created the file and switched it to WAL
        // (a persistent property of the file, so readers need not set it).
        let reader = match open_reader(options.clone(), config.read_connections).await {
            Ok(reader) => reader,
            Err(e) => {
                writer.close().await;
                return Err(open_error(&path, e));
            }
        };
        let checkpointer = match open_checkpointer(options).await {
            Ok(checkpointer) => checkpointer,
            Err(e) => {
                reader.close().await;
                writer.close().await;
                return Err(open_error(&path, e));
            }
        };

        let store = Self {
            writer,
            reader,
            checkpoints: tokio::spawn(checkpoints(checkpointer.clone())).abort_handle(),
            checkpointer,
            path,
            staged: true.into(),
        };
        // A flush that stopped between its parts (a crash, a failing disk)
        // left them staged: they are applied before anything reads the XP.
        store.apply_staged().await?;
        Ok(store)
    }
}

/// The options of a database file; an in-memory database is refused.
fn file_options(url: &str) -> StoreResult<SqliteConnectOptions> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| {
        StoreError::Config(format!(
            "{url:?} is not a valid SQLite database URL ({e}); expected sqlite://path/to/keeper.db"
        ))
    })?;
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(StoreError::Config(format!(
            "{url:?} is an in-memory SQLite database, which would lose everything at exit; \
             give a file path such as sqlite://keeper.db"
        )));
    }
    Ok(options)
}

/// The pool of one writer, creating the file and switching it to WAL.
async fn open_writer(
    options: SqliteConnectOptions,
    sync: SqliteSync,
) -> Result<SqlitePool, sqlx::Error> {
    let options = options
        .read_only(false)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match sync {
            SqliteSync::Normal => SqliteSynchronous::Normal,
            SqliteSync::Full => SqliteSynchronous::Full,
        })
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        // Awards land on random members of possibly millions: a bigger page
        // cache than SQLite's 2 MiB default keeps the hot B-tree pages in memory.
        .pragma("cache_size", WRITER_CACHE_KIB)
        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES);
    pool_options(1)
        // Kept open for the life of the store: closing the last connection
        // checkpoints and deletes the WAL, which readers would then recreate.
        .min_connections(1)
        .connect_with(options)
        .await
}

/// The read-only pool, on a file the writer already created.
async fn open_reader(
    options: SqliteConnectOptions,
    connections: u32,
) -> Result<SqlitePool, sqlx::Error> {
    let options = options
        .read_only(true)
        .create_if_missing(false)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("cache_size", READER_CACHE_KIB);
    pool_options(connections.max(1)).connect_with(options).await
}

/// The connection that checkpoints the WAL: it writes only the database
/// file's pages from the WAL, never a transaction.
async fn open_checkpointer(options: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
    let options = options
        .read_only(false)
        .create_if_missing(false)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("wal_autocheckpoint", "0");
    pool_options(1).connect_with(options).await
}

/// Copy the WAL into the database file every [`CHECKPOINT_EVERY`], passively
/// (never waiting for the writer or a reader), until the store closes.
///
/// The writer used to checkpoint in the commit that took the WAL past
/// `WAL_AUTOCHECKPOINT_PAGES`: some 40 ms under load, every second or so,
/// while every write queued behind it (the p99 of `/warn` on SQLite). Here it
/// runs on this connection's own thread; the writer restarts the WAL from its
/// start at its next transaction once everything in it is copied.
async fn checkpoints(pool: SqlitePool) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        // Busy (another checkpoint under way) or failing: the next tick tries
        // again, and the writer's own checkpoint stays as a backstop.
        if let Err(e) = sqlx::query!("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_all(&pool)
            .await
        {
            tracing::debug!(error = %e, "a WAL checkpoint did not run");
        }
    }
}

/// What the writer's pool and the readers' have in common: connections to a local
/// file, kept as long as the store.
fn pool_options(max_connections: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A local file has no network to test; a ping per acquire only adds latency.
        .test_before_acquire(false)
}

/// Turn a missing directory or an unwritable path into one clear sentence before
/// SQLite can say only "unable to open database file".
fn check_path(path: &Path) -> StoreResult<()> {
    let shown = path.display();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(StoreError::Config(format!(
                "can't open the SQLite database {shown}: {} is not a directory",
                dir.display()
            )));
        }
        Err(e) => {
            return Err(StoreError::Config(format!(
                "can't open the SQLite database {shown}: directory {}: {e}",
                dir.display()
            )));
        }
    }
    // Opening for writing (creating when missing) is what SQLite will do; doing it
    // here first yields the OS reason (permission denied, read-only file system...).
    if let Err(e) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        return Err(StoreError::Config(format!(
            "can't open the SQLite database {shown} for writing: {e}"
        )));
    }
    // WAL mode keeps two files beside the database (-wal, -shm), created and
    // deleted as it runs, so the directory itself must be writable too.
    let probe = dir.join(format!(
        ".{}.keeper-write-probe-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Config(format!(
            "can't use the SQLite database {shown}: its directory {} must be writable for the \
             WAL files beside it: {e}",
            dir.display()
        ))),
    }
}

/// An error while opening: what SQLite says about the file is a configuration
/// problem (not a database, unreadable), everything else maps as usual.
fn open_error(path: &Path, err: sqlx::Error) -> StoreError {
    if let Some(code) = sqlite_code(&err) {
        // SQLITE_PERM, SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_CANTOPEN, SQLITE_NOTADB
        if matches!(code, 3 | 8 | 11 | 14 | 26) {
            return StoreError::Config(format!(
                "can't open the SQLite database {}: {err}",
                path.display()
            ));
        }
    }
    db_error(err)
}

//! Keeper's SQLite backend: every SQL statement Keeper runs against SQLite.
//!
//! One file per entity (`settings`, `xp`, `rewards`, `cases`, `escalations`,
//! `users`, `sessions`, `admin`), mirroring `keeper-store-postgres` module for module.
//! This file holds what they share: connecting, migrating, error mapping and the
//! `Store` implementation that delegates to them.
//!
//! # Connections
//!
//! SQLite allows one writer at a time per database file. A pool of writers would
//! fight over that lock and, once `busy_timeout` ran out, hand "database is locked"
//! to a user. So every write goes through **one** writer connection (a pool of at
//! most one, which queues callers fairly), and reads use a small pool of read-only
//! connections that WAL lets run beside the writer without waiting for it.
//! `busy_timeout` stays as a guard against *other processes* (`sqlite3` on the
//! command line, a second Keeper by mistake).
//!
//! Write transactions start with `BEGIN IMMEDIATE`: they take the write lock up
//! front, so a transaction that reads before it writes (settings, case numbers) can
//! never fail halfway with `SQLITE_BUSY` when another process wrote in between.
//!
//! # RETURNING
//!
//! Statements with `RETURNING` are read with `fetch_all` or `execute`, never
//! `fetch_one`/`fetch_optional`: those leave the statement un-reset, the connection
//! keeps its read snapshot, and the WAL can no longer be checkpointed (it was seen
//! growing to 1 GB beside an 80 MB database).

mod admin;
mod cases;
mod escalations;
mod rewards;
mod sessions;
mod settings;
mod users;
mod xp;

use std::{
    borrow::Cow,
    fs,
    io::ErrorKind,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    AwardOutcome, Case, DeletedCounts, EscalationRule, GatewaySession, GuildSettings, LevelReward,
    MemberRank, MemberXp, NewCase, SettingsPatch, Store, StoreError, StoreResult, UserExport,
    XpAward,
};
use sqlx::{
    Sqlite, SqlitePool, Transaction,
    migrate::{Migration, Migrator},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker, UserMarker},
};

pub use admin::SqlitePragmas;

/// The migrations in `migrations/sqlite`, embedded at compile time (`build.rs`
/// makes a new file trigger a rebuild).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The highest schema version this build knows: the version of the newest file in
/// `migrations/sqlite`. A database above it is refused ([`StoreError::SchemaTooNew`]).
pub const SCHEMA_VERSION: i64 = highest_version(&MIGRATOR);

/// The highest migration version this binary knows (same as [`SCHEMA_VERSION`]).
pub fn binary_schema_version() -> i64 {
    SCHEMA_VERSION
}

const fn highest_version(migrator: &Migrator) -> i64 {
    let migrations: &[Migration] = match &migrator.migrations {
        Cow::Borrowed(migrations) => migrations,
        Cow::Owned(_) => panic!("sqlx::migrate!() embeds its migrations as a borrowed slice"),
    };
    let mut highest = 0;
    let mut i = 0;
    while i < migrations.len() {
        if migrations[i].version > highest {
            highest = migrations[i].version;
        }
        i += 1;
    }
    highest
}

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

/// Keeper's store on one SQLite file.
pub struct SqliteStore {
    /// The only connection that writes (a pool of one, so callers queue in order).
    writer: SqlitePool,
    /// Read-only connections; WAL lets them read while the writer writes.
    reader: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Open (creating when missing) and migrate the database.
    ///
    /// Refuses an in-memory URL, a path that can't be created or written
    /// ([`StoreError::Config`], naming the path and the OS reason) and a database
    /// whose schema is newer than this build ([`StoreError::SchemaTooNew`]).
    pub async fn connect(config: &SqliteConfig) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(&config.url).map_err(|e| {
            StoreError::Config(format!(
                "{:?} is not a valid SQLite database URL ({e}); expected sqlite://path/to/keeper.db",
                config.url
            ))
        })?;
        if config.url.contains(":memory:") || config.url.contains("mode=memory") {
            return Err(StoreError::Config(format!(
                "{:?} is an in-memory SQLite database, which would lose everything at exit; \
                 give a file path such as sqlite://keeper.db",
                config.url
            )));
        }
        let path = options.get_filename().to_path_buf();
        check_path(&path)?;

        let writer_options = options
            .clone()
            .read_only(false)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match config.sync {
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
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // Kept open for the life of the store: closing the last connection
            // checkpoints and deletes the WAL, which readers would then recreate.
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A local file has no network to test; a ping per acquire only adds latency.
            .test_before_acquire(false)
            .connect_with(writer_options)
            .await
            .map_err(|e| open_error(&path, e))?;

        if let Err(e) = migrate(&writer).await {
            writer.close().await;
            return Err(e);
        }

        // Opened after the writer, which created the file and switched it to WAL
        // (a persistent property of the file, so readers need not set it).
        let reader_options = options
            .read_only(true)
            .create_if_missing(false)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("cache_size", READER_CACHE_KIB);
        let reader = SqlitePoolOptions::new()
            .max_connections(config.read_connections.max(1))
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(reader_options)
            .await;
        let reader = match reader {
            Ok(reader) => reader,
            Err(e) => {
                writer.close().await;
                return Err(open_error(&path, e));
            }
        };

        Ok(Self {
            writer,
            reader,
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal mode and durability the writer runs with, for `keeper check`.
    pub async fn pragmas(&self) -> StoreResult<SqlitePragmas> {
        admin::pragmas(&self.writer).await
    }
}

/// Refuse a newer schema, then apply pending migrations on the writer.
async fn migrate(writer: &SqlitePool) -> StoreResult<()> {
    let mut conn = writer.acquire().await.map_err(error)?;
    let applied = admin::applied_version(&mut conn).await?;
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
        sqlx::migrate::MigrateError::Execute(e) => error(e),
        other => StoreError::Internal(format!("migrating the SQLite database: {other}").into()),
    })
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
    error(err)
}

/// The primary SQLite result code of a database error.
fn sqlite_code(err: &sqlx::Error) -> Option<i32> {
    match err {
        sqlx::Error::Database(db) => db.code()?.parse::<i32>().ok().map(|c| c & 0xff),
        _ => None,
    }
}

/// Map a sqlx error to what the caller can do about it.
pub(crate) fn error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(err),
        sqlx::Error::Configuration(_) => StoreError::Config(err.to_string()),
        sqlx::Error::Database(_) => match sqlite_code(&err) {
            // SQLITE_BUSY, SQLITE_LOCKED (another process holds the file past
            // busy_timeout), SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN:
            // the file or the disk is in the way, nothing was written, later may work.
            Some(5 | 6 | 8 | 10 | 13 | 14) => StoreError::unavailable(err),
            _ => StoreError::internal(err),
        },
        _ => StoreError::internal(err),
    }
}

/// Start a write transaction on the writer, taking the write lock at once.
pub(crate) async fn begin_write(writer: &SqlitePool) -> StoreResult<Transaction<'static, Sqlite>> {
    writer.begin_with("BEGIN IMMEDIATE").await.map_err(error)
}

/// Times are stored as INTEGER milliseconds since the Unix epoch, UTC.
pub(crate) fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The inverse of [`to_ms`].
pub(crate) fn from_ms(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Internal(format!("stored time {ms} ms is out of range").into()))
}

/// [`from_ms`] for nullable columns.
pub(crate) fn from_ms_opt(ms: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    ms.map(from_ms).transpose()
}

/// A value the caller passed that the database can't hold.
pub(crate) fn out_of_range(what: &str) -> StoreError {
    StoreError::Invalid(format!("{what} is out of range."))
}

/// Whether SQLite refused a value for its column type: in a STRICT table an
/// INTEGER sum that overflowed (SQLite turns it into a REAL) lands here.
pub(crate) fn is_datatype_error(err: &sqlx::Error) -> bool {
    // SQLITE_CONSTRAINT_DATATYPE
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("3091"))
}

/// A stored INTEGER that must fit a narrower Rust type (levels, counts).
pub(crate) fn narrow<T: TryFrom<i64>>(value: i64, what: &str) -> StoreResult<T> {
    T::try_from(value)
        .map_err(|_| StoreError::Internal(format!("stored {what} {value} is out of range").into()))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn health_check(&self) -> StoreResult<()> {
        admin::health_check(&self.reader).await
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        admin::schema_version(&self.reader).await
    }

    async fn table_counts(&self) -> StoreResult<Vec<(&'static str, i64)>> {
        admin::table_counts(&self.reader).await
    }

    async fn close(&self) {
        // Readers first: the writer closing last checkpoints the WAL into the
        // database and removes the -wal and -shm files.
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings> {
        settings::settings(&self.reader, guild).await
    }

    async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<GuildSettings> {
        settings::update_settings(&self.writer, guild, patch, at).await
    }

    async fn award_xp(
        &self,
        batch: &[XpAward],
        checkpoints: &[GatewaySession],
    ) -> StoreResult<Vec<AwardOutcome>> {
        xp::award_xp(&self.writer, batch, checkpoints).await
    }

    async fn set_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        xp: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<AwardOutcome> {
        xp::set_xp(&self.writer, guild, user, xp, at).await
    }

    async fn add_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        delta: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<AwardOutcome> {
        xp::add_xp(&self.writer, guild, user, delta, at).await
    }

    async fn reset_xp(&self, guild: Id<GuildMarker>, user: Id<UserMarker>) -> StoreResult<bool> {
        xp::reset_xp(&self.writer, guild, user).await
    }

    async fn reset_guild_xp(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        xp::reset_guild_xp(&self.writer, guild).await
    }

    async fn leaderboard(
        &self,
        guild: Id<GuildMarker>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<MemberXp>> {
        xp::leaderboard(&self.reader, guild, offset, limit).await
    }

    async fn leaderboard_len(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        xp::leaderboard_len(&self.reader, guild).await
    }

    async fn member_rank(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
    ) -> StoreResult<Option<MemberRank>> {
        xp::member_rank(&self.reader, guild, user).await
    }

    async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()> {
        rewards::set_level_reward(&self.writer, guild, level, role).await
    }

    async fn remove_level_reward(&self, guild: Id<GuildMarker>, level: i32) -> StoreResult<bool> {
        rewards::remove_level_reward(&self.writer, guild, level).await
    }

    async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<LevelReward>> {
        rewards::level_rewards(&self.reader, guild).await
    }

    async fn add_case(&self, case: &NewCase) -> StoreResult<Case> {
        cases::add_case(&self.writer, case).await
    }

    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>> {
        cases::case(&self.reader, guild, number).await
    }

    async fn cases(
        &self,
        guild: Id<GuildMarker>,
        target: Option<Id<UserMarker>>,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        cases::cases(&self.reader, guild, target, limit).await
    }

    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Case>> {
        cases::revoke_case(&self.writer, guild, number, by, at).await
    }

    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        cases::clear_warnings(&self.writer, guild, target, by, at).await
    }

    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        cases::active_warnings(&self.reader, guild, target, now).await
    }

    async fn set_escalation(&self, rule: &EscalationRule) -> StoreResult<()> {
        escalations::set_escalation(&self.writer, rule).await
    }

    async fn remove_escalation(&self, guild: Id<GuildMarker>, warnings: i32) -> StoreResult<bool> {
        escalations::remove_escalation(&self.writer, guild, warnings).await
    }

    async fn escalations(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<EscalationRule>> {
        escalations::escalations(&self.reader, guild).await
    }

    async fn export_user(&self, user: Id<UserMarker>) -> StoreResult<UserExport> {
        users::export_user(&self.reader, user).await
    }

    async fn delete_user(&self, user: Id<UserMarker>) -> StoreResult<DeletedCounts> {
        users::delete_user(&self.writer, user).await
    }

    async fn save_session(&self, session: &GatewaySession) -> StoreResult<()> {
        sessions::save_session(&self.writer, session).await
    }

    async fn session(&self, shard_id: u32) -> StoreResult<Option<GatewaySession>> {
        sessions::session(&self.reader, shard_id).await
    }

    async fn delete_session(&self, shard_id: u32) -> StoreResult<()> {
        sessions::delete_session(&self.writer, shard_id).await
    }
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

    #[test]
    fn times_round_trip_in_milliseconds() {
        let at = DateTime::from_timestamp_millis(1_764_000_000_123).unwrap();
        assert_eq!(from_ms(to_ms(at)).unwrap(), at);
    }
}

//! Keeper's PostgreSQL backend: every SQL statement Keeper runs against PostgreSQL.
//!
//! [`PgStore`] implements [`keeper_store::Store`] on a connection pool. The SQL of
//! each entity lives in its own module (settings, xp, rewards, cases, escalations,
//! users, sessions, admin), mirroring `keeper-store-sqlite` file for file; this file
//! holds what they share: configuration, connecting with retries at boot,
//! migrations and the mapping of sqlx errors to [`StoreError`].
//!
//! Every query is a compile-time checked `sqlx` macro (see `sqlx.toml` for the
//! database the checks run against; offline data is in `.sqlx/`).

mod admin;
mod cases;
mod escalations;
mod rewards;
mod sessions;
mod settings;
mod users;
mod xp;

use std::{borrow::Cow, str::FromStr, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    AwardOutcome, Case, DeletedCounts, EscalationRule, GatewaySession, GuildSettings, LevelReward,
    MemberRank, MemberXp, NewCase, SettingsPatch, Store, StoreError, StoreResult, UserExport,
    XpAward,
};
use sqlx::{
    Connection, PgConnection, PgPool,
    migrate::{MigrateError, Migration, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker, UserMarker},
};

/// The migrations of `migrations/postgres`, embedded at compile time (the folder
/// comes from `sqlx.toml`; `build.rs` makes a new file trigger a rebuild).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The schema version this build knows: the highest migration embedded in it.
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

/// Connections in the pool when `KEEPER_PG_POOL` is not set.
pub const DEFAULT_POOL_SIZE: u32 = 10;
/// Connection attempts at boot by default: with the backoff below, about 30 s of
/// waiting for a database that is still starting (as under docker compose).
pub const DEFAULT_CONNECT_ATTEMPTS: u32 = 10;
/// First pause between boot attempts; it doubles after each failure...
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// ...up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// How long one query waits for a free (or new) connection. Short, so that a
/// database that went away answers "unavailable" quickly instead of hanging the
/// command that needed it.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database?options`.
    pub url: String,
    /// Most connections held open at once (`KEEPER_PG_POOL`).
    pub pool_size: u32,
    /// Tries at boot before giving up, with exponential backoff in between
    /// (0.5 s, 1 s, 2 s, then 4 s each).
    pub connect_attempts: u32,
}

impl PgConfig {
    /// A configuration for `url` with the default pool size and boot attempts.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_attempts: DEFAULT_CONNECT_ATTEMPTS,
        }
    }
}

/// The PostgreSQL [`Store`].
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connect (retrying while the server is unreachable), refuse a schema newer
    /// than this build, and apply pending migrations.
    ///
    /// Several processes may call this at once on one database: sqlx's migrator
    /// holds a Postgres advisory lock while it migrates, so exactly one applies each
    /// migration and the others wait, then find it applied.
    pub async fn connect(config: &PgConfig) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(&config.url)
            .map_err(|e| StoreError::Config(format!("the PostgreSQL URL is not valid: {e}")))?;
        if config.pool_size == 0 {
            return Err(StoreError::Config(
                "the PostgreSQL pool size must be at least 1".into(),
            ));
        }
        wait_for_server(&options, config.connect_attempts.max(1)).await?;

        // Lazy: the server just answered, and connections are opened as queries
        // need them (each bounded by ACQUIRE_TIMEOUT).
        let pool = PgPoolOptions::new()
            .max_connections(config.pool_size)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The pool, for benchmarks and tests that seed data in bulk.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn migrate(&self) -> StoreResult<()> {
        // Checked before migrating so that an older binary started against a newer
        // database never touches it (sqlx alone would only notice a missing file).
        if let Some(database) = admin::applied_version(&self.pool).await?
            && database > SCHEMA_VERSION
        {
            return Err(StoreError::SchemaTooNew {
                database,
                binary: SCHEMA_VERSION,
            });
        }
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            // A newer binary migrated between our check and the lock.
            MigrateError::VersionMissing(database) if database > SCHEMA_VERSION => {
                StoreError::SchemaTooNew {
                    database,
                    binary: SCHEMA_VERSION,
                }
            }
            MigrateError::Execute(e) => db_err(e),
            other => StoreError::internal(other),
        })
    }
}

/// Try to open one connection, `attempts` times with backoff, so that a bot started
/// together with its database waits for it instead of failing at once.
async fn wait_for_server(options: &PgConnectOptions, attempts: u32) -> StoreResult<()> {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=attempts {
        let outcome = tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(options))
            .await
            .map_err(|_| StoreError::unavailable(sqlx::Error::PoolTimedOut))
            .and_then(|connected| connected.map_err(db_err));
        let err = match outcome {
            Ok(conn) => {
                // Only a probe; the pool opens its own connections.
                let _ = conn.close().await;
                return Ok(());
            }
            // The cause alone: the final message already says "unavailable".
            Err(StoreError::Unavailable(source)) => source,
            // Wrong password, unknown database...: retrying will not help.
            Err(StoreError::Internal(e)) => return Err(StoreError::Config(connect_refused(e))),
            Err(err) => return Err(err),
        };
        if attempt == attempts {
            return Err(StoreError::Unavailable(
                format!(
                    "could not reach PostgreSQL at {}:{} after {attempts} attempt{}: {err}",
                    options.get_host(),
                    options.get_port(),
                    if attempts == 1 { "" } else { "s" },
                )
                .into(),
            ));
        }
        tracing::warn!(
            host = options.get_host(),
            port = options.get_port(),
            attempt,
            attempts,
            error = %err,
            "PostgreSQL is not answering yet; retrying in {backoff:?}"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    unreachable!("the loop returns on its last attempt")
}

/// The sentence for a server that answered but would not let us in.
fn connect_refused(e: Box<dyn std::error::Error + Send + Sync>) -> String {
    format!(
        "PostgreSQL refused the connection (check the user, password and database name in the URL): {e}"
    )
}

/// Sort a sqlx error by what the caller can do about it.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(e),
        sqlx::Error::Database(ref db) if db.code().is_some_and(|c| is_unavailable_code(&c)) => {
            StoreError::unavailable(e)
        }
        // 22021: PostgreSQL text can't hold U+0000, the only character a Rust
        // string can carry that it refuses.
        sqlx::Error::Database(ref db) if db.code().as_deref() == Some("22021") => {
            StoreError::Invalid("Text can't contain the NUL character (U+0000).".into())
        }
        sqlx::Error::Configuration(_) => {
            StoreError::Config(format!("PostgreSQL configuration: {e}"))
        }
        e => StoreError::internal(e),
    }
}

/// SQLSTATEs meaning the server can't serve us right now: connection exceptions
/// (class 08), shutdown or startup (57P01-57P03) and too many connections (53300).
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P0") || code == "53300"
}

/// A CHECK constraint refused the row (23514): the value was out of its range, told
/// to the person as `message`; any other error is sorted by [`db_err`].
pub(crate) fn check_violation(e: sqlx::Error, message: &str) -> StoreError {
    match e {
        sqlx::Error::Database(ref db) if db.code().as_deref() == Some("23514") => {
            StoreError::Invalid(message.to_owned())
        }
        e => db_err(e),
    }
}

/// A Discord id or counter that doesn't fit the column, as a sentence.
pub(crate) fn out_of_range(what: &str) -> StoreError {
    StoreError::Invalid(format!("{what} is out of range."))
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn health_check(&self) -> StoreResult<()> {
        admin::health_check(&self.pool).await
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        admin::schema_version(&self.pool).await
    }

    async fn table_counts(&self) -> StoreResult<Vec<(&'static str, i64)>> {
        admin::table_counts(&self.pool).await
    }

    async fn advisories(&self) -> StoreResult<Vec<String>> {
        admin::advisories(&self.pool).await
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings> {
        settings::get(&self.pool, guild).await
    }

    async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<GuildSettings> {
        settings::update(&self.pool, guild, patch, at).await
    }

    async fn award_xp(
        &self,
        batch: &[XpAward],
        checkpoints: &[GatewaySession],
    ) -> StoreResult<Vec<AwardOutcome>> {
        xp::award(&self.pool, batch, checkpoints).await
    }

    /// Half the pool: award batches on separate connections run side by side
    /// (1.5x the rows/s with four at once, BENCHMARKS.md), and the other half
    /// stays free for commands.
    fn parallel_writes(&self) -> usize {
        (self.pool.options().get_max_connections() as usize / 2).max(1)
    }

    async fn set_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        xp: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<AwardOutcome> {
        xp::set(&self.pool, guild, user, xp, at).await
    }

    async fn add_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        delta: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<AwardOutcome> {
        xp::add(&self.pool, guild, user, delta, at).await
    }

    async fn reset_xp(&self, guild: Id<GuildMarker>, user: Id<UserMarker>) -> StoreResult<bool> {
        xp::reset(&self.pool, guild, user).await
    }

    async fn reset_guild_xp(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        xp::reset_guild(&self.pool, guild).await
    }

    async fn leaderboard(
        &self,
        guild: Id<GuildMarker>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<MemberXp>> {
        xp::leaderboard(&self.pool, guild, offset, limit).await
    }

    async fn leaderboard_len(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        xp::leaderboard_len(&self.pool, guild).await
    }

    async fn member_rank(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
    ) -> StoreResult<Option<MemberRank>> {
        xp::rank(&self.pool, guild, user).await
    }

    async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()> {
        rewards::set(&self.pool, guild, level, role).await
    }

    async fn remove_level_reward(&self, guild: Id<GuildMarker>, level: i32) -> StoreResult<bool> {
        rewards::remove(&self.pool, guild, level).await
    }

    async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<LevelReward>> {
        rewards::list(&self.pool, guild).await
    }

    async fn add_case(&self, case: &NewCase) -> StoreResult<Case> {
        cases::add(&self.pool, case).await
    }

    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>> {
        cases::get(&self.pool, guild, number).await
    }

    async fn cases(
        &self,
        guild: Id<GuildMarker>,
        target: Option<Id<UserMarker>>,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        cases::list(&self.pool, guild, target, limit).await
    }

    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Case>> {
        cases::revoke(&self.pool, guild, number, by, at).await
    }

    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        cases::clear_warnings(&self.pool, guild, target, by, at).await
    }

    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        cases::active_warnings(&self.pool, guild, target, now).await
    }

    async fn set_escalation(&self, rule: &EscalationRule) -> StoreResult<()> {
        escalations::set(&self.pool, rule).await
    }

    async fn remove_escalation(&self, guild: Id<GuildMarker>, warnings: i32) -> StoreResult<bool> {
        escalations::remove(&self.pool, guild, warnings).await
    }

    async fn escalations(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<EscalationRule>> {
        escalations::list(&self.pool, guild).await
    }

    async fn export_user(&self, user: Id<UserMarker>) -> StoreResult<UserExport> {
        users::export(&self.pool, user).await
    }

    async fn delete_user(&self, user: Id<UserMarker>) -> StoreResult<DeletedCounts> {
        users::delete(&self.pool, user).await
    }

    async fn save_session(&self, session: &GatewaySession) -> StoreResult<()> {
        sessions::save(&self.pool, session).await
    }

    async fn session(&self, shard_id: u32) -> StoreResult<Option<GatewaySession>> {
        sessions::get(&self.pool, shard_id).await
    }

    async fn delete_session(&self, shard_id: u32) -> StoreResult<()> {
        sessions::delete(&self.pool, shard_id).await
    }
}

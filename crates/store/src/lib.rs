//! Keeper's storage interface.
//!
//! This crate holds the [`Store`] trait and the domain types it speaks in, and no SQL:
//! every statement lives in a backend crate (`keeper-store-sqlite`,
//! `keeper-store-postgres`), one module per entity, the two mirroring each other.
//! The bot only ever holds an `Arc<dyn Store>`, so the backend is a run-time choice
//! made from the URL scheme of `DATABASE_URL`.
//!
//! Rules that are pure arithmetic (the level curve, applying a settings patch) live
//! here as plain functions so both backends and the bot agree on them.

mod error;
pub mod levels;
mod settings;
mod types;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{StoreError, StoreResult};
pub use settings::{
    DEFAULT_LEVELUP_MESSAGE, DEFAULT_PREFIX, DEFAULT_WELCOME_MESSAGE, GuildSettings, LevelUpTarget,
    SettingsPatch,
};
pub use types::*;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker, UserMarker},
};

/// Everything Keeper keeps, behind one interface.
///
/// Implementations must be safe to share between every shard task of a process
/// (`Send + Sync`) and, for Postgres, between several processes: every method is
/// atomic on its own, and methods that allocate (case numbers) or accumulate (XP)
/// stay exact under concurrency.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for `keeper check` and logs: `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// A cheap round trip proving the database answers.
    async fn health_check(&self) -> StoreResult<()>;

    /// The highest migration version applied to the database.
    async fn schema_version(&self) -> StoreResult<i64>;

    /// Row counts per table, for `keeper check`.
    async fn table_counts(&self) -> StoreResult<Vec<(&'static str, i64)>>;

    /// What in the database's own configuration an operator should change, one
    /// sentence each; empty when nothing. `keeper check` prints them and `keeper
    /// run` logs them at start-up.
    async fn advisories(&self) -> StoreResult<Vec<String>> {
        Ok(Vec::new())
    }

    /// Close the pool, waiting for connections in use to be returned.
    async fn close(&self);

    // --- guild settings -------------------------------------------------------

    /// The guild's settings; the defaults when the guild has never changed any.
    async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings>;

    /// Apply `patch` atomically (fields left `None` keep their value) and return the
    /// settings as stored afterwards. Invalid combinations (min XP above max XP...)
    /// are refused with [`StoreError::Invalid`] and nothing is written.
    async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<GuildSettings>;

    // --- XP and levels --------------------------------------------------------

    /// Add XP and message counts for a whole batch in one statement, duplicates
    /// within the batch summed. Returns one outcome per distinct (guild, user) with
    /// the level before and after, so callers see level-ups. The `checkpoints` are
    /// written in the same transaction: a gateway sequence number is only stored
    /// together with the awards of the events it covers, so a crash can never
    /// record a sequence whose awards were lost (Discord replays after it on resume).
    async fn award_xp(
        &self,
        batch: &[XpAward],
        checkpoints: &[GatewaySession],
    ) -> StoreResult<Vec<AwardOutcome>>;

    /// How many [`Store::award_xp`] batches are worth writing at the same time.
    /// A backend that can write on several connections at once says how many
    /// (callers then split a batch by shard, each part with its own shard's
    /// checkpoints, so every part stays atomic on its own); the default, 1, means
    /// writes take turns and one batch is best.
    fn parallel_writes(&self) -> usize {
        1
    }

    /// Set a member's total XP (clamped at 0), returning the level change.
    async fn set_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        xp: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<AwardOutcome>;

    /// Add (or, when negative, take away) XP; the total never goes below 0.
    async fn add_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        delta: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<AwardOutcome>;

    /// Forget one member's XP, level and message count in one guild. Returns whether
    /// there was anything to forget.
    async fn reset_xp(&self, guild: Id<GuildMarker>, user: Id<UserMarker>) -> StoreResult<bool>;

    /// Forget every member's XP in one guild; returns how many members were reset.
    async fn reset_guild_xp(&self, guild: Id<GuildMarker>) -> StoreResult<u64>;

    /// One page of the guild's leaderboard: highest XP first, ties by lower user id.
    async fn leaderboard(
        &self,
        guild: Id<GuildMarker>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<MemberXp>>;

    /// How many members of the guild have a row on the leaderboard.
    async fn leaderboard_len(&self, guild: Id<GuildMarker>) -> StoreResult<u64>;

    /// A member's XP and position, `None` if they never earned any.
    async fn member_rank(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
    ) -> StoreResult<Option<MemberRank>>;

    // --- level role rewards ---------------------------------------------------

    /// Grant `role` at `level` (replacing the role of an existing reward at that level).
    async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()>;

    /// Remove the reward at `level`; whether there was one.
    async fn remove_level_reward(&self, guild: Id<GuildMarker>, level: i32) -> StoreResult<bool>;

    /// The guild's rewards, lowest level first.
    async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<LevelReward>>;

    // --- moderation cases -----------------------------------------------------

    /// Record a case; its number is the guild's next, allocated atomically (1, 2,
    /// 3... with no gaps or duplicates even under concurrent moderators).
    async fn add_case(&self, case: &NewCase) -> StoreResult<Case>;

    /// One case by its number.
    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>>;

    /// Cases in a guild, newest first, optionally only those about one user.
    async fn cases(
        &self,
        guild: Id<GuildMarker>,
        target: Option<Id<UserMarker>>,
        limit: u32,
    ) -> StoreResult<Vec<Case>>;

    /// Revoke a case (it stays on record, marked). `None` if there is no such case;
    /// revoking an already revoked case returns it unchanged.
    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Case>>;

    /// Revoke every active warning of `target`; returns how many were revoked.
    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Warnings of `target` that are neither revoked nor expired at `now`.
    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;

    // --- escalation rules -----------------------------------------------------

    /// At `warnings` active warnings, take `action` (replacing any rule at that count).
    async fn set_escalation(&self, rule: &EscalationRule) -> StoreResult<()>;

    /// Remove the rule at `warnings`; whether there was one.
    async fn remove_escalation(&self, guild: Id<GuildMarker>, warnings: i32) -> StoreResult<bool>;

    /// The guild's rules, lowest warning count first.
    async fn escalations(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<EscalationRule>>;

    // --- personal data --------------------------------------------------------

    /// Everything stored about one user, in every guild.
    async fn export_user(&self, user: Id<UserMarker>) -> StoreResult<UserExport>;

    /// Delete the user's XP rows and the cases about them, in every guild. Cases
    /// they issued as a moderator stay: they are the guild's record, not theirs.
    async fn delete_user(&self, user: Id<UserMarker>) -> StoreResult<DeletedCounts>;

    // --- gateway sessions -----------------------------------------------------

    /// Store (insert or replace) one shard's session.
    async fn save_session(&self, session: &GatewaySession) -> StoreResult<()>;

    /// The stored session of one shard.
    async fn session(&self, shard_id: u32) -> StoreResult<Option<GatewaySession>>;

    /// Forget a shard's session (after Discord invalidated it).
    async fn delete_session(&self, shard_id: u32) -> StoreResult<()>;
}

/// TEMPORARY (until the per-entity traits land): the traits callers import.
pub mod prelude {
    pub use crate::Store;
}

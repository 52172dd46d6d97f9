use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, UserMarker},
};

use crate::{
    Applied, AwardOutcome, GatewaySession, LastAward, MemberRank, MemberXp, StoreResult, XpAward,
};

/// Member XP and levels.
///
/// XP accumulates: awards to the same member from concurrent callers (several
/// shard tasks, several Postgres processes) all count, none is lost.
#[async_trait]
pub trait XpStore: Send + Sync {
    /// Add XP and message counts for a whole batch in one statement, duplicates
    /// within the batch summed. Returns one outcome per distinct (guild, user) with
    /// the level before and after, so callers see level-ups. The `checkpoints` are
    /// written in the same transaction: a gateway sequence number is only stored
    /// together with the awards of the events it covers, so a crash can never
    /// record a sequence whose awards were lost (Discord replays after it on resume).
    ///
    /// A batch whose checkpoints are all stored already ([`crate::already_written`])
    /// is not written again and returns no outcomes: a retry after an answer was
    /// lost (a connection gone silent during the commit) counts nothing twice.
    async fn award_xp(
        &self,
        batch: &[XpAward],
        checkpoints: &[GatewaySession],
    ) -> StoreResult<Vec<AwardOutcome>>;

    /// How many [`XpStore::award_xp`] batches are worth writing at the same time.
    /// A backend that can write on several connections at once says how many
    /// (callers then split a batch by shard, each part with its own shard's
    /// checkpoints, so every part stays atomic on its own); the default, 1, means
    /// writes take turns and one batch is best.
    fn parallel_writes(&self) -> usize {
        1
    }

    /// Members whose last award (`last_award_at`) is within their guild's XP
    /// cooldown of `now`, widened by `margin_secs`: everyone whose next message
    /// might still be refused XP. Keeper reads them at start-up, so that the
    /// messages Discord replays after a restart get the decisions the live run
    /// gave them.
    async fn cooling_down(
        &self,
        now: DateTime<Utc>,
        margin_secs: i64,
    ) -> StoreResult<Vec<LastAward>>;

    /// Set a member's total XP (clamped at 0), returning the level change.
    ///
    /// Made for an interaction (`once`), the write happens at most once per
    /// interaction: the interaction is recorded in the write's transaction, and a
    /// second call for it writes nothing and says so ([`Applied::Before`]).
    async fn set_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        xp: i64,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<AwardOutcome>>;

    /// Add (or, when negative, take away) XP; the total never goes below 0. Once
    /// per interaction, as [`XpStore::set_xp`].
    async fn add_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        delta: i64,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<AwardOutcome>>;

    /// Forget one member's XP, level and message count in one guild: whether
    /// there was anything to forget. Once per interaction, as
    /// [`XpStore::set_xp`].
    async fn reset_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<bool>>;

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
}

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{Delivery, StoreResult};

/// What Discord may deliver twice, remembered so its effect happens once. After a
/// crash, a resumed session replays every event after the stored checkpoint.
/// (Interactions are recorded by the writes made for them: see
/// [`XpStore::set_xp`](crate::XpStore::set_xp).)
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// GUILD_MEMBER_ADD, counted once: true the first time, when the join is
    /// remembered and the guild's stored member count raised by one in the same
    /// transaction; false, and nothing changed, for the same join delivered
    /// again. The same join carries the same `joined_at` (or an older one), or
    /// comes in the same session at or below the last member event counted for
    /// the user (`seen`). A later join (they left and came back) is new.
    async fn count_join(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        joined_at: DateTime<Utc>,
        seen: &Delivery,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// GUILD_MEMBER_REMOVE, counted once: true the first time, when the
    /// departure is remembered and the guild's stored member count lowered by
    /// one (never below 0) in the same transaction; false, and nothing changed,
    /// when it comes in the same session at or below the last member event
    /// counted for the user (a replay, even if they came back since).
    async fn count_leave(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        seen: &Delivery,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Forget the interactions applied before `before` (no session stays
    /// resumable long enough to replay them); how many were forgotten.
    async fn prune_applied(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

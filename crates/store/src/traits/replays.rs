use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::StoreResult;

/// What Discord may deliver twice, remembered so its effect happens once. After a
/// crash, a resumed session replays every event after the stored checkpoint.
/// (Interactions are recorded by the writes made for them: see
/// [`XpStore::set_xp`](crate::XpStore::set_xp).)
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Whether the join of `user` at `joined_at` is new: true, and remembered,
    /// the first time; false for the same join delivered again. A later join
    /// (they left and came back) is new again. Keeper counts and welcomes a join
    /// only when it is new.
    async fn welcome_once(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        joined_at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Forget the interactions applied before `before` (no session stays
    /// resumable long enough to replay them); how many were forgotten.
    async fn prune_applied(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, UserMarker},
};

use crate::{Applied, DeletedCounts, StoreResult, UserExport};

/// Personal data: what a user may ask to see, and to have deleted.
#[async_trait]
pub trait UserDataStore: Send + Sync {
    /// Everything stored about one user, in every guild.
    async fn export_user(&self, user: Id<UserMarker>) -> StoreResult<UserExport>;

    /// Delete the user's XP rows, profiles and the cases about them, in every guild. Cases
    /// they issued as a moderator stay: they are the guild's record, not theirs.
    async fn delete_user(&self, user: Id<UserMarker>) -> StoreResult<DeletedCounts>;

    /// `/mydata delete`: delete the user's XP, levels, message counts and
    /// profiles (names and avatars) in every guild, keeping the cases about them (the guilds' moderation
    /// record). Asked in `guild`, at most once per interaction; the rows
    /// deleted.
    async fn delete_user_xp(
        &self,
        user: Id<UserMarker>,
        guild: Id<GuildMarker>,
        once: Option<Id<InteractionMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<Applied<u64>>;
}

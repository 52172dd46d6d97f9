use async_trait::async_trait;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker},
};

use crate::{LevelReward, StoreResult};

/// Level role rewards: the role a member gets on reaching a level.
#[async_trait]
pub trait RewardStore: Send + Sync {
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
}

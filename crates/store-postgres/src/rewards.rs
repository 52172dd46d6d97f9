//! [`RewardStore`]: level role rewards, (guild, level) -> role.

use async_trait::async_trait;
use keeper_store::{LevelReward, RewardStore, StoreError, StoreResult, id_from_db, id_to_db};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker},
};

use crate::{
    PgStore,
    convert::from_rows,
    error::{check_violation, db_error},
};

/// A `level_rewards` row as stored.
struct RewardRow {
    guild_id: i64,
    level: i32,
    role_id: i64,
}

impl TryFrom<RewardRow> for LevelReward {
    type Error = StoreError;

    fn try_from(r: RewardRow) -> StoreResult<Self> {
        Ok(LevelReward {
            guild_id: id_from_db(r.guild_id)?,
            level: r.level,
            role_id: id_from_db(r.role_id)?,
        })
    }
}

#[async_trait]
impl RewardStore for PgStore {
    async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()> {
        let mut work = self.work().await?;
        sqlx::query!(
            "INSERT INTO level_rewards (guild_id, level, role_id) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id, level) DO UPDATE SET role_id = excluded.role_id",
            id_to_db(guild),
            level,
            id_to_db(role),
        )
        .execute(&mut *work)
        .await
        .map_err(|e| check_violation(e, "A reward level must be 1 or more."))?;
        work.done().await?;
        Ok(())
    }

    async fn remove_level_reward(&self, guild: Id<GuildMarker>, level: i32) -> StoreResult<bool> {
        let mut work = self.work().await?;
        let done = sqlx::query!(
            "DELETE FROM level_rewards WHERE guild_id = $1 AND level = $2",
            id_to_db(guild),
            level,
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<LevelReward>> {
        let mut work = self.work().await?;
        let rows = sqlx::query_as!(
            RewardRow,
            "SELECT guild_id, level, role_id FROM level_rewards WHERE guild_id = $1 ORDER BY level",
            id_to_db(guild),
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        from_rows(rows)
    }
}

//! [`RewardStore`]: level role rewards, (guild, level) -> role.

use async_trait::async_trait;
use keeper_store::{LevelReward, RewardStore, StoreError, StoreResult, id_from_db, id_to_db};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker},
};

use crate::{
    MySqlStore,
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

/// What a person is told about a level the table's CHECK refuses.
const LEVEL_TOO_LOW: &str = "A reward level must be 1 or more.";

#[async_trait]
impl RewardStore for MySqlStore {
    /// One single-row upsert: it can't deadlock, so it runs without a
    /// transaction of its own.
    async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()> {
        if level < 1 {
            return Err(StoreError::Invalid(LEVEL_TOO_LOW.into()));
        }
        sqlx::query!(
            "INSERT INTO level_rewards (guild_id, level, role_id) VALUES (?, ?, ?)
             ON DUPLICATE KEY UPDATE role_id = VALUES(role_id)",
            id_to_db(guild),
            level,
            id_to_db(role)
        )
        .execute(&self.pool)
        .await
        .map_err(|e| check_violation(e, LEVEL_TOO_LOW))?;
        Ok(())
    }

    async fn remove_level_reward(&self, guild: Id<GuildMarker>, level: i32) -> StoreResult<bool> {
        let done = sqlx::query!(
            "DELETE FROM level_rewards WHERE guild_id = ? AND level = ?",
            id_to_db(guild),
            level
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<LevelReward>> {
        let rows = sqlx::query_as!(
            RewardRow,
            "SELECT guild_id, level, role_id FROM level_rewards WHERE guild_id = ? ORDER BY level",
            id_to_db(guild)
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }
}

//! [`RewardStore`]: level role rewards, (guild, level) -> role.

use async_trait::async_trait;
use keeper_store::{LevelReward, RewardStore, StoreError, StoreResult, id_from_db, id_to_db};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker},
};

use crate::{
    SqliteStore,
    convert::{from_rows, narrow},
    error::db_error,
};

/// A `level_rewards` row as stored.
struct RewardRow {
    guild_id: i64,
    level: i64,
    role_id: i64,
}

impl TryFrom<RewardRow> for LevelReward {
    type Error = StoreError;

    fn try_from(r: RewardRow) -> StoreResult<Self> {
        Ok(LevelReward {
            guild_id: id_from_db(r.guild_id)?,
            level: narrow(r.level, "reward level")?,
            role_id: id_from_db(r.role_id)?,
        })
    }
}

#[async_trait]
impl RewardStore for SqliteStore {
    async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()> {
        if level < 1 {
            return Err(StoreError::Invalid(
                "A reward level must be 1 or more.".into(),
            ));
        }
        let (guild_id, role_id) = (id_to_db(guild), id_to_db(role));
        sqlx::query!(
            r#"INSERT INTO level_rewards (guild_id, level, role_id) VALUES (?1, ?2, ?3)
           ON CONFLICT (guild_id, level) DO UPDATE SET role_id = excluded.role_id"#,
            guild_id,
            level,
            role_id
        )
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn remove_level_reward(&self, guild: Id<GuildMarker>, level: i32) -> StoreResult<bool> {
        let guild_id = id_to_db(guild);
        let done = sqlx::query!(
            "DELETE FROM level_rewards WHERE guild_id = ?1 AND level = ?2",
            guild_id,
            level
        )
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<LevelReward>> {
        let guild_id = id_to_db(guild);
        let rows = sqlx::query_as!(
            RewardRow,
            "SELECT guild_id, level, role_id FROM level_rewards WHERE guild_id = ?1 ORDER BY level",
            guild_id
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }
}

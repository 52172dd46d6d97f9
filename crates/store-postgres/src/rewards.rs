//! Level role rewards: (guild, level) -> role.

use keeper_store::{LevelReward, StoreResult, id_from_db, id_to_db};
use sqlx::PgPool;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker},
};

use crate::db_err;

pub(crate) async fn set(
    pool: &PgPool,
    guild: Id<GuildMarker>,
    level: i32,
    role: Id<RoleMarker>,
) -> StoreResult<()> {
    sqlx::query!(
        "INSERT INTO level_rewards (guild_id, level, role_id) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id, level) DO UPDATE SET role_id = excluded.role_id",
        id_to_db(guild),
        level,
        id_to_db(role),
    )
    .execute(pool)
    .await
    .map_err(|e| crate::check_violation(e, "A reward level must be 1 or more."))?;
    Ok(())
}

pub(crate) async fn remove(pool: &PgPool, guild: Id<GuildMarker>, level: i32) -> StoreResult<bool> {
    let done = sqlx::query!(
        "DELETE FROM level_rewards WHERE guild_id = $1 AND level = $2",
        id_to_db(guild),
        level,
    )
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn list(pool: &PgPool, guild: Id<GuildMarker>) -> StoreResult<Vec<LevelReward>> {
    sqlx::query!(
        "SELECT guild_id, level, role_id FROM level_rewards WHERE guild_id = $1 ORDER BY level",
        id_to_db(guild),
    )
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .into_iter()
    .map(|r| {
        Ok(LevelReward {
            guild_id: id_from_db(r.guild_id)?,
            level: r.level,
            role_id: id_from_db(r.role_id)?,
        })
    })
    .collect()
}

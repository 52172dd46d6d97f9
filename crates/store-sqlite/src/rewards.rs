//! Level role rewards: (guild, level) -> role.

use keeper_store::{LevelReward, StoreError, StoreResult, id_from_db, id_to_db};
use sqlx::SqlitePool;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker},
};

use crate::{error, narrow};

pub(crate) async fn set_level_reward(
    writer: &SqlitePool,
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
    .execute(writer)
    .await
    .map_err(error)?;
    Ok(())
}

pub(crate) async fn remove_level_reward(
    writer: &SqlitePool,
    guild: Id<GuildMarker>,
    level: i32,
) -> StoreResult<bool> {
    let guild_id = id_to_db(guild);
    let done = sqlx::query!(
        "DELETE FROM level_rewards WHERE guild_id = ?1 AND level = ?2",
        guild_id,
        level
    )
    .execute(writer)
    .await
    .map_err(error)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn level_rewards(
    reader: &SqlitePool,
    guild: Id<GuildMarker>,
) -> StoreResult<Vec<LevelReward>> {
    let guild_id = id_to_db(guild);
    let rows = sqlx::query!(
        "SELECT guild_id, level, role_id FROM level_rewards WHERE guild_id = ?1 ORDER BY level",
        guild_id
    )
    .fetch_all(reader)
    .await
    .map_err(error)?;
    rows.into_iter()
        .map(|r| {
            Ok(LevelReward {
                guild_id: id_from_db(r.guild_id)?,
                level: narrow(r.level, "reward level")?,
                role_id: id_from_db(r.role_id)?,
            })
        })
        .collect()
}

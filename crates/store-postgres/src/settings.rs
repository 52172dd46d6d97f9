//! Guild settings: one row per guild that ever changed anything.

use chrono::{DateTime, Utc};
use keeper_store::{
    GuildSettings, LevelUpTarget, SettingsPatch, StoreError, StoreResult, id_from_db, id_to_db,
};
use sqlx::PgPool;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::db_err;

/// A `guild_settings` row as stored.
struct Row {
    guild_id: i64,
    prefix: String,
    welcome_channel_id: Option<i64>,
    welcome_message: Option<String>,
    modlog_channel_id: Option<i64>,
    levelup_mode: String,
    levelup_channel_id: Option<i64>,
    levelup_message: Option<String>,
    xp_min: i32,
    xp_max: i32,
    xp_cooldown_secs: i32,
    warn_expiry_secs: Option<i64>,
    dm_on_warn: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn into_settings(self) -> StoreResult<GuildSettings> {
        let levelup = match (self.levelup_mode.as_str(), self.levelup_channel_id) {
            ("off", _) => LevelUpTarget::Off,
            ("here", _) => LevelUpTarget::Here,
            ("channel", Some(channel)) => LevelUpTarget::Channel(id_from_db(channel)?),
            (mode, _) => {
                return Err(StoreError::Internal(
                    format!("guild_settings.levelup_mode {mode:?} is not off, here or channel")
                        .into(),
                ));
            }
        };
        Ok(GuildSettings {
            guild_id: id_from_db(self.guild_id)?,
            prefix: self.prefix,
            welcome_channel: self.welcome_channel_id.map(id_from_db).transpose()?,
            welcome_message: self.welcome_message,
            modlog_channel: self.modlog_channel_id.map(id_from_db).transpose()?,
            levelup,
            levelup_message: self.levelup_message,
            xp_min: self.xp_min,
            xp_max: self.xp_max,
            xp_cooldown_secs: self.xp_cooldown_secs,
            warn_expiry_secs: self.warn_expiry_secs,
            dm_on_warn: self.dm_on_warn,
            created_at: Some(self.created_at),
            updated_at: Some(self.updated_at),
        })
    }
}

pub(crate) async fn get(pool: &PgPool, guild: Id<GuildMarker>) -> StoreResult<GuildSettings> {
    let row = sqlx::query_as!(
        Row,
        "SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                xp_cooldown_secs, warn_expiry_secs, dm_on_warn, created_at, updated_at
         FROM guild_settings WHERE guild_id = $1",
        id_to_db(guild),
    )
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    match row {
        Some(row) => row.into_settings(),
        None => Ok(GuildSettings::defaults(guild)),
    }
}

/// Read (or create) the row under a lock, apply the patch in Rust with
/// [`GuildSettings::apply`] (one set of rules for both backends), write the whole
/// row back; all in one transaction, so concurrent patches to different fields
/// both survive.
pub(crate) async fn update(
    pool: &PgPool,
    guild: Id<GuildMarker>,
    patch: &SettingsPatch,
    at: DateTime<Utc>,
) -> StoreResult<GuildSettings> {
    let guild_id = id_to_db(guild);
    let mut tx = pool.begin().await.map_err(db_err)?;
    // The column defaults are the defaults of `GuildSettings::defaults`; creating
    // the row first gives `FOR UPDATE` something to lock even for a new guild.
    sqlx::query!(
        "INSERT INTO guild_settings (guild_id, created_at, updated_at) VALUES ($1, $2, $2)
         ON CONFLICT (guild_id) DO NOTHING",
        guild_id,
        at,
    )
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut settings = sqlx::query_as!(
        Row,
        "SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                xp_cooldown_secs, warn_expiry_secs, dm_on_warn, created_at, updated_at
         FROM guild_settings WHERE guild_id = $1 FOR UPDATE",
        guild_id,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?
    .into_settings()?;

    // An invalid patch returns here; dropping `tx` rolls the insert back.
    settings.apply(patch)?;

    let (levelup_mode, levelup_channel_id) = match settings.levelup {
        LevelUpTarget::Off => ("off", None),
        LevelUpTarget::Here => ("here", None),
        LevelUpTarget::Channel(channel) => ("channel", Some(id_to_db(channel))),
    };
    let stored = sqlx::query_as!(
        Row,
        "UPDATE guild_settings SET
            prefix = $2, welcome_channel_id = $3, welcome_message = $4, modlog_channel_id = $5,
            levelup_mode = $6, levelup_channel_id = $7, levelup_message = $8, xp_min = $9,
            xp_max = $10, xp_cooldown_secs = $11, warn_expiry_secs = $12, dm_on_warn = $13,
            updated_at = $14
         WHERE guild_id = $1
         RETURNING guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                   levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                   xp_cooldown_secs, warn_expiry_secs, dm_on_warn, created_at, updated_at",
        guild_id,
        settings.prefix,
        settings.welcome_channel.map(id_to_db),
        settings.welcome_message,
        settings.modlog_channel.map(id_to_db),
        levelup_mode,
        levelup_channel_id,
        settings.levelup_message,
        settings.xp_min,
        settings.xp_max,
        settings.xp_cooldown_secs,
        settings.warn_expiry_secs,
        settings.dm_on_warn,
        at,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    stored.into_settings()
}

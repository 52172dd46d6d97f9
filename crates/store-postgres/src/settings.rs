//! [`SettingsStore`]: one row per guild that ever changed anything; defaults
//! otherwise.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    GuildSettings, LevelUpTarget, SettingsPatch, SettingsStore, StoreError, StoreResult,
    id_from_db, id_to_db,
};
use twilight_model::id::{Id, marker::GuildMarker};

use sqlx::PgConnection;

use crate::{
    PgStore,
    convert::{from_rows, narrow},
    error::db_error,
};

/// A `guild_settings` row as stored.
struct SettingsRow {
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
    rank_card: bool,
    rank_card_accent: Option<i32>,
    web_public: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SettingsRow> for GuildSettings {
    type Error = StoreError;

    fn try_from(r: SettingsRow) -> StoreResult<Self> {
        let levelup = match (r.levelup_mode.as_str(), r.levelup_channel_id) {
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
            guild_id: id_from_db(r.guild_id)?,
            prefix: r.prefix,
            welcome_channel: r.welcome_channel_id.map(id_from_db).transpose()?,
            welcome_message: r.welcome_message,
            modlog_channel: r.modlog_channel_id.map(id_from_db).transpose()?,
            levelup,
            levelup_message: r.levelup_message,
            xp_min: r.xp_min,
            xp_max: r.xp_max,
            xp_cooldown_secs: r.xp_cooldown_secs,
            warn_expiry_secs: r.warn_expiry_secs,
            dm_on_warn: r.dm_on_warn,
            rank_card: r.rank_card,
            rank_card_accent: r
                .rank_card_accent
                .map(|c| narrow(c.into(), "rank_card_accent"))
                .transpose()?,
            web_public: r.web_public,
            created_at: Some(r.created_at),
            updated_at: Some(r.updated_at),
        })
    }
}

#[async_trait]
impl SettingsStore for PgStore {
    async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings> {
        let mut work = self.work().await?;
        let row = sqlx::query_as!(
            SettingsRow,
            "SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                web_public, created_at, updated_at
         FROM guild_settings WHERE guild_id = $1",
            id_to_db(guild),
        )
        .fetch_optional(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        match row {
            Some(row) => row.try_into(),
            None => Ok(GuildSettings::defaults(guild)),
        }
    }

    async fn all_settings(&self) -> StoreResult<Vec<GuildSettings>> {
        let mut work = self.work().await?;
        let rows = sqlx::query_as!(
            SettingsRow,
            "SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                web_public, created_at, updated_at
         FROM guild_settings ORDER BY guild_id",
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        from_rows(rows)
    }

    /// Read (or create) the row under a lock, apply the patch in Rust with
    /// [`GuildSettings::apply`] (one set of rules for both backends), write the whole
    /// row back; all in one transaction, so concurrent patches to different fields
    /// both survive.
    async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<GuildSettings> {
        let mut tx = self.begin_write().await?;
        let mut settings = lock(&mut tx, guild, at).await?;
        // An invalid patch returns here; dropping `tx` rolls the insert back.
        settings.apply(patch)?;
        let stored = save(&mut tx, &settings, at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(stored)
    }
}

/// The guild's settings, its row created first when missing (with the
/// defaults) so that `FOR UPDATE` has something to lock even for a new guild.
pub(crate) async fn lock(
    conn: &mut PgConnection,
    guild: Id<GuildMarker>,
    at: DateTime<Utc>,
) -> StoreResult<GuildSettings> {
    let guild_id = id_to_db(guild);
    // The column defaults are the defaults of `GuildSettings::defaults`.
    sqlx::query!(
        "INSERT INTO guild_settings (guild_id, created_at, updated_at) VALUES ($1, $2, $2)
     ON CONFLICT (guild_id) DO NOTHING",
        guild_id,
        at,
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    sqlx::query_as!(
        SettingsRow,
        "SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
            levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
            xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                web_public, created_at, updated_at
     FROM guild_settings WHERE guild_id = $1 FOR UPDATE",
        guild_id,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?
    .try_into()
}

/// Write `settings` whole over the row [`lock`] holds; what is stored.
pub(crate) async fn save(
    conn: &mut PgConnection,
    settings: &GuildSettings,
    at: DateTime<Utc>,
) -> StoreResult<GuildSettings> {
    let (levelup_mode, levelup_channel_id) = levelup_columns(settings.levelup);
    sqlx::query_as!(
        SettingsRow,
        "UPDATE guild_settings SET
        prefix = $2, welcome_channel_id = $3, welcome_message = $4, modlog_channel_id = $5,
        levelup_mode = $6, levelup_channel_id = $7, levelup_message = $8, xp_min = $9,
        xp_max = $10, xp_cooldown_secs = $11, warn_expiry_secs = $12, dm_on_warn = $13,
        rank_card = $15, rank_card_accent = $16, web_public = $17, updated_at = $14
     WHERE guild_id = $1
     RETURNING guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
               levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
               xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                web_public, created_at, updated_at",
        id_to_db(settings.guild_id),
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
        settings.rank_card,
        settings.rank_card_accent.map(|c| c as i32),
        settings.web_public,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?
    .try_into()
}

/// How a level-up target is stored: the mode, and the channel for `channel`.
fn levelup_columns(target: LevelUpTarget) -> (&'static str, Option<i64>) {
    match target {
        LevelUpTarget::Off => ("off", None),
        LevelUpTarget::Here => ("here", None),
        LevelUpTarget::Channel(channel) => ("channel", Some(id_to_db(channel))),
    }
}

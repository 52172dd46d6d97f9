//! [`SettingsStore`]: one row per guild that changed anything; defaults otherwise.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    GuildSettings, LevelUpTarget, SettingsPatch, SettingsStore, StoreError, StoreResult,
    id_from_db, id_to_db,
};
use sqlx::MySqlConnection;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::{
    MySqlStore,
    convert::{from_ms, from_rows, narrow, to_ms},
    error::{Stop, db_error, retrying},
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
    created_at: i64,
    updated_at: i64,
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
                    format!("stored level-up mode {mode:?} is not valid").into(),
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
            created_at: Some(from_ms(r.created_at)?),
            updated_at: Some(from_ms(r.updated_at)?),
        })
    }
}

/// The guild's settings as stored (the defaults without a row), on a
/// connection: the pool's, or a transaction's.
pub(crate) async fn load(
    conn: &mut MySqlConnection,
    guild: Id<GuildMarker>,
) -> StoreResult<GuildSettings> {
    let row = sqlx::query_as!(
        SettingsRow,
        r#"SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                xp_cooldown_secs, warn_expiry_secs, dm_on_warn AS "dm_on_warn: bool",
                rank_card AS "rank_card: bool", rank_card_accent,
                web_public AS "web_public: bool", created_at, updated_at
         FROM guild_settings WHERE guild_id = ?"#,
        id_to_db(guild)
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    match row {
        Some(row) => row.try_into(),
        None => Ok(GuildSettings::defaults(guild)),
    }
}

/// The guild's settings with its row locked (`FOR UPDATE`) until the
/// transaction ends, the row created first with the defaults when missing:
/// under READ COMMITTED a locking read of an absent row locks nothing (no gap
/// locks), so two first patches of a guild would both start from the defaults
/// and the second would undo the first.
pub(crate) async fn lock(
    conn: &mut MySqlConnection,
    guild: Id<GuildMarker>,
    at: DateTime<Utc>,
) -> Result<GuildSettings, Stop> {
    let (guild_id, at_ms) = (id_to_db(guild), to_ms(at));
    // The column defaults are those of `GuildSettings::defaults`. The no-op
    // update of an existing row takes its lock all the same.
    sqlx::query!(
        "INSERT INTO guild_settings (guild_id, created_at, updated_at) VALUES (?, ?, ?)
         ON DUPLICATE KEY UPDATE guild_id = guild_id",
        guild_id,
        at_ms,
        at_ms
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query_as!(
        SettingsRow,
        r#"SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                xp_cooldown_secs, warn_expiry_secs, dm_on_warn AS "dm_on_warn: bool",
                rank_card AS "rank_card: bool", rank_card_accent,
                web_public AS "web_public: bool", created_at, updated_at
         FROM guild_settings WHERE guild_id = ? FOR UPDATE"#,
        guild_id
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_into()?)
}

#[async_trait]
impl SettingsStore for MySqlStore {
    async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        load(&mut conn, guild).await
    }

    async fn all_settings(&self) -> StoreResult<Vec<GuildSettings>> {
        let rows = sqlx::query_as!(
            SettingsRow,
            r#"SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                    levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                    xp_cooldown_secs, warn_expiry_secs, dm_on_warn AS "dm_on_warn: bool",
                    rank_card AS "rank_card: bool", rank_card_accent,
                    web_public AS "web_public: bool", created_at, updated_at
             FROM guild_settings ORDER BY guild_id"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    /// Lock (or create) the row, patch it in Rust with [`GuildSettings::apply`]
    /// (one set of rules for every backend) and write it back whole, in one
    /// transaction: concurrent patches of different fields wait for each other
    /// and never undo each other.
    async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<GuildSettings> {
        // What is stored is milliseconds; return exactly what a later read will see.
        let at = from_ms(to_ms(at))?;
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            let mut settings = lock(&mut tx, guild, at).await?;
            // An invalid patch returns here; dropping `tx` rolls the new row back.
            settings.apply(patch)?;
            save(&mut tx, &mut settings, at).await?;
            tx.commit().await?;
            Ok(settings)
        })
        .await
    }
}

/// Write `settings` whole (`at` is its update time, and its creation time when
/// it has none yet), in the caller's transaction; an upsert, so it needs no
/// row beforehand (a row [`lock`] holds keeps its creation time).
pub(crate) async fn save(
    conn: &mut MySqlConnection,
    settings: &mut GuildSettings,
    at: DateTime<Utc>,
) -> Result<(), Stop> {
    let created_at = settings.created_at.unwrap_or(at);
    settings.created_at = Some(created_at);
    settings.updated_at = Some(at);

    let (levelup_mode, levelup_channel_id) = levelup_columns(settings.levelup);
    let rank_card_accent = settings.rank_card_accent.map(i64::from);
    sqlx::query!(
        "INSERT INTO guild_settings (
             guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
             levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
             xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
             web_public, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE
             prefix = VALUES(prefix),
             welcome_channel_id = VALUES(welcome_channel_id),
             welcome_message = VALUES(welcome_message),
             modlog_channel_id = VALUES(modlog_channel_id),
             levelup_mode = VALUES(levelup_mode),
             levelup_channel_id = VALUES(levelup_channel_id),
             levelup_message = VALUES(levelup_message),
             xp_min = VALUES(xp_min),
             xp_max = VALUES(xp_max),
             xp_cooldown_secs = VALUES(xp_cooldown_secs),
             warn_expiry_secs = VALUES(warn_expiry_secs),
             dm_on_warn = VALUES(dm_on_warn),
             rank_card = VALUES(rank_card),
             rank_card_accent = VALUES(rank_card_accent),
             web_public = VALUES(web_public),
             updated_at = VALUES(updated_at)",
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
        settings.rank_card,
        rank_card_accent,
        settings.web_public,
        to_ms(created_at),
        to_ms(at),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How a level-up target is stored: the mode, and the channel for `channel`.
fn levelup_columns(target: LevelUpTarget) -> (&'static str, Option<i64>) {
    match target {
        LevelUpTarget::Off => ("off", None),
        LevelUpTarget::Here => ("here", None),
        LevelUpTarget::Channel(channel) => ("channel", Some(id_to_db(channel))),
    }
}

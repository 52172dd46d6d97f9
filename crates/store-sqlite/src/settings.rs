//! [`SettingsStore`]: one row per guild that changed anything; defaults otherwise.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    GuildSettings, LevelUpTarget, SettingsPatch, SettingsStore, StoreError, StoreResult,
    id_from_db, id_to_db,
};
use sqlx::SqliteConnection;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::{
    SqliteStore,
    convert::{from_ms, from_rows, narrow, to_ms},
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
    xp_min: i64,
    xp_max: i64,
    xp_cooldown_secs: i64,
    warn_expiry_secs: Option<i64>,
    dm_on_warn: i64,
    rank_card: i64,
    rank_card_accent: Option<i64>,
    web_public: i64,
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
            xp_min: narrow(r.xp_min, "xp_min")?,
            xp_max: narrow(r.xp_max, "xp_max")?,
            xp_cooldown_secs: narrow(r.xp_cooldown_secs, "xp_cooldown_secs")?,
            warn_expiry_secs: r.warn_expiry_secs,
            dm_on_warn: r.dm_on_warn != 0,
            rank_card: r.rank_card != 0,
            rank_card_accent: r
                .rank_card_accent
                .map(|c| narrow(c, "rank_card_accent"))
                .transpose()?,
            web_public: r.web_public != 0,
            created_at: Some(from_ms(r.created_at)?),
            updated_at: Some(from_ms(r.updated_at)?),
        })
    }
}

pub(crate) async fn load(
    conn: &mut SqliteConnection,
    guild: Id<GuildMarker>,
) -> StoreResult<GuildSettings> {
    let guild_id = id_to_db(guild);
    let rows = sqlx::query_as!(
        SettingsRow,
        r#"SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                  levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                  xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                  web_public, created_at, updated_at
           FROM guild_settings WHERE guild_id = ?1"#,
        guild_id
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    match rows.into_iter().next() {
        Some(row) => row.try_into(),
        None => Ok(GuildSettings::defaults(guild)),
    }
}

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        load(&mut conn, guild).await
    }

    async fn all_settings(&self) -> StoreResult<Vec<GuildSettings>> {
        let rows = sqlx::query_as!(
            SettingsRow,
            r#"SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                  levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                  xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                  web_public, created_at, updated_at
           FROM guild_settings ORDER BY guild_id"#
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    /// Read, patch and write back the whole row in one `BEGIN IMMEDIATE` transaction:
    /// the write lock is held from the read on, so concurrent patches of different
    /// fields never undo each other.
    async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<GuildSettings> {
        // What is stored is milliseconds; return exactly what a later read will see.
        let at = from_ms(to_ms(at))?;
        let mut tx = self.begin_write().await?;
        let mut settings = load(&mut tx, guild).await?;
        settings.apply(patch)?;
        save(&mut tx, &mut settings, at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(settings)
    }
}

/// Write `settings` whole (`at` is its update time, and its creation time when
/// it has none yet), in the caller's transaction.
pub(crate) async fn save(
    conn: &mut SqliteConnection,
    settings: &mut GuildSettings,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let created_at = settings.created_at.unwrap_or(at);
    settings.created_at = Some(created_at);
    settings.updated_at = Some(at);

    let (levelup_mode, levelup_channel_id) = levelup_columns(settings.levelup);
    let guild_id = id_to_db(settings.guild_id);
    let welcome_channel_id = settings.welcome_channel.map(id_to_db);
    let modlog_channel_id = settings.modlog_channel.map(id_to_db);
    let dm_on_warn = i64::from(settings.dm_on_warn);
    let rank_card = i64::from(settings.rank_card);
    let rank_card_accent = settings.rank_card_accent.map(i64::from);
    let web_public = i64::from(settings.web_public);
    let created_ms = to_ms(created_at);
    let updated_ms = to_ms(at);
    sqlx::query!(
        r#"INSERT INTO guild_settings (
           guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
           levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
           xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
           web_public, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
               ?18)
       ON CONFLICT (guild_id) DO UPDATE SET
           prefix = excluded.prefix,
           welcome_channel_id = excluded.welcome_channel_id,
           welcome_message = excluded.welcome_message,
           modlog_channel_id = excluded.modlog_channel_id,
           levelup_mode = excluded.levelup_mode,
           levelup_channel_id = excluded.levelup_channel_id,
           levelup_message = excluded.levelup_message,
           xp_min = excluded.xp_min,
           xp_max = excluded.xp_max,
           xp_cooldown_secs = excluded.xp_cooldown_secs,
           warn_expiry_secs = excluded.warn_expiry_secs,
           dm_on_warn = excluded.dm_on_warn,
           rank_card = excluded.rank_card,
           rank_card_accent = excluded.rank_card_accent,
           web_public = excluded.web_public,
           updated_at = excluded.updated_at"#,
        guild_id,
        settings.prefix,
        welcome_channel_id,
        settings.welcome_message,
        modlog_channel_id,
        levelup_mode,
        levelup_channel_id,
        settings.levelup_message,
        settings.xp_min,
        settings.xp_max,
        settings.xp_cooldown_secs,
        settings.warn_expiry_secs,
        dm_on_warn,
        rank_card,
        rank_card_accent,
        web_public,
        created_ms,
        updated_ms,
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
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

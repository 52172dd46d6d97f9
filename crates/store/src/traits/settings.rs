use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twilight_model::id::{Id, marker::GuildMarker};

use crate::{GuildSettings, SettingsPatch, StoreResult};

/// Each guild's settings.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The guild's settings; the defaults when the guild has never changed any.
    async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings>;

    /// Every guild's stored settings (a guild without a row uses the defaults).
    /// Keeper reads them once at start-up, so that handling a message never waits
    /// on the database to know a guild's rules.
    async fn all_settings(&self) -> StoreResult<Vec<GuildSettings>>;

    /// Apply `patch` atomically (fields left `None` keep their value) and return the
    /// settings as stored afterwards. Invalid combinations (min XP above max XP...)
    /// are refused with [`StoreError::Invalid`](crate::StoreError::Invalid) and
    /// nothing is written.
    async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<GuildSettings>;
}

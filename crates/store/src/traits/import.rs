use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    StoreResult,
    import::{GuildImported, ImportGuild},
};

/// Another bot's data merged into Keeper's: what `keeper import-json` is
/// written against, so that it works on every backend.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Merge `guilds` in one transaction, by the rules of [`crate::import`]:
    /// settings Keeper never had are set, each member's XP becomes the larger of
    /// the two totals (level and leaderboard bucket following it), and warnings
    /// not imported before become cases of source
    /// [`Import`](crate::CaseSource::Import), numbered after the guild's
    /// others, created at their own time or `at`. With `dry_run` the same work
    /// is done and rolled back, so the report is exactly what a real run would
    /// do. On any error nothing is written.
    async fn import_guilds(
        &self,
        guilds: &[ImportGuild],
        at: DateTime<Utc>,
        dry_run: bool,
    ) -> StoreResult<Vec<GuildImported>>;
}

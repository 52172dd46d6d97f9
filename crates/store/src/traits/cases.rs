use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{Case, NewCase, StoreResult};

/// Moderation cases, numbered per guild.
///
/// Numbers are allocated, not computed: they stay exact (no gap, no duplicate)
/// under concurrent moderators, in one process or several.
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Record a case; its number is the guild's next, allocated atomically (1, 2,
    /// 3... with no gaps or duplicates even under concurrent moderators).
    async fn add_case(&self, case: &NewCase) -> StoreResult<Case>;

    /// One case by its number.
    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>>;

    /// Cases in a guild, newest first, optionally only those about one user.
    async fn cases(
        &self,
        guild: Id<GuildMarker>,
        target: Option<Id<UserMarker>>,
        limit: u32,
    ) -> StoreResult<Vec<Case>>;

    /// Revoke a case (it stays on record, marked). `None` if there is no such case;
    /// revoking an already revoked case returns it unchanged.
    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Case>>;

    /// Revoke every active warning of `target`; returns how many were revoked.
    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Warnings of `target` that are neither revoked nor expired at `now`.
    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
}

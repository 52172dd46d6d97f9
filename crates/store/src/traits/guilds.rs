//! [`GuildStore`]: what the gateway told Keeper of each guild.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, RoleMarker, UserMarker},
};

use crate::{Applied, GuildFacts, GuildProfile, GuildRole, StoreResult};

/// What Keeper knows of each guild from the gateway: name, owner, member count,
/// roles and the roles Keeper holds, and when it joined and left. Discord sends
/// GUILD_CREATE after an IDENTIFY but not after a RESUME, so a restart that
/// resumes knows its guilds only from here ([`GuildStore::all_guilds`], read at
/// start-up). Each method is one atomic change; a change to a guild without a
/// row (its GUILD_CREATE was never written) changes nothing but its roles.
#[async_trait]
pub trait GuildStore: Send + Sync {
    /// GUILD_CREATE: the guild's facts whole, its roles replaced (a role gone
    /// while Keeper was away goes), and it is no longer left. `facts.left_at` is
    /// ignored; `facts.joined_at` replaces the stored one only when known.
    async fn save_guild(&self, facts: &GuildFacts, at: DateTime<Utc>) -> StoreResult<()>;

    /// GUILD_UPDATE: the guild's name, icon and owner.
    async fn update_guild(
        &self,
        guild: Id<GuildMarker>,
        name: &str,
        icon: Option<&str>,
        owner: Option<Id<UserMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The guild's name and icon for the web leaderboard, read from the
    /// database (another process may be the one in the guild); `None` when
    /// Keeper never saw it.
    async fn guild_profile(&self, guild: Id<GuildMarker>) -> StoreResult<Option<GuildProfile>>;

    /// GUILD_ROLE_CREATE/UPDATE: one role, added or replaced (whether Keeper
    /// holds it is kept).
    async fn save_role(
        &self,
        guild: Id<GuildMarker>,
        role: &GuildRole,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// GUILD_ROLE_DELETE: one role gone.
    async fn delete_role(
        &self,
        guild: Id<GuildMarker>,
        role: Id<RoleMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Keeper's own member changed (GUILD_MEMBER_UPDATE): the roles it holds,
    /// all others not.
    async fn set_bot_roles(
        &self,
        guild: Id<GuildMarker>,
        roles: &[Id<RoleMarker>],
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Keeper left the guild, or it was deleted (GUILD_DELETE without
    /// `unavailable`), at `at`. The row stays: it says when, for a retention
    /// policy; a later GUILD_CREATE clears it.
    async fn mark_left(&self, guild: Id<GuildMarker>, at: DateTime<Utc>) -> StoreResult<()>;

    /// Every stored guild, left ones included (with `left_at`), with its roles.
    async fn all_guilds(&self) -> StoreResult<Vec<GuildFacts>>;

    /// Guilds Keeper left before `before` (oldest first, at most `limit`):
    /// those whose data the retention policy is due to purge.
    async fn guilds_left_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Id<GuildMarker>>>;

    /// Delete everything Keeper keeps about `guild` (settings, facts, roles,
    /// members' XP and profiles, rewards, cases and their history, escalation rules, joins,
    /// interactions), in one transaction, but only if Keeper left it before
    /// `left_before`: a guild rejoined meanwhile is kept whole. The rows
    /// deleted, or `None` when the guild was not due.
    async fn purge_left_guild(
        &self,
        guild: Id<GuildMarker>,
        left_before: DateTime<Utc>,
    ) -> StoreResult<Option<u64>>;

    /// `/config reset-data`: delete the guild's data (settings, members' XP and profiles,
    /// rewards, cases, their history and numbering, escalation rules, joins) in
    /// one transaction, keeping what the gateway told of it (Keeper is still
    /// there). The rows deleted; at most once per interaction.
    async fn reset_guild_data(
        &self,
        guild: Id<GuildMarker>,
        once: Option<Id<InteractionMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<Applied<u64>>;
}

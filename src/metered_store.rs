//! The store as the bot sees it: every operation of [`Store`] timed into
//! `keeper_database_duration_seconds{operation}`, and its failures counted by
//! kind in `keeper_database_errors{operation,kind}`, whichever backend is behind.
//!
//! A decorator rather than timing in the backends: the store crates know nothing
//! of Prometheus, and one place covers every operation of both backends, by the
//! name of its method. The few methods that are not database work (`backend`,
//! `parallel_writes`, `backup_extension`, `close`) pass straight through.

use std::{
    future::Future,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    import::{GuildImported, ImportGuild},
    transfer::{RowKey, Rows, Table},
    *,
};
use twilight_model::id::{
    Id,
    marker::{
        ChannelMarker, GuildMarker, InteractionMarker, MessageMarker, RoleMarker, UserMarker,
    },
};

use crate::metrics::{Metrics, failure_kind};

/// A [`Store`] whose every operation is measured (see the module's text).
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        work: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let mut timing = Timing {
            metrics: &self.metrics,
            operation,
            started: Instant::now(),
            done: false,
        };
        let result = work.await;
        timing.done = true;
        let kind = result.as_ref().err().map(failure_kind);
        self.metrics
            .database(operation, timing.started.elapsed(), kind);
        result
    }
}

/// Counts an operation whose caller stopped waiting (its future was dropped,
/// as a deadline does) as `abandoned`: a database too slow for a deadline is
/// what an operator most needs to see.
struct Timing<'a> {
    metrics: &'a Metrics,
    operation: &'static str,
    started: Instant,
    done: bool,
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.metrics
                .database(self.operation, self.started.elapsed(), Some("abandoned"));
        }
    }
}

#[async_trait]
impl AdminStore for MeteredStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn health_check(&self) -> StoreResult<()> {
        self.timed("health_check", self.inner.health_check()).await
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        self.timed("schema_version", self.inner.schema_version())
            .await
    }

    async fn table_counts(&self) -> StoreResult<Vec<(&'static str, i64)>> {
        self.timed("table_counts", self.inner.table_counts()).await
    }

    async fn advisories(&self) -> StoreResult<Vec<String>> {
        self.timed("advisories", self.inner.advisories()).await
    }

    async fn backup_to(&self, path: &Path) -> StoreResult<()> {
        self.timed("backup_to", self.inner.backup_to(path)).await
    }

    async fn backup_size_hint(&self) -> StoreResult<Option<u64>> {
        self.timed("backup_size_hint", self.inner.backup_size_hint())
            .await
    }

    fn backup_extension(&self) -> &'static str {
        self.inner.backup_extension()
    }

    async fn claim_backup(
        &self,
        period: DateTime<Utc>,
        by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.timed("claim_backup", self.inner.claim_backup(period, by, at))
            .await
    }

    async fn finish_backup(
        &self,
        period: DateTime<Utc>,
        outcome: Result<&str, &str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.timed(
            "finish_backup",
            self.inner.finish_backup(period, outcome, at),
        )
        .await
    }

    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>> {
        self.timed("backup_runs", self.inner.backup_runs(limit))
            .await
    }

    async fn close(&self) {
        self.inner.close().await
    }
}

#[async_trait]
impl SettingsStore for MeteredStore {
    async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings> {
        self.timed("settings", self.inner.settings(guild)).await
    }

    async fn all_settings(&self) -> StoreResult<Vec<GuildSettings>> {
        self.timed("all_settings", self.inner.all_settings()).await
    }

    async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<GuildSettings> {
        self.timed(
            "update_settings",
            self.inner.update_settings(guild, patch, at),
        )
        .await
    }
}

#[async_trait]
impl XpStore for MeteredStore {
    async fn award_xp(
        &self,
        batch: &[XpAward],
        checkpoints: &[GatewaySession],
    ) -> StoreResult<Vec<AwardOutcome>> {
        self.timed("award_xp", self.inner.award_xp(batch, checkpoints))
            .await
    }

    fn parallel_writes(&self) -> usize {
        self.inner.parallel_writes()
    }

    async fn cooling_down(
        &self,
        now: DateTime<Utc>,
        margin_secs: i64,
    ) -> StoreResult<Vec<LastAward>> {
        self.timed("cooling_down", self.inner.cooling_down(now, margin_secs))
            .await
    }

    async fn set_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        xp: i64,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<AwardOutcome>> {
        self.timed("set_xp", self.inner.set_xp(guild, user, xp, at, once))
            .await
    }

    async fn add_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        delta: i64,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<AwardOutcome>> {
        self.timed("add_xp", self.inner.add_xp(guild, user, delta, at, once))
            .await
    }

    async fn reset_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<bool>> {
        self.timed("reset_xp", self.inner.reset_xp(guild, user, at, once))
            .await
    }

    async fn reset_guild_xp(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        self.timed("reset_guild_xp", self.inner.reset_guild_xp(guild))
            .await
    }

    async fn leaderboard(
        &self,
        guild: Id<GuildMarker>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<MemberXp>> {
        self.timed("leaderboard", self.inner.leaderboard(guild, offset, limit))
            .await
    }

    async fn leaderboard_len(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        self.timed("leaderboard_len", self.inner.leaderboard_len(guild))
            .await
    }

    async fn member_rank(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
    ) -> StoreResult<Option<MemberRank>> {
        self.timed("member_rank", self.inner.member_rank(guild, user))
            .await
    }
}

#[async_trait]
impl RewardStore for MeteredStore {
    async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()> {
        self.timed(
            "set_level_reward",
            self.inner.set_level_reward(guild, level, role),
        )
        .await
    }

    async fn remove_level_reward(&self, guild: Id<GuildMarker>, level: i32) -> StoreResult<bool> {
        self.timed(
            "remove_level_reward",
            self.inner.remove_level_reward(guild, level),
        )
        .await
    }

    async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<LevelReward>> {
        self.timed("level_rewards", self.inner.level_rewards(guild))
            .await
    }
}

#[async_trait]
impl CaseStore for MeteredStore {
    async fn add_case(
        &self,
        case: &NewCase,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Case>> {
        self.timed("add_case", self.inner.add_case(case, once))
            .await
    }

    async fn add_warning(
        &self,
        warning: &NewCase,
        now: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Warned>> {
        self.timed("add_warning", self.inner.add_warning(warning, now, once))
            .await
    }

    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>> {
        self.timed("case", self.inner.case(guild, number)).await
    }

    async fn cases(
        &self,
        guild: Id<GuildMarker>,
        target: Option<Id<UserMarker>>,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        self.timed("cases", self.inner.cases(guild, target, limit))
            .await
    }

    async fn member_cases(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<CasePage> {
        self.timed(
            "member_cases",
            self.inner.member_cases(guild, target, now, offset, limit),
        )
        .await
    }

    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Option<Case>>> {
        self.timed(
            "revoke_case",
            self.inner.revoke_case(guild, number, by, at, once),
        )
        .await
    }

    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Vec<Case>>> {
        self.timed(
            "clear_warnings",
            self.inner.clear_warnings(guild, target, by, at, once),
        )
        .await
    }

    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        self.timed(
            "active_warnings",
            self.inner.active_warnings(guild, target, now),
        )
        .await
    }

    async fn amend_reason(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        reason: &str,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Option<Case>>> {
        self.timed(
            "amend_reason",
            self.inner.amend_reason(guild, number, reason, by, at, once),
        )
        .await
    }

    async fn amendments(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Vec<Amendment>> {
        self.timed("amendments", self.inner.amendments(guild, number))
            .await
    }

    async fn set_action_status(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        outcome: ActionOutcome,
    ) -> StoreResult<Option<Case>> {
        self.timed(
            "set_action_status",
            self.inner.set_action_status(guild, number, outcome),
        )
        .await
    }

    async fn pending_actions(&self, limit: u32) -> StoreResult<Vec<Case>> {
        self.timed("pending_actions", self.inner.pending_actions(limit))
            .await
    }

    async fn claim_due_lifts(
        &self,
        now: DateTime<Utc>,
        claimer: &str,
        lease: chrono::Duration,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        self.timed(
            "claim_due_lifts",
            self.inner.claim_due_lifts(now, claimer, lease, limit),
        )
        .await
    }

    async fn finish_lift(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        claimer: &str,
        outcome: LiftOutcome,
    ) -> StoreResult<bool> {
        self.timed(
            "finish_lift",
            self.inner.finish_lift(guild, number, claimer, outcome),
        )
        .await
    }

    async fn cancel_lift(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<bool> {
        self.timed("cancel_lift", self.inner.cancel_lift(guild, number))
            .await
    }

    async fn next_lift_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.timed("next_lift_at", self.inner.next_lift_at()).await
    }

    async fn set_log_message(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        channel: Id<ChannelMarker>,
        message: Id<MessageMarker>,
    ) -> StoreResult<bool> {
        self.timed(
            "set_log_message",
            self.inner.set_log_message(guild, number, channel, message),
        )
        .await
    }

    async fn set_dm_status(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        sent: bool,
    ) -> StoreResult<bool> {
        self.timed(
            "set_dm_status",
            self.inner.set_dm_status(guild, number, sent),
        )
        .await
    }

    async fn record_discord_act(&self, act: &NewCase) -> StoreResult<Option<Case>> {
        self.timed("record_discord_act", self.inner.record_discord_act(act))
            .await
    }

    async fn attribute_discord_act(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        moderator: Id<UserMarker>,
        reason: Option<&str>,
    ) -> StoreResult<Option<Case>> {
        self.timed(
            "attribute_discord_act",
            self.inner
                .attribute_discord_act(guild, number, moderator, reason),
        )
        .await
    }
}

#[async_trait]
impl EscalationStore for MeteredStore {
    async fn set_escalation(&self, rule: &EscalationRule) -> StoreResult<()> {
        self.timed("set_escalation", self.inner.set_escalation(rule))
            .await
    }

    async fn remove_escalation(&self, guild: Id<GuildMarker>, warnings: i32) -> StoreResult<bool> {
        self.timed(
            "remove_escalation",
            self.inner.remove_escalation(guild, warnings),
        )
        .await
    }

    async fn escalations(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<EscalationRule>> {
        self.timed("escalations", self.inner.escalations(guild))
            .await
    }
}

#[async_trait]
impl UserDataStore for MeteredStore {
    async fn export_user(&self, user: Id<UserMarker>) -> StoreResult<UserExport> {
        self.timed("export_user", self.inner.export_user(user))
            .await
    }

    async fn delete_user(&self, user: Id<UserMarker>) -> StoreResult<DeletedCounts> {
        self.timed("delete_user", self.inner.delete_user(user))
            .await
    }

    async fn delete_user_xp(
        &self,
        user: Id<UserMarker>,
        guild: Id<GuildMarker>,
        once: Option<Id<InteractionMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<Applied<u64>> {
        self.timed(
            "delete_user_xp",
            self.inner.delete_user_xp(user, guild, once, at),
        )
        .await
    }
}

#[async_trait]
impl ProfileStore for MeteredStore {
    async fn save_profiles(&self, profiles: &[MemberProfile]) -> StoreResult<u64> {
        self.timed("save_profiles", self.inner.save_profiles(profiles))
            .await
    }

    async fn profiles(
        &self,
        guild: Id<GuildMarker>,
        users: &[Id<UserMarker>],
    ) -> StoreResult<Vec<MemberProfile>> {
        self.timed("profiles", self.inner.profiles(guild, users))
            .await
    }

    async fn search_members(
        &self,
        guild: Id<GuildMarker>,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemberRank>> {
        self.timed(
            "search_members",
            self.inner.search_members(guild, text, limit),
        )
        .await
    }
}

#[async_trait]
impl SessionStore for MeteredStore {
    async fn save_session(&self, session: &GatewaySession) -> StoreResult<()> {
        self.timed("save_session", self.inner.save_session(session))
            .await
    }

    async fn session(&self, shard_id: u32) -> StoreResult<Option<GatewaySession>> {
        self.timed("session", self.inner.session(shard_id)).await
    }

    async fn delete_session(&self, shard_id: u32) -> StoreResult<()> {
        self.timed("delete_session", self.inner.delete_session(shard_id))
            .await
    }

    async fn claim_identify(&self, bucket: u32, window: Duration) -> StoreResult<Option<Duration>> {
        self.timed("claim_identify", self.inner.claim_identify(bucket, window))
            .await
    }
}

#[async_trait]
impl ReplayStore for MeteredStore {
    async fn count_join(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        joined_at: DateTime<Utc>,
        seen: &Delivery,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.timed(
            "count_join",
            self.inner.count_join(guild, user, joined_at, seen, at),
        )
        .await
    }

    async fn count_leave(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        seen: &Delivery,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.timed("count_leave", self.inner.count_leave(guild, user, seen, at))
            .await
    }

    async fn prune_applied(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.timed("prune_applied", self.inner.prune_applied(before))
            .await
    }
}

#[async_trait]
impl GuildStore for MeteredStore {
    async fn save_guild(&self, facts: &GuildFacts, at: DateTime<Utc>) -> StoreResult<()> {
        self.timed("save_guild", self.inner.save_guild(facts, at))
            .await
    }

    async fn update_guild(
        &self,
        guild: Id<GuildMarker>,
        name: &str,
        icon: Option<&str>,
        owner: Option<Id<UserMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.timed(
            "update_guild",
            self.inner.update_guild(guild, name, icon, owner, at),
        )
        .await
    }

    async fn guild_profile(&self, guild: Id<GuildMarker>) -> StoreResult<Option<GuildProfile>> {
        self.timed("guild_profile", self.inner.guild_profile(guild))
            .await
    }

    async fn save_role(
        &self,
        guild: Id<GuildMarker>,
        role: &GuildRole,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.timed("save_role", self.inner.save_role(guild, role, at))
            .await
    }

    async fn delete_role(
        &self,
        guild: Id<GuildMarker>,
        role: Id<RoleMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.timed("delete_role", self.inner.delete_role(guild, role, at))
            .await
    }

    async fn set_bot_roles(
        &self,
        guild: Id<GuildMarker>,
        roles: &[Id<RoleMarker>],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.timed("set_bot_roles", self.inner.set_bot_roles(guild, roles, at))
            .await
    }

    async fn mark_left(&self, guild: Id<GuildMarker>, at: DateTime<Utc>) -> StoreResult<()> {
        self.timed("mark_left", self.inner.mark_left(guild, at))
            .await
    }

    async fn all_guilds(&self) -> StoreResult<Vec<GuildFacts>> {
        self.timed("all_guilds", self.inner.all_guilds()).await
    }

    async fn guilds_left_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Id<GuildMarker>>> {
        self.timed(
            "guilds_left_before",
            self.inner.guilds_left_before(before, limit),
        )
        .await
    }

    async fn purge_left_guild(
        &self,
        guild: Id<GuildMarker>,
        left_before: DateTime<Utc>,
    ) -> StoreResult<Option<u64>> {
        self.timed(
            "purge_left_guild",
            self.inner.purge_left_guild(guild, left_before),
        )
        .await
    }

    async fn reset_guild_data(
        &self,
        guild: Id<GuildMarker>,
        once: Option<Id<InteractionMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<Applied<u64>> {
        self.timed(
            "reset_guild_data",
            self.inner.reset_guild_data(guild, once, at),
        )
        .await
    }
}

#[async_trait]
impl TransferStore for MeteredStore {
    async fn read_rows(
        &self,
        table: Table,
        after: Option<RowKey>,
        limit: u32,
    ) -> StoreResult<Rows> {
        self.timed("read_rows", self.inner.read_rows(table, after, limit))
            .await
    }

    async fn write_rows(&self, rows: &Rows) -> StoreResult<()> {
        self.timed("write_rows", self.inner.write_rows(rows)).await
    }

    async fn clear_all(&self) -> StoreResult<()> {
        self.timed("clear_all", self.inner.clear_all()).await
    }
}

#[async_trait]
impl ImportStore for MeteredStore {
    async fn import_guilds(
        &self,
        guilds: &[ImportGuild],
        at: DateTime<Utc>,
        dry_run: bool,
    ) -> StoreResult<Vec<GuildImported>> {
        self.timed(
            "import_guilds",
            self.inner.import_guilds(guilds, at, dry_run),
        )
        .await
    }
}

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, InteractionMarker, MessageMarker, UserMarker},
};

use crate::{
    ActionOutcome, Amendment, Applied, Case, CasePage, LiftOutcome, NewCase, StoreResult, Warned,
};

/// Moderation cases, numbered per guild, and the state of each act at Discord.
///
/// Numbers are allocated, not computed: they stay exact (no gap, no duplicate)
/// under concurrent moderators, in one process or several. Every write that
/// allocates a number or counts warnings is serialized per guild (PostgreSQL:
/// the guild's `case_counters` row, locked first and held until commit;
/// SQLite: the single writer's `BEGIN IMMEDIATE`), so what it counts includes
/// every earlier committed case.
///
/// Writes made for an interaction (`once`) happen at most once per interaction:
/// the interaction is recorded in the write's transaction, and a second call
/// for it writes nothing and returns [`Applied::Before`].
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Record a case; its number is the guild's next (1, 2, 3... with no gaps
    /// or duplicates even under concurrent moderators). Its action status
    /// follows [`NewCase::action_status`] (an act Keeper has yet to carry out is
    /// pending), and a Keeper ban with an end schedules its lift. At most once
    /// per interaction.
    async fn add_case(
        &self,
        case: &NewCase,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Case>>;

    /// Record a warning and what it triggers, in one transaction: the warning
    /// gets the guild's next number; the target's active warnings at `now` are
    /// counted with it; when that count crossed a rule's `warnings`
    /// ([`crate::escalation_for`] on the guild's rules), the escalation is
    /// recorded too, with the next number ([`crate::EscalationRule::escalation_case`]:
    /// source escalation, `escalated_from` the warning, pending). Two warnings
    /// landing together can't both cross the same count: the count follows the
    /// number allocation. At most once per interaction. A case of another kind
    /// is refused (`Invalid`).
    async fn add_warning(
        &self,
        warning: &NewCase,
        now: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Warned>>;

    /// One case by its number.
    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>>;

    /// Cases in a guild, newest first, optionally only those about one user.
    async fn cases(
        &self,
        guild: Id<GuildMarker>,
        target: Option<Id<UserMarker>>,
        limit: u32,
    ) -> StoreResult<Vec<Case>>;

    /// One page of the cases about `target` (every kind, revoked and expired
    /// ones too), newest first, skipping `offset`; with how many there are in
    /// all and the target's active warnings at `now`, read from one snapshot.
    async fn member_cases(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<CasePage>;

    /// Revoke a case (it stays on record, marked). `None` if there is no such
    /// case; revoking an already revoked case returns it unchanged. At most
    /// once per interaction.
    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Option<Case>>>;

    /// Revoke every warning of `target` still active at `at`; returns the
    /// warnings revoked, as stored after (lowest number first), so their
    /// mod-log messages can be edited. At most once per interaction.
    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Vec<Case>>>;

    /// Warnings of `target` that are neither revoked nor expired at `now` (a
    /// warning stops counting at its `expires_at`).
    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;

    /// Change a case's reason to `reason`, keeping the old one in its history
    /// ([`CaseStore::amendments`]), in one transaction. `None` if there is no
    /// such case. At most once per interaction.
    async fn amend_reason(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        reason: &str,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Option<Case>>>;

    /// A case's reason history, oldest change first.
    async fn amendments(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Vec<Amendment>>;

    /// How a pending act ended at Discord. Only a pending case changes (the
    /// first answer wins: a start-up completion racing the live one can't undo
    /// it); a failed ban's lift is dropped with it. Returns the case as stored
    /// after, `None` when it was not pending (or does not exist).
    async fn set_action_status(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        outcome: ActionOutcome,
    ) -> StoreResult<Option<Case>>;

    /// Every case still pending at Discord, in every guild, oldest first (by
    /// `created_at`, then guild and number), at most `limit`: what a crash left
    /// between recording an act and Discord's answer.
    async fn pending_actions(&self, limit: u32) -> StoreResult<Vec<Case>>;

    /// Claim up to `limit` temporary bans due to be lifted at `now` for
    /// `claimer` (a name unique to the process), until `now + lease`: scheduled
    /// lifts with `expires_at <= now` whose ban is done at Discord and whose
    /// claim is absent or lapsed. Atomic across processes: two claimers at once
    /// get disjoint sets; a claimer that crashed mid-lift loses its claims when
    /// the lease passes and another takes them over (lifting at Discord is
    /// idempotent, [`CaseStore::finish_lift`] records it once). Soonest first.
    async fn claim_due_lifts(
        &self,
        now: DateTime<Utc>,
        claimer: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Case>>;

    /// Record how a claimed lift ended: only by its current claimer, while it
    /// is scheduled. False when the claim was lost (taken over after its lease,
    /// cancelled, or finished already): then nothing is written.
    async fn finish_lift(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        claimer: &str,
        outcome: LiftOutcome,
    ) -> StoreResult<bool>;

    /// Drop a ban's scheduled lift (a moderator unbanned by hand first):
    /// whether one was scheduled.
    async fn cancel_lift(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<bool>;

    /// When the next lift can be claimed (the soonest scheduled lift of a done
    /// ban, or the end of its claim when later), `None` when none is
    /// scheduled: the bot sleeps until then (capped, as a ban becoming done or
    /// recorded by another process moves it).
    async fn next_lift_at(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// Remember the case's mod-log message (replacing one remembered before):
    /// whether the case exists.
    async fn set_log_message(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        channel: Id<ChannelMarker>,
        message: Id<MessageMarker>,
    ) -> StoreResult<bool>;

    /// Remember whether the member was told by DM: whether the case exists.
    async fn set_dm_status(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        sent: bool,
    ) -> StoreResult<bool>;

    /// Record an act a moderator made in Discord's own menus (a ban, unban,
    /// timeout or untimeout seen on the gateway; source discord, done), only
    /// when it changes the target's state as recorded
    /// ([`crate::moderation::discord_act_changes_state`] on their latest case of
    /// the same pair, any source): events may be replayed, and Keeper's own
    /// acts come back as events too (an unban while Keeper holds a claim on
    /// the ban's lift is the echo of that lift: not recorded). An unban also
    /// drops the scheduled lift of the ban it ends. One transaction, serialized per guild like
    /// [`CaseStore::add_warning`]. Returns the case recorded, `None` when
    /// nothing changed; another kind is refused (`Invalid`).
    async fn record_discord_act(&self, act: &NewCase) -> StoreResult<Option<Case>>;

    /// Name who made an act recorded by [`CaseStore::record_discord_act`]
    /// with its moderator unknown, and their reason, once read from the
    /// audit log (the gateway event says neither). Only a case from Discord's
    /// menus whose moderator is still unknown changes: the case as it stands
    /// after, `None` when nothing changed.
    async fn attribute_discord_act(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        moderator: Id<UserMarker>,
        reason: Option<&str>,
    ) -> StoreResult<Option<Case>>;
}

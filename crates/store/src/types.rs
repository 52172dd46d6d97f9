use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use twilight_model::{
    guild::Permissions,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, MessageMarker, RoleMarker, UserMarker},
    },
};

/// `Display` and `FromStr` of an enum stored as a word (`as_str`, `ALL`). A word
/// that names no variant can only come from a corrupt row (the store writes
/// `as_str`), hence `Internal`.
macro_rules! stored_word {
    ($ty:ty, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = crate::StoreError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let message = format!(concat!("unknown ", $what, " {:?}"), s);
                        crate::StoreError::Internal(message.into())
                    })
            }
        }
    };
}

/// Discord ids are u64 but both databases store signed 64-bit integers. The cast
/// is a bit-for-bit reinterpretation, so every u64 (even above `i64::MAX`) makes
/// the round trip exactly; real snowflakes are below 2^63 and stay positive.
pub fn id_to_db<T>(id: Id<T>) -> i64 {
    id.get() as i64
}

/// The inverse of [`id_to_db`]. A zero in the database is not a valid id and is
/// reported as corrupt data rather than panicking.
pub fn id_from_db<T>(value: i64) -> Result<Id<T>, crate::StoreError> {
    Id::new_checked(value as u64).ok_or_else(|| {
        crate::StoreError::Internal("a stored Discord id is 0, which no Discord id can be".into())
    })
}

/// Permission bits are stored as ids are: the u64 bit for bit in a signed 64-bit
/// integer, so every bit Discord may add round-trips.
pub fn permissions_to_db(permissions: Permissions) -> i64 {
    permissions.bits() as i64
}

/// The inverse of [`permissions_to_db`]; bits twilight does not name yet are kept.
pub fn permissions_from_db(value: i64) -> Permissions {
    Permissions::from_bits_retain(value as u64)
}

/// XP earned by one member: what the write-behind buffer hands to
/// [`crate::XpStore::award_xp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XpAward {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    /// XP to add (0 for messages sent during the cooldown).
    pub xp: i64,
    /// Messages to add to the member's count.
    pub messages: i64,
    /// When the member last earned XP (the latest XP-earning message so far,
    /// which is earlier than this batch's messages when they all fell inside the
    /// cooldown); the stored time only ever moves forward. The cooldown counts
    /// from it, after a restart too.
    pub at: DateTime<Utc>,
}

/// What a write made on behalf of an interaction did. Discord may deliver an
/// interaction twice (a resumed session replays it after a crash); its write is
/// applied at most once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied<T> {
    /// Applied now.
    Now(T),
    /// Applied before, for the same interaction: nothing was written this time.
    Before,
}

impl<T> Applied<T> {
    /// What the write did, if it was applied now.
    pub fn now(self) -> Option<T> {
        match self {
            Applied::Now(value) => Some(value),
            Applied::Before => None,
        }
    }
}

/// When a member last earned XP in a guild.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastAward {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    pub at: DateTime<Utc>,
}

/// What an award did to one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AwardOutcome {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    pub xp: i64,
    pub old_level: i32,
    pub new_level: i32,
}

impl AwardOutcome {
    pub fn levelled_up(&self) -> bool {
        self.new_level > self.old_level
    }
}

/// A member's row on the leaderboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberXp {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    pub xp: i64,
    pub level: i32,
    pub messages: i64,
    pub last_award_at: Option<DateTime<Utc>>,
}

/// A member's XP and where it places them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRank {
    pub member: MemberXp,
    /// 1 for the top of the leaderboard.
    pub position: u64,
    /// Members on the guild's leaderboard.
    pub out_of: u64,
}

/// How a member looks in one guild, as Keeper last saw them: what the web
/// leaderboard shows beside their XP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberProfile {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    /// Their name in the guild: nickname, else global display name, else
    /// username.
    pub display_name: String,
    /// Their account's avatar hash on Discord's CDN, `None` for the default.
    pub avatar: Option<String>,
    /// When Keeper saw them so (the message it read the profile from).
    pub seen_at: DateTime<Utc>,
}

/// What the web leaderboard shows of a guild above its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuildProfile {
    pub guild_id: Id<GuildMarker>,
    pub name: String,
    /// The guild's icon hash on Discord's CDN, `None` when it has none.
    pub icon: Option<String>,
}

/// A role granted when a member reaches a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelReward {
    pub guild_id: Id<GuildMarker>,
    pub level: i32,
    pub role_id: Id<RoleMarker>,
}

/// What a moderation case records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    Warn,
    Timeout,
    Kick,
    Ban,
    Unwarn,
    Note,
    /// A timeout lifted before its end.
    Untimeout,
    /// A ban lifted (by hand; a temporary ban's own lift is recorded on the ban).
    Unban,
}

impl CaseKind {
    pub const ALL: [CaseKind; 8] = [
        CaseKind::Warn,
        CaseKind::Timeout,
        CaseKind::Kick,
        CaseKind::Ban,
        CaseKind::Unwarn,
        CaseKind::Note,
        CaseKind::Untimeout,
        CaseKind::Unban,
    ];

    /// The word stored in the database and shown to moderators.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Warn => "warn",
            CaseKind::Timeout => "timeout",
            CaseKind::Kick => "kick",
            CaseKind::Ban => "ban",
            CaseKind::Unwarn => "unwarn",
            CaseKind::Note => "note",
            CaseKind::Untimeout => "untimeout",
            CaseKind::Unban => "unban",
        }
    }

    /// Whether the case is an act Discord carries out (a timeout, kick, ban or
    /// their undoing), as opposed to a record Keeper alone keeps (a warning, its
    /// removal, a note).
    pub fn acts_at_discord(self) -> bool {
        matches!(
            self,
            CaseKind::Timeout
                | CaseKind::Kick
                | CaseKind::Ban
                | CaseKind::Untimeout
                | CaseKind::Unban
        )
    }
}

stored_word!(CaseKind, "case kind");

/// Who made a case's act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseSource {
    /// A moderator, through a Keeper command.
    Keeper,
    /// Keeper itself, when a member reached a rule's number of warnings
    /// ([`Case::escalated_from`] names the warning).
    Escalation,
    /// A moderator in Discord's own menus, recorded from gateway events
    /// ([`crate::CaseStore::record_discord_act`]).
    Discord,
    /// Another bot's record, brought in by `keeper import-json`
    /// ([`crate::ImportStore::import_guilds`]); only warnings so far.
    Import,
}

impl CaseSource {
    pub const ALL: [CaseSource; 4] = [
        CaseSource::Keeper,
        CaseSource::Escalation,
        CaseSource::Discord,
        CaseSource::Import,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseSource::Keeper => "keeper",
            CaseSource::Escalation => "escalation",
            CaseSource::Discord => "discord",
            CaseSource::Import => "import",
        }
    }
}

stored_word!(CaseSource, "case source");

/// Where a case's act is at Discord.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Recorded; Discord has not confirmed it yet. After a crash, what is still
    /// pending is completed or marked failed at start-up
    /// ([`crate::CaseStore::pending_actions`]).
    Pending,
    /// Done at Discord (and every case that is only a record: warnings, notes).
    Done,
    /// Discord refused it ([`Case::action_error`] says what it answered).
    Failed,
}

impl ActionStatus {
    pub const ALL: [ActionStatus; 3] = [
        ActionStatus::Pending,
        ActionStatus::Done,
        ActionStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Done => "done",
            ActionStatus::Failed => "failed",
        }
    }
}

stored_word!(ActionStatus, "action status");

/// How a pending act ended at Discord ([`crate::CaseStore::set_action_status`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionOutcome {
    Done,
    /// What Discord answered.
    Failed(String),
}

/// Where the lift of a temporary ban is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiftStatus {
    /// To be lifted at the ban's `expires_at`.
    Scheduled,
    Lifted,
    /// Discord refused the lift ([`Case::lift_error`]).
    Failed,
}

impl LiftStatus {
    pub const ALL: [LiftStatus; 3] = [
        LiftStatus::Scheduled,
        LiftStatus::Lifted,
        LiftStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LiftStatus::Scheduled => "scheduled",
            LiftStatus::Lifted => "lifted",
            LiftStatus::Failed => "failed",
        }
    }
}

stored_word!(LiftStatus, "lift status");

/// How a claimed lift ended ([`crate::CaseStore::finish_lift`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiftOutcome {
    Lifted {
        at: DateTime<Utc>,
    },
    /// What Discord answered.
    Failed(String),
}

/// Whether a warned member was told by DM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmStatus {
    Sent,
    Failed,
}

impl DmStatus {
    pub const ALL: [DmStatus; 2] = [DmStatus::Sent, DmStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            DmStatus::Sent => "sent",
            DmStatus::Failed => "failed",
        }
    }
}

stored_word!(DmStatus, "DM status");

/// A case about to be recorded; the store gives it its number.
///
/// Its state at Discord follows from it ([`NewCase::action_status`]), and so
/// does a temporary ban's lift ([`NewCase::schedules_lift`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCase {
    pub guild_id: Id<GuildMarker>,
    pub target_id: Id<UserMarker>,
    /// Who made the act; `None` only for an act made in Discord's menus whose
    /// audit log entry Keeper could not read (source [`CaseSource::Discord`]).
    pub moderator_id: Option<Id<UserMarker>>,
    pub kind: CaseKind,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the case stops counting (warnings) or ends (timeouts, temporary
    /// bans); `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    pub source: CaseSource,
    /// The warning that triggered an escalation: `Some` exactly when `source`
    /// is [`CaseSource::Escalation`].
    pub escalated_from: Option<i64>,
    /// How long a timeout or temporary ban was asked to last.
    pub duration_secs: Option<i64>,
}

impl NewCase {
    /// A case made by a Keeper command, with nothing optional set.
    pub fn new(
        guild_id: Id<GuildMarker>,
        target_id: Id<UserMarker>,
        moderator_id: Id<UserMarker>,
        kind: CaseKind,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            guild_id,
            target_id,
            moderator_id: Some(moderator_id),
            kind,
            reason: None,
            created_at,
            expires_at: None,
            source: CaseSource::Keeper,
            escalated_from: None,
            duration_secs: None,
        }
    }

    /// Its state at Discord when recorded: pending for an act Keeper has yet to
    /// carry out (a timeout, kick, ban or their undoing, by a command or an
    /// escalation); done for a record (warnings, notes) and for what a moderator
    /// already did in Discord's menus.
    pub fn action_status(&self) -> ActionStatus {
        if self.kind.acts_at_discord() && self.source != CaseSource::Discord {
            ActionStatus::Pending
        } else {
            ActionStatus::Done
        }
    }

    /// Whether recording it schedules a lift: a ban with an end, made by Keeper
    /// (a ban made in Discord's menus has no end Keeper could know).
    pub fn schedules_lift(&self) -> bool {
        self.kind == CaseKind::Ban
            && self.expires_at.is_some()
            && self.source != CaseSource::Discord
    }
}

/// A recorded moderation case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub guild_id: Id<GuildMarker>,
    /// 1, 2, 3... within the guild.
    pub number: i64,
    pub target_id: Id<UserMarker>,
    /// Who made the act; `None` only for an act made in Discord's menus whose
    /// audit log entry Keeper could not read (source [`CaseSource::Discord`]),
    /// or an imported warning whose file named nobody ([`CaseSource::Import`]).
    pub moderator_id: Option<Id<UserMarker>>,
    pub kind: CaseKind,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Id<UserMarker>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub source: CaseSource,
    pub escalated_from: Option<i64>,
    pub duration_secs: Option<i64>,
    pub action_status: ActionStatus,
    /// What Discord answered, when the act failed.
    pub action_error: Option<String>,
    /// A temporary ban's lift; `None`: no lift (a permanent ban, any other
    /// case, or a lift cancelled by a hand unban).
    pub lift_status: Option<LiftStatus>,
    pub lift_error: Option<String>,
    /// The process lifting the ban now, and until when its claim holds.
    pub lift_claimed_by: Option<String>,
    pub lift_claimed_until: Option<DateTime<Utc>>,
    pub lifted_at: Option<DateTime<Utc>>,
    /// The case's message in the mod-log, edited when the case changes.
    pub log_channel_id: Option<Id<ChannelMarker>>,
    pub log_message_id: Option<Id<MessageMarker>>,
    /// For a warning: whether the member was told by DM (`None`: not tried).
    pub dm_status: Option<DmStatus>,
}

impl Case {
    /// `new` as the store records it under `number`: its state at Discord and
    /// a temporary ban's lift follow from it ([`NewCase::action_status`],
    /// [`NewCase::schedules_lift`]), and nothing has happened to it yet (no
    /// revocation, no mod-log message, no DM).
    pub fn recorded(new: NewCase, number: i64) -> Self {
        let action_status = new.action_status();
        let lift_status = new.schedules_lift().then_some(LiftStatus::Scheduled);
        Self {
            guild_id: new.guild_id,
            number,
            target_id: new.target_id,
            moderator_id: new.moderator_id,
            kind: new.kind,
            reason: new.reason,
            created_at: new.created_at,
            expires_at: new.expires_at,
            revoked_by: None,
            revoked_at: None,
            source: new.source,
            escalated_from: new.escalated_from,
            duration_secs: new.duration_secs,
            action_status,
            action_error: None,
            lift_status,
            lift_error: None,
            lift_claimed_by: None,
            lift_claimed_until: None,
            lifted_at: None,
            log_channel_id: None,
            log_message_id: None,
            dm_status: None,
        }
    }
}

/// What [`crate::CaseStore::add_warning`] recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warned {
    pub warning: Case,
    /// The target's active warnings after this one.
    pub active: i64,
    /// The escalation this warning triggered, recorded in the same transaction
    /// (pending: Keeper has yet to carry it out).
    pub escalation: Option<Case>,
}

/// One page of a member's cases ([`crate::CaseStore::member_cases`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CasePage {
    /// Newest first.
    pub cases: Vec<Case>,
    /// Every case about the member (for "page x of y").
    pub total: u64,
    /// Their warnings neither revoked nor expired at the time asked.
    pub active_warnings: i64,
}

/// One change of a case's reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    pub guild_id: Id<GuildMarker>,
    pub case_number: i64,
    /// 1, 2, 3... per case, in the order they were made.
    pub number: i64,
    pub amended_at: DateTime<Utc>,
    pub amended_by: Id<UserMarker>,
    pub old_reason: Option<String>,
    pub new_reason: String,
}

/// What happens when a member reaches a number of active warnings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationAction {
    Timeout,
    Kick,
    Ban,
}

impl EscalationAction {
    pub const ALL: [EscalationAction; 3] = [
        EscalationAction::Timeout,
        EscalationAction::Kick,
        EscalationAction::Ban,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EscalationAction::Timeout => "timeout",
            EscalationAction::Kick => "kick",
            EscalationAction::Ban => "ban",
        }
    }
}

stored_word!(EscalationAction, "escalation action");

/// At `warnings` active warnings, take `action` (for a timeout or a temporary
/// ban, for `duration_secs`). [`EscalationRule::validate`] says which rules
/// make sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRule {
    pub guild_id: Id<GuildMarker>,
    pub warnings: i32,
    pub action: EscalationAction,
    pub duration_secs: Option<i64>,
}

/// Everything stored about one user, for a data request. Serialises with ids as
/// strings, as Discord's own JSON does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserExport {
    pub user_id: Id<UserMarker>,
    pub xp: Vec<MemberXp>,
    /// How they looked in each guild (name and avatar), for the web leaderboard.
    #[serde(default)]
    pub profiles: Vec<MemberProfile>,
    /// Cases about the user.
    pub cases: Vec<Case>,
    /// Cases the user issued as a moderator.
    pub moderated: Vec<Case>,
}

/// One period of the scheduled backups (`backup_runs`): who took it, and how
/// it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupRun {
    pub period_start: DateTime<Utc>,
    pub claimed_by: String,
    pub claimed_at: DateTime<Utc>,
    /// When it was written or failed; `None` while under way (or for good if
    /// the process stopped).
    pub finished_at: Option<DateTime<Utc>>,
    pub file: Option<String>,
    pub error: Option<String>,
}

/// What [`crate::UserDataStore::delete_user`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeletedCounts {
    pub xp_rows: u64,
    pub profiles: u64,
    pub cases: u64,
}

/// What a shard needs to resume its gateway session after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewaySession {
    pub shard_id: u32,
    /// The shard count the session was identified with; a session is only resumed
    /// by a shard of the same layout.
    pub shard_total: u32,
    pub session_id: String,
    pub resume_url: String,
    /// The last sequence number whose effects are stored.
    pub sequence: u64,
    pub updated_at: DateTime<Utc>,
}

/// Where the gateway delivered an event: its session and sequence number. A
/// resumed session replays events with the numbers they first had, so an event
/// of the same session at or below one already handled is a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub session_id: String,
    pub sequence: u64,
}

impl GatewaySession {
    /// Whether this stored checkpoint is `other`'s or a later one of the same
    /// session: what `other` covers is then already written.
    pub fn covers(&self, other: &GatewaySession) -> bool {
        self.shard_id == other.shard_id
            && self.session_id == other.session_id
            && self.sequence >= other.sequence
    }
}

/// Whether a batch whose checkpoints are `batch` was written already, given what
/// is `stored` for its shards: it was when it has checkpoints and every one is
/// covered (a checkpoint is stored only with its batch, in one transaction, and
/// every batch after it carries a later one). A retry after a lost answer is
/// recognised so; a batch without checkpoints can't be.
pub fn already_written(batch: &[GatewaySession], stored: &[GatewaySession]) -> bool {
    !batch.is_empty() && batch.iter().all(|c| stored.iter().any(|s| s.covers(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(shard: u32, session: &str, sequence: u64) -> GatewaySession {
        GatewaySession {
            shard_id: shard,
            shard_total: 2,
            session_id: session.into(),
            resume_url: "wss://x".into(),
            sequence,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_batch_is_written_when_every_checkpoint_is_stored_or_passed() {
        let stored = [at(0, "a", 10), at(1, "b", 7)];
        assert!(already_written(&[at(0, "a", 10)], &stored));
        assert!(already_written(&[at(0, "a", 9), at(1, "b", 7)], &stored));
        assert!(
            !already_written(&[at(0, "a", 11)], &stored),
            "a later batch"
        );
        assert!(!already_written(&[at(0, "c", 1)], &stored), "a new session");
        assert!(!already_written(&[at(0, "a", 10), at(1, "b", 8)], &stored));
        assert!(
            !already_written(&[at(2, "a", 1)], &stored),
            "a shard never stored"
        );
        assert!(!already_written(&[], &stored), "nothing tells");
    }

    #[test]
    fn stored_words_round_trip_and_unknown_ones_are_corrupt_data() {
        for kind in CaseKind::ALL {
            assert_eq!(kind.to_string().parse::<CaseKind>().unwrap(), kind);
        }
        for s in CaseSource::ALL {
            assert_eq!(s.to_string().parse::<CaseSource>().unwrap(), s);
        }
        for s in ActionStatus::ALL {
            assert_eq!(s.to_string().parse::<ActionStatus>().unwrap(), s);
        }
        for s in LiftStatus::ALL {
            assert_eq!(s.to_string().parse::<LiftStatus>().unwrap(), s);
        }
        for s in DmStatus::ALL {
            assert_eq!(s.to_string().parse::<DmStatus>().unwrap(), s);
        }
        for action in EscalationAction::ALL {
            assert_eq!(
                action.to_string().parse::<EscalationAction>().unwrap(),
                action
            );
        }
        let err = "mute".parse::<CaseKind>().unwrap_err();
        assert!(matches!(err, crate::StoreError::Internal(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            r#"database error: unknown case kind "mute""#
        );
        let err = "warn".parse::<EscalationAction>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"database error: unknown escalation action "warn""#
        );
    }
}

/// One of a guild's roles, as the gateway described it (GUILD_CREATE, the
/// GUILD_ROLE_* events): what role rewards are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuildRole {
    pub role_id: Id<RoleMarker>,
    pub name: String,
    /// Discord's position: higher outranks lower; equal positions are ordered by
    /// id, the lower id above.
    pub position: i64,
    /// Discord's permission bits.
    pub permissions: Permissions,
    /// Managed by an integration (a bot's own role, the booster role): Discord
    /// lets nobody give it by hand.
    pub managed: bool,
}

/// What Keeper knows of a guild from the gateway, kept so that a restart that
/// resumes (no GUILD_CREATE after a RESUME) still knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuildFacts {
    pub guild_id: Id<GuildMarker>,
    pub name: String,
    /// The guild's icon hash on Discord's CDN, `None` when it has none.
    pub icon: Option<String>,
    pub owner_id: Option<Id<UserMarker>>,
    pub member_count: u64,
    /// Every role, @everyone included (its id is the guild's), in no order.
    pub roles: Vec<GuildRole>,
    /// The roles Keeper itself holds (each one of `roles`).
    pub bot_roles: Vec<Id<RoleMarker>>,
    /// When Keeper joined the guild, when Discord said.
    pub joined_at: Option<DateTime<Utc>>,
    /// When Keeper left it (or it was deleted); `None` while Keeper is in it.
    pub left_at: Option<DateTime<Utc>>,
}

impl GuildFacts {
    /// A guild Keeper knows nothing of yet but its id.
    pub fn unknown(guild_id: Id<GuildMarker>) -> Self {
        Self {
            guild_id,
            name: String::new(),
            icon: None,
            owner_id: None,
            member_count: 0,
            roles: Vec::new(),
            bot_roles: Vec::new(),
            joined_at: None,
            left_at: None,
        }
    }

    pub fn role(&self, role: Id<RoleMarker>) -> Option<&GuildRole> {
        self.roles.iter().find(|r| r.role_id == role)
    }
}

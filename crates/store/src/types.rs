use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use twilight_model::{
    guild::Permissions,
    id::{
        Id,
        marker::{GuildMarker, RoleMarker, UserMarker},
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
}

impl CaseKind {
    pub const ALL: [CaseKind; 6] = [
        CaseKind::Warn,
        CaseKind::Timeout,
        CaseKind::Kick,
        CaseKind::Ban,
        CaseKind::Unwarn,
        CaseKind::Note,
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
        }
    }
}

stored_word!(CaseKind, "case kind");

/// A case about to be recorded; the store gives it its number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCase {
    pub guild_id: Id<GuildMarker>,
    pub target_id: Id<UserMarker>,
    pub moderator_id: Id<UserMarker>,
    pub kind: CaseKind,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the case stops counting (warnings) or ends (timeouts); `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A recorded moderation case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub guild_id: Id<GuildMarker>,
    /// 1, 2, 3... within the guild.
    pub number: i64,
    pub target_id: Id<UserMarker>,
    pub moderator_id: Id<UserMarker>,
    pub kind: CaseKind,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Id<UserMarker>>,
    pub revoked_at: Option<DateTime<Utc>>,
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

/// At `warnings` active warnings, take `action` (for timeouts, for `duration_secs`).
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
    /// Cases about the user.
    pub cases: Vec<Case>,
    /// Cases the user issued as a moderator.
    pub moderated: Vec<Case>,
}

/// What [`crate::UserDataStore::delete_user`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeletedCounts {
    pub xp_rows: u64,
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

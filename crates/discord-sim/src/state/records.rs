//! The world's records beyond the plain models: a guild with what belongs
//! to it, and the interactions sent to the bot.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::model::{ChannelRec, MemberRec, RoleRec};
use crate::permissions;

/// A guild and what belongs to it.
#[derive(Clone, Debug)]
pub struct GuildRec {
    pub id: u64,
    pub name: String,
    pub owner_id: u64,
    /// Roles, @everyone first (its ID is the guild ID).
    pub roles: Vec<RoleRec>,
    pub channels: Vec<u64>,
    pub members: BTreeMap<u64, MemberRec>,
    /// Banned users and the reason given.
    pub bans: BTreeMap<u64, Option<String>>,
    /// The audit log, oldest first (see `moderation.rs`).
    pub audit_log: Vec<super::AuditEntry>,
}

impl GuildRec {
    pub fn role(&self, id: u64) -> Option<&RoleRec> {
        self.roles.iter().find(|r| r.id == id)
    }

    pub fn role_mut(&mut self, id: u64) -> Option<&mut RoleRec> {
        self.roles.iter_mut().find(|r| r.id == id)
    }

    /// Guild-level permissions of `user_id` (0 for non-members).
    pub fn permissions_of(&self, user_id: u64) -> u64 {
        let Some(member) = self.members.get(&user_id) else {
            return 0;
        };
        let everyone = self.role(self.id).map_or(0, |r| r.permissions);
        permissions::compute(
            user_id == self.owner_id,
            everyone,
            member
                .roles
                .iter()
                .filter_map(|r| self.role(*r))
                .map(|r| r.permissions),
        )
    }

    /// Permissions of `user_id` in `channel` (one of this guild's): the
    /// guild's, then the channel's overwrites, as Discord computes them.
    pub fn permissions_in(&self, channel: &ChannelRec, user_id: u64) -> u64 {
        let roles = self
            .members
            .get(&user_id)
            .map_or(&[][..], |m| m.roles.as_slice());
        permissions::in_channel(
            self.permissions_of(user_id),
            self.id,
            user_id,
            roles,
            &channel.permission_overwrites,
        )
    }

    /// Position of the member's highest role (0 = only @everyone); the
    /// owner outranks everyone.
    pub fn top_position(&self, user_id: u64) -> i64 {
        if user_id == self.owner_id {
            return i64::MAX;
        }
        self.members.get(&user_id).map_or(0, |m| {
            m.roles
                .iter()
                .filter_map(|r| self.role(*r))
                .map(|r| r.position)
                .max()
                .unwrap_or(0)
        })
    }
}

/// Where an interaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InteractionState {
    Pending,
    Responded,
    /// No callback within the deadline: the user saw "The application did
    /// not respond".
    Failed,
}

/// An interaction the simulator sent to the bot.
#[derive(Clone, Debug)]
pub struct InteractionRec {
    pub id: u64,
    pub token: String,
    pub guild_id: Option<u64>,
    pub channel_id: u64,
    pub user_id: u64,
    pub command: String,
    pub created: Instant,
    pub state: InteractionState,
    pub original_message: Option<u64>,
    /// Time from dispatch to the first callback.
    pub responded_after: Option<Duration>,
    /// The message flags given with a deferral (type 5): an ephemeral deferral
    /// makes the answer edited in later ephemeral too, as in Discord.
    pub deferred_flags: u64,
    /// The bot deleted `@original` (possibly before it was ever edited in).
    pub original_deleted: bool,
    /// The INTERACTION_CREATE as dispatched, to deliver again unchanged (a
    /// resumed session replays it after a crash).
    pub payload: serde_json::Value,
}

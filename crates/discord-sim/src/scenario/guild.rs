//! A guild and what is made inside it: [`Guild`], [`Role`], [`Channel`].

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use serde_json::json;

use super::{AsUser, Member, Sim, SimError};
use crate::config::intents;
use crate::model::ManagedBy;
use crate::permissions::{Overwrite, OverwriteKind, bits};
use crate::state::{Action, SentMessage};

/// Permissions the bot's role gets in guilds made by [`Sim::guild`]: what a
/// moderation/levelling bot is normally invited with.
pub const DEFAULT_BOT_PERMISSIONS: u64 = bits::VIEW_CHANNEL
    | bits::SEND_MESSAGES
    | bits::EMBED_LINKS
    | bits::ATTACH_FILES
    | bits::READ_MESSAGE_HISTORY
    | bits::MANAGE_MESSAGES
    | bits::MANAGE_ROLES
    | bits::MANAGE_NICKNAMES
    | bits::KICK_MEMBERS
    | bits::BAN_MEMBERS
    | bits::MODERATE_MEMBERS
    | bits::VIEW_AUDIT_LOG
    | bits::USE_APPLICATION_COMMANDS;

/// A guild in the simulation.
#[derive(Clone)]
pub struct Guild {
    pub(super) sim: Sim,
    id: u64,
}

impl Guild {
    pub(super) fn new(sim: Sim, id: u64) -> Self {
        Self { sim, id }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// A new text channel (CHANNEL_CREATE to connected sessions).
    pub fn text_channel(&self, name: &str) -> Channel {
        let gid = self.id;
        let id = self.sim.with_world(|w| {
            let id = w.add_channel(gid, name);
            if let Some(d) = w.channel_json(id) {
                w.dispatch_guild(gid, "CHANNEL_CREATE", intents::GUILDS, &d, None);
            }
            id
        });
        Channel {
            sim: self.sim.clone(),
            id,
            guild_id: Some(gid),
            cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A new role below the bot's role, with `permissions`.
    pub fn role(&self, name: &str, permissions: u64) -> Role {
        self.make_role(name, permissions, None)
    }

    /// A new role above the bot's role (the bot cannot manage it or its
    /// holders, as in Discord).
    pub fn role_above_bot(&self, name: &str, permissions: u64) -> Role {
        self.make_role(name, permissions, Some(1_000))
    }

    /// A new role managed by an integration (`tags.integration_id`), below the
    /// bot's role: nobody can give it by hand.
    pub fn integration_role(&self, name: &str, permissions: u64) -> Role {
        let gid = self.id;
        let id = self.sim.with_world(|w| {
            let integration = Some(ManagedBy::Integration(w.ids.next()));
            w.add_role_dispatched(gid, name, permissions, None, integration)
        });
        Role { id, guild_id: gid }
    }

    fn make_role(&self, name: &str, permissions: u64, position: Option<i64>) -> Role {
        let gid = self.id;
        let id = self
            .sim
            .with_world(|w| w.add_role_dispatched(gid, name, permissions, position, None));
        Role { id, guild_id: gid }
    }

    /// Edit a role (GUILD_ROLE_UPDATE to connected sessions).
    fn edit_role(&self, role: &Role, edit: impl FnOnce(&mut crate::model::RoleRec)) {
        let (gid, rid) = (self.id, role.id);
        self.sim.with_world(|w| {
            let Some(r) = w.guilds.get_mut(&gid).and_then(|g| g.role_mut(rid)) else {
                return;
            };
            edit(r);
            w.dispatch_role(gid, rid, "GUILD_ROLE_UPDATE");
        });
    }

    /// Move a role to `position` (GUILD_ROLE_UPDATE). Other roles keep theirs:
    /// a test that wants a tie or an order sets it.
    pub fn set_role_position(&self, role: &Role, position: i64) {
        self.edit_role(role, |r| r.position = position);
    }

    /// Delete a role (GUILD_ROLE_DELETE; members holding it lose it, as on
    /// Discord, without a GUILD_MEMBER_UPDATE each).
    pub fn delete_role(&self, role: &Role) {
        let (gid, rid) = (self.id, role.id);
        self.sim.with_world(|w| {
            let Some(g) = w.guilds.get_mut(&gid) else {
                return;
            };
            g.roles.retain(|r| r.id != rid);
            for m in g.members.values_mut() {
                m.roles.retain(|r| *r != rid);
            }
            let d = json!({"guild_id": gid.to_string(), "role_id": rid.to_string()});
            w.dispatch_guild(gid, "GUILD_ROLE_DELETE", intents::GUILDS, &d, None);
        });
    }

    /// The bot is removed from the guild (kicked by an admin): GUILD_DELETE
    /// without `unavailable`, which is how Discord tells removal from an
    /// outage. The guild itself lives on, as it does on Discord.
    pub fn remove_bot(&self) {
        let gid = self.id;
        self.sim.with_world(|w| {
            let d = json!({"id": gid.to_string()});
            w.dispatch_guild(gid, "GUILD_DELETE", intents::GUILDS, &d, None);
        });
    }

    /// Rename the guild (GUILD_UPDATE to connected sessions).
    pub fn rename(&self, name: &str) {
        let gid = self.id;
        self.sim.with_world(|w| {
            if let Some(g) = w.guilds.get_mut(&gid) {
                g.name = name.to_owned();
                w.dispatch_guild_update(gid);
            }
        });
    }

    /// The guild's name now.
    pub fn name(&self) -> String {
        self.sim.core().world.lock().guilds[&self.id].name.clone()
    }

    /// How many members the guild has now.
    pub fn member_count(&self) -> usize {
        self.sim.core().world.lock().guilds[&self.id].members.len()
    }

    /// The @everyone role.
    pub fn everyone(&self) -> Role {
        Role {
            id: self.id,
            guild_id: self.id,
        }
    }

    /// Set a role's permissions (e.g. @everyone's): GUILD_ROLE_UPDATE.
    pub fn set_role_permissions(&self, role: &Role, permissions: u64) {
        self.edit_role(role, |r| r.permissions = permissions);
    }

    /// An existing member (no event: they were there before the bot looked).
    pub fn member(&self, name: &str) -> Member {
        let gid = self.id;
        let user_id = self.sim.with_world(|w| {
            let uid = w.add_user(name, false);
            w.add_member(gid, uid);
            uid
        });
        Member::new(self.sim.clone(), gid, user_id)
    }

    /// The guild owner.
    pub fn owner(&self) -> Member {
        let owner = self.sim.core().world.lock().guilds[&self.id].owner_id;
        Member::new(self.sim.clone(), self.id, owner)
    }

    /// The bot's own role (to change its permissions or position).
    pub fn bot_role(&self) -> Role {
        let w = self.sim.core().world.lock();
        let g = &w.guilds[&self.id];
        let id = g.members[&w.bot.id]
            .roles
            .first()
            .copied()
            .unwrap_or(self.id);
        Role {
            id,
            guild_id: self.id,
        }
    }
}

/// A role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Role {
    id: u64,
    guild_id: u64,
}

impl Role {
    pub fn id(&self) -> u64 {
        self.id
    }
    pub fn guild_id(&self) -> u64 {
        self.guild_id
    }
    /// `<@&id>`.
    pub fn mention(&self) -> String {
        format!("<@&{}>", self.id)
    }
}

/// A text channel (guild or DM).
#[derive(Clone)]
pub struct Channel {
    sim: Sim,
    id: u64,
    guild_id: Option<u64>,
    cursor: Arc<AtomicUsize>,
}

impl Channel {
    pub fn id(&self) -> u64 {
        self.id
    }
    pub fn guild_id(&self) -> Option<u64> {
        self.guild_id
    }
    /// `<#id>`.
    pub fn mention(&self) -> String {
        format!("<#{}>", self.id)
    }

    /// The next message the bot posts here (REST, interaction response or
    /// follow-up), in order.
    pub async fn next_message(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        let id = self.id;
        self.sim
            .next_from(
                &self.cursor,
                timeout,
                &format!("a bot message in <#{id}>"),
                |_, a| match a {
                    Action::MessageCreated(m) if m.channel_id == id => Some(m.clone()),
                    _ => None,
                },
            )
            .await
    }

    /// Overwrite `role`'s permissions here (`guild.everyone()` for
    /// @everyone): `allow` and `deny` bits, replacing its previous overwrite.
    /// Connected sessions get CHANNEL_UPDATE.
    pub fn overwrite_role(&self, role: &Role, allow: u64, deny: u64) {
        self.overwrite(role.id(), OverwriteKind::Role, allow, deny);
    }

    /// Overwrite one member's permissions here (the bot's included:
    /// `sim.bot_id()` is a user too, see [`Channel::overwrite_user`]).
    pub fn overwrite_member(&self, member: &impl AsUser, allow: u64, deny: u64) {
        self.overwrite(member.user_id(), OverwriteKind::Member, allow, deny);
    }

    /// Overwrite the permissions of user `user_id` here (e.g. the bot's).
    pub fn overwrite_user(&self, user_id: u64, allow: u64, deny: u64) {
        self.overwrite(user_id, OverwriteKind::Member, allow, deny);
    }

    fn overwrite(&self, id: u64, kind: OverwriteKind, allow: u64, deny: u64) {
        let channel = self.id;
        self.sim.with_world(|w| {
            let Some(c) = w.channels.get_mut(&channel) else {
                return;
            };
            c.permission_overwrites
                .retain(|o| !(o.id == id && o.kind == kind));
            c.permission_overwrites.push(Overwrite {
                id,
                kind,
                allow,
                deny,
            });
            if let (Some(gid), Some(d)) = (c.guild_id, w.channel_json(channel)) {
                w.dispatch_guild(gid, "CHANNEL_UPDATE", intents::GUILDS, &d, None);
            }
        });
    }

    /// Every message here now (the bot's, and members' unless the
    /// simulator keeps none of theirs: `SimConfig::store_messages`), oldest first, as
    /// it stands: its current content and embeds, its author, how many times
    /// it was edited. Deleted ones are gone.
    pub fn messages(&self) -> Vec<SentMessage> {
        let w = self.sim.core().world.lock();
        w.channel_messages
            .get(&self.id)
            .into_iter()
            .flatten()
            .filter_map(|id| w.messages.get(id))
            .map(SentMessage::from_rec)
            .collect()
    }

    /// Message `id` as it stands now (see [`Channel::messages`]), if it is
    /// here.
    pub fn message(&self, id: u64) -> Option<SentMessage> {
        let w = self.sim.core().world.lock();
        w.messages
            .get(&id)
            .filter(|m| m.channel_id == self.id)
            .map(SentMessage::from_rec)
    }

    /// Every message the bot posted here so far, as posted (later edits in
    /// [`Channel::messages`]).
    pub fn bot_messages(&self) -> Vec<SentMessage> {
        self.sim
            .actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::MessageCreated(m) if m.channel_id == self.id => Some(m),
                _ => None,
            })
            .collect()
    }
}

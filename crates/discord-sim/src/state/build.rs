//! World building, as the scenario API and the REST handlers create
//! things: messages, users, guilds, channels, roles, members, DM channels.

use std::collections::BTreeMap;

use super::{GuildRec, World};
use crate::model::{
    ChannelKind, ChannelRec, ManagedBy, MemberRec, MessageRec, RoleRec, UserRec, now_iso,
};
use crate::permissions;

impl World {
    /// A new message ID and timestamp for a message in `channel_id`.
    pub fn new_message(&self, channel_id: u64, author_id: u64, content: String) -> MessageRec {
        let id = self.ids.next();
        MessageRec {
            id,
            channel_id,
            guild_id: self.channels.get(&channel_id).and_then(|c| c.guild_id),
            author_id,
            content,
            embeds: Vec::new(),
            components: Vec::new(),
            attachments: Vec::new(),
            mentions: Vec::new(),
            mention_roles: Vec::new(),
            mention_everyone: false,
            // As on Discord: the message's time is its ID's.
            timestamp: crate::ids::created_at(id)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            edited_timestamp: None,
            edits: 0,
            flags: 0,
            interaction_id: None,
            webhook_id: None,
            kind: 0,
        }
    }

    pub fn add_user(&mut self, name: &str, bot: bool) -> u64 {
        let id = self.ids.next();
        self.users.insert(
            id,
            UserRec {
                id,
                name: name.into(),
                bot,
                blocks_dms: false,
                avatar: None,
            },
        );
        id
    }

    /// Create a guild owned by a fresh user, with @everyone and the bot as a
    /// member holding a "bot" role (position 1, the permissions given).
    pub fn add_guild(&mut self, name: &str, bot_permissions: u64) -> u64 {
        // Spread: guilds made in one burst land on every shard.
        let id = self.ids.next_spread();
        let owner = self.add_user(&format!("{name}-owner"), false);
        let bot_role = self.ids.next();
        let now = now_iso();
        let mut members = BTreeMap::new();
        for (uid, roles) in [(owner, vec![]), (self.bot.id, vec![bot_role])] {
            members.insert(uid, new_member(uid, roles, now.clone()));
        }
        self.guilds.insert(
            id,
            GuildRec {
                id,
                name: name.into(),
                owner_id: owner,
                roles: vec![
                    RoleRec {
                        id,
                        name: "@everyone".into(),
                        permissions: permissions::bits::DEFAULT_EVERYONE,
                        position: 0,
                        color: 0,
                        managed_by: None,
                    },
                    RoleRec {
                        id: bot_role,
                        name: self.bot.name.clone(),
                        permissions: bot_permissions,
                        position: 1,
                        color: 0,
                        // Discord makes a bot's role when it joins, managed.
                        managed_by: Some(ManagedBy::Bot(self.bot.id)),
                    },
                ],
                channels: Vec::new(),
                members,
                bans: BTreeMap::new(),
                audit_log: Vec::new(),
            },
        );
        id
    }

    pub fn add_channel(&mut self, guild_id: u64, name: &str) -> u64 {
        let id = self.ids.next();
        let position = self
            .guilds
            .get(&guild_id)
            .map_or(0, |g| g.channels.len() as i64);
        self.channels.insert(
            id,
            ChannelRec {
                id,
                kind: ChannelKind::GuildText,
                guild_id: Some(guild_id),
                name: name.into(),
                position,
                recipient: None,
                permission_overwrites: Vec::new(),
            },
        );
        if let Some(g) = self.guilds.get_mut(&guild_id) {
            g.channels.push(id);
        }
        id
    }

    /// Create a role just below the bot's own role... unless `position`
    /// says otherwise. Positions above the bot's make the role unmanageable
    /// by the bot, as in Discord.
    pub fn add_role(
        &mut self,
        guild_id: u64,
        name: &str,
        perms: u64,
        position: Option<i64>,
    ) -> u64 {
        let id = self.ids.next();
        if let Some(g) = self.guilds.get_mut(&guild_id) {
            let position = position.unwrap_or_else(|| {
                // New roles go at position 1, pushing others up (Discord).
                for r in g.roles.iter_mut().filter(|r| r.position >= 1) {
                    r.position += 1;
                }
                1
            });
            g.roles.push(RoleRec {
                id,
                name: name.into(),
                permissions: perms,
                position,
                color: 0,
                managed_by: None,
            });
        }
        id
    }

    pub fn add_member(&mut self, guild_id: u64, user_id: u64) {
        if let Some(g) = self.guilds.get_mut(&guild_id) {
            g.members
                .entry(user_id)
                .or_insert_with(|| new_member(user_id, Vec::new(), now_iso()));
        }
    }

    /// The DM channel with `user_id`, created on first use.
    pub fn dm_channel(&mut self, user_id: u64) -> u64 {
        if let Some(c) = self.dm_channels.get(&user_id) {
            return *c;
        }
        let id = self.ids.next();
        self.channels.insert(
            id,
            ChannelRec {
                id,
                kind: ChannelKind::Dm,
                guild_id: None,
                name: String::new(),
                position: 0,
                recipient: Some(user_id),
                permission_overwrites: Vec::new(),
            },
        );
        self.dm_channels.insert(user_id, id);
        id
    }
}

/// A member who just joined: no nickname, no timeout.
fn new_member(user_id: u64, roles: Vec<u64>, joined_at: String) -> MemberRec {
    MemberRec {
        user_id,
        nick: None,
        roles,
        joined_at,
        communication_disabled_until: None,
    }
}

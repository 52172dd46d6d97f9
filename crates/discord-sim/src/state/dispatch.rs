//! Gateway dispatch: which sessions an event goes to, with intent gating,
//! written into each session's log under the world lock.

use serde_json::{Value, json};

use super::World;
use crate::config::intents;
use crate::model::MessageRec;
use crate::session::Session;

/// The intent message events need: GUILD_MESSAGES in a guild, DIRECT_MESSAGES
/// in a DM (`guild_id` is `None`).
fn message_intent(guild_id: Option<u64>) -> u64 {
    match guild_id {
        Some(_) => intents::GUILD_MESSAGES,
        None => intents::DIRECT_MESSAGES,
    }
}

impl World {
    /// Send an event about `guild_id` to the sessions on that guild's shard
    /// that hold the `needed` intents (0 = always sent). `gated`, when given,
    /// replaces `d` for sessions without MESSAGE_CONTENT.
    pub fn dispatch_guild(
        &mut self,
        guild_id: u64,
        t: &str,
        needed: u64,
        d: &Value,
        gated: Option<&Value>,
    ) {
        self.dispatch(Some(guild_id), t, needed, d, gated);
    }

    /// Send an event that belongs to no guild (DMs): Discord sends those to
    /// shard 0.
    pub fn dispatch_dm(&mut self, t: &str, needed: u64, d: &Value, gated: Option<&Value>) {
        self.dispatch(None, t, needed, d, gated);
    }

    /// [`dispatch_guild`](Self::dispatch_guild), or
    /// [`dispatch_dm`](Self::dispatch_dm) when `guild_id` is `None`. Each
    /// version of the payload is serialized once, however many sessions get it.
    fn dispatch(
        &mut self,
        guild_id: Option<u64>,
        t: &str,
        needed: u64,
        d: &Value,
        gated: Option<&Value>,
    ) {
        let limit = self.config.replay_limit;
        let mut full: Option<String> = None;
        let mut redacted: Option<String> = None;
        for s in self.sessions.by_id.values_mut() {
            if !s.serves(guild_id) || s.intents & needed != needed {
                continue;
            }
            let text = match gated {
                Some(g) if s.intents & intents::MESSAGE_CONTENT == 0 => {
                    redacted.get_or_insert_with(|| g.to_string())
                }
                _ => full.get_or_insert_with(|| d.to_string()),
            };
            s.push(t, text, limit);
            self.dispatched += 1;
        }
    }

    /// A message event other than MESSAGE_CREATE (MESSAGE_UPDATE,
    /// MESSAGE_DELETE) in a guild channel or, when `guild_id` is `None`, a DM.
    pub fn dispatch_message_event(&mut self, guild_id: Option<u64>, t: &str, d: &Value) {
        self.dispatch(guild_id, t, message_intent(guild_id), d, None);
    }

    /// Store a message and dispatch MESSAGE_CREATE with intent gating:
    /// guild messages need GUILD_MESSAGES, DMs DIRECT_MESSAGES; without
    /// MESSAGE_CONTENT, content, embeds, attachments and components are
    /// emptied unless the bot is mentioned or is the author (as Discord does).
    pub fn store_and_dispatch_message(&mut self, m: MessageRec) {
        let needed = message_intent(m.guild_id);
        let bot = self.bot.id;
        let exempt = m.author_id == bot || m.mentions.contains(&bot);
        let receives = |s: &Session| s.intents & needed == needed && s.serves(m.guild_id);
        let sees_content = |s: &Session| exempt || s.intents & intents::MESSAGE_CONTENT != 0;
        // Serializing is what a dispatch costs: each version is built once,
        // and only if some session gets it.
        let sessions = || self.sessions.by_id.values().filter(|s| receives(s));
        let wants_full = sessions().any(sees_content);
        let wants_gated = sessions().any(|s| !sees_content(s));
        let full = wants_full.then(|| self.message_create_string(&m));
        let gated = wants_gated.then(|| {
            let mut g = m.clone();
            g.content.clear();
            g.embeds.clear();
            g.attachments.clear();
            g.components.clear();
            self.message_create_string(&g)
        });
        let limit = self.config.replay_limit;
        for s in self.sessions.by_id.values_mut() {
            if !receives(s) {
                continue;
            }
            let text = if sees_content(s) {
                full.as_deref()
            } else {
                gated.as_deref()
            };
            if let Some(text) = text {
                s.push("MESSAGE_CREATE", text, limit);
                self.dispatched += 1;
            }
        }
        // The bot's own are kept whatever the setting: it edits them (a
        // deferred answer is created, then edited in place), as Discord lets it.
        if self.config.store_messages || m.author_id == bot {
            self.channel_messages
                .entry(m.channel_id)
                .or_default()
                .push(m.id);
            self.messages.insert(m.id, m);
        }
    }

    /// GUILD_MEMBER_UPDATE for `user_id` (needs GUILD_MEMBERS).
    /// GUILD_ROLE_CREATE or GUILD_ROLE_UPDATE (`t`): `{guild_id, role}`,
    /// under GUILDS.
    pub fn dispatch_role(&mut self, guild_id: u64, role_id: u64, t: &str) {
        let role = self
            .guilds
            .get(&guild_id)
            .and_then(|g| g.role(role_id))
            .map(crate::model::RoleRec::json);
        if let Some(role) = role {
            let d = json!({"guild_id": guild_id.to_string(), "role": role});
            self.dispatch_guild(guild_id, t, intents::GUILDS, &d, None);
        }
    }

    /// Make a role (see [`World::add_role`]) and tell connected sessions as
    /// Discord does: GUILD_ROLE_CREATE for it, then GUILD_ROLE_UPDATE for every
    /// role its arrival moved up.
    pub fn add_role_dispatched(
        &mut self,
        guild_id: u64,
        name: &str,
        perms: u64,
        position: Option<i64>,
        managed_by: Option<crate::model::ManagedBy>,
    ) -> u64 {
        let positions = |w: &World| -> Vec<(u64, i64)> {
            w.guilds
                .get(&guild_id)
                .map(|g| g.roles.iter().map(|r| (r.id, r.position)).collect())
                .unwrap_or_default()
        };
        let before = positions(self);
        let id = self.add_role(guild_id, name, perms, position);
        if let Some(r) = self.guilds.get_mut(&guild_id).and_then(|g| g.role_mut(id)) {
            r.managed_by = managed_by;
        }
        self.dispatch_role(guild_id, id, "GUILD_ROLE_CREATE");
        for (role, position) in positions(self) {
            if before.iter().any(|(r, p)| *r == role && *p != position) {
                self.dispatch_role(guild_id, role, "GUILD_ROLE_UPDATE");
            }
        }
        id
    }

    /// GUILD_UPDATE: the guild object as `GET /guilds/{id}` returns it (without
    /// GUILD_CREATE's extra fields), under GUILDS.
    pub fn dispatch_guild_update(&mut self, guild_id: u64) {
        if let Some(d) = self.guild_json(guild_id) {
            self.dispatch_guild(guild_id, "GUILD_UPDATE", intents::GUILDS, &d, None);
        }
    }

    pub fn dispatch_member_update(&mut self, guild_id: u64, user_id: u64) {
        self.dispatch_member_event(guild_id, user_id, "GUILD_MEMBER_UPDATE");
    }

    /// An event whose `d` is the member with its `guild_id`
    /// (GUILD_MEMBER_ADD, GUILD_MEMBER_UPDATE; needs GUILD_MEMBERS).
    pub fn dispatch_member_event(&mut self, guild_id: u64, user_id: u64, t: &str) {
        if let Some(mut m) = self.member_json(guild_id, user_id) {
            m["guild_id"] = json!(guild_id.to_string());
            self.dispatch_guild(guild_id, t, intents::GUILD_MEMBERS, &m, None);
        }
    }

    /// An event whose `d` is `{guild_id, user}` (GUILD_MEMBER_REMOVE,
    /// GUILD_BAN_ADD, GUILD_BAN_REMOVE), to sessions holding `needed`.
    pub fn dispatch_guild_user(&mut self, guild_id: u64, user_id: u64, t: &str, needed: u64) {
        if let Some(u) = self.user_json(user_id) {
            let d = json!({"guild_id": guild_id.to_string(), "user": u});
            self.dispatch_guild(guild_id, t, needed, &d, None);
        }
    }
}

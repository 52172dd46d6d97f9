//! The simulated world: guilds, channels, roles, members, users, messages,
//! DMs, interactions, commands, gateway sessions, and the log of everything
//! the bot did.
//!
//! One mutex guards it all. Every state change and the gateway dispatch it
//! causes happen under that lock, so the order of events on a session always
//! matches the order of changes, which is what makes RESUME replay exact.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::config::{SimConfig, intents};
use crate::ids::Snowflakes;
use crate::model::{ChannelKind, ChannelRec, MemberRec, MessageRec, RoleRec, UserRec, now_iso};
use crate::permissions;
use crate::session::Sessions;

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
}

impl GuildRec {
    pub fn role(&self, id: u64) -> Option<&RoleRec> {
        self.roles.iter().find(|r| r.id == id)
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
    pub responded_after: Option<std::time::Duration>,
    /// The message flags given with a deferral (type 5): an ephemeral deferral
    /// makes the answer edited in later ephemeral too, as in Discord.
    pub deferred_flags: u64,
    /// The bot deleted `@original` (possibly before it was ever edited in).
    pub original_deleted: bool,
}

/// A message the bot sent, as a test sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentMessage {
    pub id: u64,
    pub channel_id: u64,
    pub guild_id: Option<u64>,
    pub content: String,
    pub embeds: Vec<Value>,
    pub components: Vec<Value>,
    pub attachments: Vec<crate::model::Attachment>,
    /// Users pinged, after `allowed_mentions` was applied.
    pub mentions: Vec<u64>,
    /// Roles pinged, after `allowed_mentions` was applied.
    pub mention_roles: Vec<u64>,
    pub mention_everyone: bool,
    /// The interaction this message answers, if any.
    pub interaction_id: Option<u64>,
    /// Only the invoking user sees it (flag 64).
    pub ephemeral: bool,
}

impl SentMessage {
    pub(crate) fn from_rec(m: &MessageRec) -> Self {
        Self {
            id: m.id,
            channel_id: m.channel_id,
            guild_id: m.guild_id,
            content: m.content.clone(),
            embeds: m.embeds.clone(),
            components: m.components.clone(),
            attachments: m.attachments.clone(),
            mentions: m.mentions.clone(),
            mention_roles: m.mention_roles.clone(),
            mention_everyone: m.mention_everyone,
            interaction_id: m.interaction_id,
            ephemeral: m.flags & 64 != 0,
        }
    }

    /// Whether `user_id` was pinged.
    pub fn pings(&self, user_id: u64) -> bool {
        self.mentions.contains(&user_id)
    }

    /// Titles, descriptions and field names/values of all embeds, joined:
    /// convenient for `contains` checks.
    pub fn embed_text(&self) -> String {
        let mut out = String::new();
        for e in &self.embeds {
            for key in ["title", "description"] {
                if let Some(s) = e.get(key).and_then(Value::as_str) {
                    out.push_str(s);
                    out.push('\n');
                }
            }
            for f in e
                .get("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for key in ["name", "value"] {
                    if let Some(s) = f.get(key).and_then(Value::as_str) {
                        out.push_str(s);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }
}

/// Something the bot did (or failed to do), in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A message posted by the bot: in a channel, a DM, an interaction
    /// response or a follow-up.
    MessageCreated(SentMessage),
    MessageEdited(SentMessage),
    MessageDeleted {
        channel_id: u64,
        message_id: u64,
    },
    /// The first callback to an interaction (`kind` is the callback type).
    InteractionResponded {
        interaction_id: u64,
        kind: u8,
        data: Value,
    },
    /// No callback arrived within the deadline.
    InteractionFailed {
        interaction_id: u64,
    },
    RoleAdded {
        guild_id: u64,
        user_id: u64,
        role_id: u64,
    },
    RoleRemoved {
        guild_id: u64,
        user_id: u64,
        role_id: u64,
    },
    /// A timeout was set (`Some(until)`) or lifted (`None`).
    TimedOut {
        guild_id: u64,
        user_id: u64,
        until: Option<String>,
    },
    NickChanged {
        guild_id: u64,
        user_id: u64,
        nick: Option<String>,
    },
    Kicked {
        guild_id: u64,
        user_id: u64,
        reason: Option<String>,
    },
    Banned {
        guild_id: u64,
        user_id: u64,
        reason: Option<String>,
        delete_message_seconds: u64,
    },
    Unbanned {
        guild_id: u64,
        user_id: u64,
    },
    CommandsOverwritten {
        guild_id: Option<u64>,
        names: Vec<String>,
    },
    DmOpened {
        user_id: u64,
        channel_id: u64,
    },
    /// A REST call that the simulator refused (status, Discord error code).
    Rejected {
        method: String,
        path: String,
        status: u16,
        code: u32,
    },
}

/// A REST request the bot made.
#[derive(Clone, Debug)]
pub struct RequestRec {
    pub method: String,
    pub path: String,
    /// The route template, e.g. `/api/v10/channels/{channel_id}/messages`.
    pub route: String,
    pub status: u16,
    pub body: Option<Value>,
}

/// Everything the simulator knows.
pub struct World {
    pub config: SimConfig,
    pub ids: Arc<Snowflakes>,
    pub bot: UserRec,
    pub app_id: u64,
    pub users: HashMap<u64, UserRec>,
    pub guilds: BTreeMap<u64, GuildRec>,
    pub channels: HashMap<u64, ChannelRec>,
    pub messages: HashMap<u64, MessageRec>,
    pub channel_messages: HashMap<u64, Vec<u64>>,
    /// DM channel per user.
    pub dm_channels: HashMap<u64, u64>,
    pub interactions: HashMap<u64, InteractionRec>,
    pub interaction_tokens: HashMap<String, u64>,
    pub global_commands: Vec<Value>,
    pub guild_commands: HashMap<u64, Vec<Value>>,
    pub actions: Vec<Action>,
    pub requests: Vec<RequestRec>,
    pub sessions: Sessions,
    /// Total dispatches written to sessions (load statistics).
    pub dispatched: u64,
}

impl World {
    pub fn new(config: SimConfig, ids: Arc<Snowflakes>) -> Self {
        let bot_id = ids.next();
        let bot = UserRec {
            id: bot_id,
            name: config.bot_name.clone(),
            bot: true,
            blocks_dms: false,
        };
        let mut users = HashMap::new();
        users.insert(bot_id, bot.clone());
        Self {
            config,
            app_id: bot_id,
            bot,
            ids,
            users,
            guilds: BTreeMap::new(),
            channels: HashMap::new(),
            messages: HashMap::new(),
            channel_messages: HashMap::new(),
            dm_channels: HashMap::new(),
            interactions: HashMap::new(),
            interaction_tokens: HashMap::new(),
            global_commands: Vec::new(),
            guild_commands: HashMap::new(),
            actions: Vec::new(),
            requests: Vec::new(),
            sessions: Sessions::default(),
            dispatched: 0,
        }
    }

    pub fn user_json(&self, id: u64) -> Option<Value> {
        self.users.get(&id).map(UserRec::json)
    }

    pub fn member_json(&self, guild_id: u64, user_id: u64) -> Option<Value> {
        let g = self.guilds.get(&guild_id)?;
        let m = g.members.get(&user_id)?;
        let u = self.users.get(&user_id)?;
        Some(m.json(u))
    }

    pub fn message_json(&self, m: &MessageRec, with_member: bool) -> Value {
        let member = if with_member {
            m.guild_id
                .and_then(|g| self.member_json(g, m.author_id))
                .map(|mut v| {
                    // MESSAGE_CREATE's member omits `user`.
                    if let Some(o) = v.as_object_mut() {
                        o.remove("user");
                    }
                    v
                })
        } else {
            None
        };
        m.json(&|id| self.user_json(id), member)
    }

    pub fn channel_json(&self, id: u64) -> Option<Value> {
        let c = self.channels.get(&id)?;
        Some(c.json(c.recipient.and_then(|r| self.users.get(&r))))
    }

    /// GUILD_CREATE payload: the guild with channels, roles and members
    /// (members: everyone for small sim guilds, which includes the bot).
    pub fn guild_create_json(&self, guild_id: u64) -> Option<Value> {
        let g = self.guilds.get(&guild_id)?;
        Some(json!({
            "id": g.id.to_string(),
            "name": g.name,
            "icon": null,
            "owner_id": g.owner_id.to_string(),
            "afk_timeout": 300,
            "afk_channel_id": null,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_progress_bar_enabled": false,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "system_channel_id": null,
            "verification_level": 0,
            "emojis": [],
            "stickers": [],
            "roles": g.roles.iter().map(RoleRec::json).collect::<Vec<_>>(),
            "channels": g.channels.iter().filter_map(|c| self.channel_json(*c)).collect::<Vec<_>>(),
            "members": g.members.values().filter_map(|m| self.users.get(&m.user_id).map(|u| m.json(u))).collect::<Vec<_>>(),
            "member_count": g.members.len(),
            "large": g.members.len() > 250,
            "joined_at": g.members.get(&self.bot.id).map(|m| m.joined_at.clone()),
            "unavailable": false,
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }))
    }

    /// Record something the bot did.
    pub fn record(&mut self, action: Action) {
        self.actions.push(action);
    }

    // ----- dispatch -------------------------------------------------------

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
        let limit = self.config.replay_limit;
        let mut full: Option<String> = None;
        let mut redacted: Option<String> = None;
        for s in self.sessions.by_id.values_mut() {
            if !s.serves_guild(guild_id) || s.intents & needed != needed {
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

    /// Send an event that belongs to no guild (DMs): Discord sends those to
    /// shard 0.
    pub fn dispatch_dm(&mut self, t: &str, needed: u64, d: &Value, gated: Option<&Value>) {
        let limit = self.config.replay_limit;
        let mut full: Option<String> = None;
        let mut redacted: Option<String> = None;
        for s in self.sessions.by_id.values_mut() {
            if s.shard_id != 0 || s.intents & needed != needed {
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

    /// MESSAGE_CREATE's `d` for `m`, serialized without a `Value` tree.
    pub fn message_create_string(&self, m: &MessageRec) -> String {
        let member = m
            .guild_id
            .and_then(|g| self.guilds.get(&g))
            .and_then(|g| g.members.get(&m.author_id));
        let users = |id: u64| self.users.get(&id);
        match crate::model::fast::MessageOut::new(m, &users, member) {
            Some(out) => serde_json::to_string(&out).unwrap_or_default(),
            None => self.message_json(m, true).to_string(),
        }
    }

    /// Store a message and dispatch MESSAGE_CREATE with intent gating:
    /// guild messages need GUILD_MESSAGES, DMs DIRECT_MESSAGES; without
    /// MESSAGE_CONTENT, content, embeds, attachments and components are
    /// emptied unless the bot is mentioned or is the author (as Discord does).
    pub fn store_and_dispatch_message(&mut self, m: MessageRec) {
        let needed = match m.guild_id {
            Some(_) => intents::GUILD_MESSAGES,
            None => intents::DIRECT_MESSAGES,
        };
        let bot = self.bot.id;
        let exempt = m.author_id == bot || m.mentions.contains(&bot);
        let serves = |s: &crate::session::Session| {
            s.intents & needed == needed
                && match m.guild_id {
                    Some(g) => s.serves_guild(g),
                    None => s.shard_id == 0,
                }
        };
        let wants_full = self
            .sessions
            .by_id
            .values()
            .any(|s| serves(s) && (exempt || s.intents & intents::MESSAGE_CONTENT != 0));
        let wants_gated = !exempt
            && self
                .sessions
                .by_id
                .values()
                .any(|s| serves(s) && s.intents & intents::MESSAGE_CONTENT == 0);
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
            let ok = s.intents & needed == needed
                && match m.guild_id {
                    Some(g) => s.serves_guild(g),
                    None => s.shard_id == 0,
                };
            if !ok {
                continue;
            }
            let text = if exempt || s.intents & intents::MESSAGE_CONTENT != 0 {
                full.as_deref()
            } else {
                gated.as_deref()
            };
            if let Some(text) = text {
                s.push("MESSAGE_CREATE", text, limit);
                self.dispatched += 1;
            }
        }
        if self.config.store_messages {
            self.channel_messages
                .entry(m.channel_id)
                .or_default()
                .push(m.id);
            self.messages.insert(m.id, m);
        }
    }

    /// GUILD_MEMBER_UPDATE for `user_id` (needs GUILD_MEMBERS).
    pub fn dispatch_member_update(&mut self, guild_id: u64, user_id: u64) {
        if let Some(mut m) = self.member_json(guild_id, user_id) {
            m["guild_id"] = json!(guild_id.to_string());
            self.dispatch_guild(
                guild_id,
                "GUILD_MEMBER_UPDATE",
                intents::GUILD_MEMBERS,
                &m,
                None,
            );
        }
    }

    /// A new message ID and timestamp for a message in `channel_id`.
    pub fn new_message(&self, channel_id: u64, author_id: u64, content: String) -> MessageRec {
        MessageRec {
            id: self.ids.next(),
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
            timestamp: now_iso(),
            edited_timestamp: None,
            flags: 0,
            interaction_id: None,
            webhook_id: None,
            kind: 0,
        }
    }

    // ----- world building (used by the scenario API) ----------------------

    pub fn add_user(&mut self, name: &str, bot: bool) -> u64 {
        let id = self.ids.next();
        self.users.insert(
            id,
            UserRec {
                id,
                name: name.into(),
                bot,
                blocks_dms: false,
            },
        );
        id
    }

    /// Create a guild owned by a fresh user, with @everyone and the bot as a
    /// member holding a "bot" role (position 1, the permissions given).
    pub fn add_guild(&mut self, name: &str, bot_permissions: u64) -> u64 {
        let id = self.ids.next();
        let owner = self.add_user(&format!("{name}-owner"), false);
        let bot_role = self.ids.next();
        let now = now_iso();
        let mut members = BTreeMap::new();
        for (uid, roles) in [(owner, vec![]), (self.bot.id, vec![bot_role])] {
            members.insert(
                uid,
                MemberRec {
                    user_id: uid,
                    nick: None,
                    roles,
                    joined_at: now.clone(),
                    communication_disabled_until: None,
                },
            );
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
                    },
                    RoleRec {
                        id: bot_role,
                        name: self.bot.name.clone(),
                        permissions: bot_permissions,
                        position: 1,
                        color: 0,
                    },
                ],
                channels: Vec::new(),
                members,
                bans: BTreeMap::new(),
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
            });
        }
        id
    }

    pub fn add_member(&mut self, guild_id: u64, user_id: u64) {
        if let Some(g) = self.guilds.get_mut(&guild_id) {
            g.members.entry(user_id).or_insert_with(|| MemberRec {
                user_id,
                nick: None,
                roles: Vec::new(),
                joined_at: now_iso(),
                communication_disabled_until: None,
            });
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
            },
        );
        self.dm_channels.insert(user_id, id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attachment;

    /// The typed hot-path serializer must produce exactly the `Value` JSON.
    #[test]
    fn fast_message_json_matches_the_value_json() {
        let mut w = World::new(SimConfig::fast(), Arc::new(Snowflakes::default()));
        let g = w.add_guild("g", 0);
        let c = w.add_channel(g, "general");
        let u = w.add_user("alice", false);
        w.add_member(g, u);
        let mut m = w.new_message(c, u, "hi \"there\" <@1>".into());
        m.mentions = vec![u];
        m.mention_roles = vec![g];
        m.embeds = vec![json!({"type": "rich", "title": "t"})];
        m.attachments = vec![Attachment {
            id: 5,
            filename: "a.txt".into(),
            size: 1,
            content_type: Some("text/plain".into()),
            data: vec![b'x'],
        }];
        m.webhook_id = Some(9);
        let fast: Value = serde_json::from_str(&w.message_create_string(&m)).expect("json");
        assert_eq!(fast, w.message_json(&m, true));
    }
}

//! The simulator's records and their Discord JSON representations.
//!
//! JSON is written with `serde_json::json!` for payloads (`d`): key order
//! inside `d` does not matter to clients, only the frame's own keys do (see
//! `frame`). Every shape here carries the fields the OpenAPI spec
//! marks required and the fields twilight-model 0.18 needs to deserialize.

use serde_json::{Value, json};

/// A user account.
#[derive(Clone, Debug)]
pub struct UserRec {
    pub id: u64,
    pub name: String,
    pub bot: bool,
    /// A user who refuses DMs from the bot (sending one fails with 50007).
    pub blocks_dms: bool,
    /// The avatar's hash (made by the CDN's `hash_for`); `None`: Discord's default.
    pub avatar: Option<String>,
}

impl UserRec {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.name,
            "avatar": self.avatar,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": null,
        })
    }
}

/// A role in a guild.
#[derive(Clone, Debug)]
pub struct RoleRec {
    pub id: u64,
    pub name: String,
    pub permissions: u64,
    pub position: i64,
    pub color: u32,
    /// What manages the role, if anything: nobody can give it by hand.
    pub managed_by: Option<ManagedBy>,
}

/// Who manages a managed role, as its `tags` say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagedBy {
    /// A bot's own role, made when it joined.
    Bot(u64),
    /// An integration's role (Twitch, YouTube, an app's subscription...).
    Integration(u64),
}

impl RoleRec {
    pub fn json(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "name": self.name,
            "permissions": self.permissions.to_string(),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": null, "tertiary_color": null},
            "hoist": false,
            "managed": self.managed_by.is_some(),
            "mentionable": true,
            "icon": null,
            "unicode_emoji": null,
            "flags": 0,
        });
        match self.managed_by {
            Some(ManagedBy::Bot(id)) => v["tags"] = json!({"bot_id": id.to_string()}),
            Some(ManagedBy::Integration(id)) => {
                v["tags"] = json!({"integration_id": id.to_string()})
            }
            None => {}
        }
        v
    }
}

/// A guild membership.
#[derive(Clone, Debug)]
pub struct MemberRec {
    pub user_id: u64,
    pub nick: Option<String>,
    pub roles: Vec<u64>,
    pub joined_at: String,
    /// ISO 8601 end of a timeout, if any.
    pub communication_disabled_until: Option<String>,
}

impl MemberRec {
    pub fn json(&self, user: &UserRec) -> Value {
        json!({
            "user": user.json(),
            "nick": self.nick,
            "roles": self.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "joined_at": self.joined_at,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "avatar": null,
            "banner": null,
            "premium_since": null,
            "communication_disabled_until": self.communication_disabled_until,
        })
    }
}

/// Channel kinds the simulator models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    GuildText = 0,
    Dm = 1,
}

/// A guild text channel or a DM channel.
#[derive(Clone, Debug)]
pub struct ChannelRec {
    pub id: u64,
    pub kind: ChannelKind,
    pub guild_id: Option<u64>,
    pub name: String,
    pub position: i64,
    /// For DMs, the user on the other side.
    pub recipient: Option<u64>,
    /// Guild channels: overwrites of the guild's permissions, in order.
    pub permission_overwrites: Vec<crate::permissions::Overwrite>,
}

impl ChannelRec {
    pub fn json(&self, recipient: Option<&UserRec>) -> Value {
        match self.kind {
            ChannelKind::GuildText => json!({
                "id": self.id.to_string(),
                "type": 0,
                "guild_id": self.guild_id.map(|g| g.to_string()),
                "name": self.name,
                "position": self.position,
                "flags": 0,
                "nsfw": false,
                "topic": null,
                "rate_limit_per_user": 0,
                "permission_overwrites": self
                    .permission_overwrites
                    .iter()
                    .map(crate::permissions::Overwrite::json)
                    .collect::<Vec<_>>(),
                "parent_id": null,
                "last_message_id": null,
            }),
            ChannelKind::Dm => json!({
                "id": self.id.to_string(),
                "type": 1,
                "flags": 0,
                "last_message_id": null,
                "recipients": recipient.map(|u| vec![u.json()]).unwrap_or_default(),
            }),
        }
    }
}

/// A file attached to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: u64,
    pub filename: String,
    pub size: usize,
    pub content_type: Option<String>,
    /// The uploaded bytes, kept so tests can check them.
    pub data: Vec<u8>,
}

impl Attachment {
    pub fn json(&self) -> Value {
        let url = format!(
            "https://cdn.discordapp.com/attachments/0/{}/{}",
            self.id, self.filename
        );
        let mut v = json!({
            "id": self.id.to_string(),
            "filename": self.filename,
            "size": self.size,
            "url": url,
            "proxy_url": url,
        });
        if let Some(ct) = &self.content_type {
            v["content_type"] = json!(ct);
        }
        v
    }
}

/// A message, sent by a member or by the bot.
#[derive(Clone, Debug)]
pub struct MessageRec {
    pub id: u64,
    pub channel_id: u64,
    pub guild_id: Option<u64>,
    pub author_id: u64,
    pub content: String,
    pub embeds: Vec<Value>,
    pub components: Vec<Value>,
    pub attachments: Vec<Attachment>,
    /// Users actually pinged (after `allowed_mentions`).
    pub mentions: Vec<u64>,
    /// Roles actually pinged (after `allowed_mentions`).
    pub mention_roles: Vec<u64>,
    pub mention_everyone: bool,
    pub timestamp: String,
    pub edited_timestamp: Option<String>,
    /// How many times the message was edited (`PATCH`), 0 if never.
    pub edits: u32,
    pub flags: u64,
    /// Set for interaction responses and follow-ups.
    pub interaction_id: Option<u64>,
    pub webhook_id: Option<u64>,
    /// 0 default, 19 reply, 20 chat input command.
    pub kind: u8,
}

impl MessageRec {
    /// Full JSON. `users` resolves author and mentions; `members` (of the
    /// message's guild, without `user`) adds the `member` fields that guild
    /// MESSAGE_CREATE events carry, the author's and each mention's.
    pub fn json(
        &self,
        users: &dyn Fn(u64) -> Option<Value>,
        members: &dyn Fn(u64) -> Option<Value>,
    ) -> Value {
        let mention = |u: &u64| {
            let mut v = users(*u)?;
            if let Some(m) = members(*u) {
                v["member"] = m;
            }
            Some(v)
        };
        let mut v = json!({
            "id": self.id.to_string(),
            "channel_id": self.channel_id.to_string(),
            "author": users(self.author_id).unwrap_or_else(|| json!({"id": self.author_id.to_string(), "username": "unknown", "discriminator": "0", "avatar": null, "global_name": null, "public_flags": 0, "flags": 0, "primary_guild": null})),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": false,
            "mention_everyone": self.mention_everyone,
            "mentions": self.mentions.iter().filter_map(mention).collect::<Vec<_>>(),
            "mention_roles": self.mention_roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "attachments": self.attachments.iter().map(Attachment::json).collect::<Vec<_>>(),
            "embeds": self.embeds,
            "components": self.components,
            "pinned": false,
            "type": self.kind,
            "flags": self.flags,
        });
        if let Some(g) = self.guild_id {
            v["guild_id"] = json!(g.to_string());
        }
        if let Some(m) = members(self.author_id) {
            v["member"] = m;
        }
        if let Some(w) = self.webhook_id {
            v["webhook_id"] = json!(w.to_string());
            v["application_id"] = json!(w.to_string());
        }
        v
    }
}

/// Current time in Discord's timestamp format.
pub fn now_iso() -> String {
    discord_time(chrono::Utc::now())
}

/// A moment in Discord's timestamp format (`2021-12-23T17:28:37.366000+00:00`:
/// UTC, microseconds), which is how Discord answers whatever ISO 8601 form it
/// was given.
pub fn discord_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// Typed serializers for the hot path (MESSAGE_CREATE under load): the same
/// JSON as the `json()` methods, without building `Value` trees.
pub mod fast {
    use serde::{Serialize, Serializer};
    use serde_json::Value;

    use super::{Attachment, MemberRec, MessageRec, UserRec};

    fn id_str<S: Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    fn ids_str<S: Serializer>(ids: &[u64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ids.iter().map(u64::to_string))
    }

    #[derive(Serialize)]
    pub struct UserOut<'a> {
        #[serde(serialize_with = "id_str")]
        id: u64,
        username: &'a str,
        discriminator: &'static str,
        global_name: &'a str,
        avatar: Option<&'a str>,
        bot: bool,
        public_flags: u8,
        flags: u8,
        primary_guild: Option<()>,
    }

    impl<'a> UserOut<'a> {
        pub fn new(u: &'a UserRec) -> Self {
            Self {
                id: u.id,
                username: &u.name,
                discriminator: "0",
                global_name: &u.name,
                avatar: u.avatar.as_deref(),
                bot: u.bot,
                public_flags: 0,
                flags: 0,
                primary_guild: None,
            }
        }
    }

    /// A member without `user`, as MESSAGE_CREATE carries it.
    #[derive(Serialize)]
    pub struct MemberOut<'a> {
        nick: &'a Option<String>,
        #[serde(serialize_with = "ids_str")]
        roles: &'a [u64],
        joined_at: &'a str,
        deaf: bool,
        mute: bool,
        flags: u8,
        pending: bool,
        avatar: Option<()>,
        banner: Option<()>,
        premium_since: Option<()>,
        communication_disabled_until: &'a Option<String>,
    }

    impl<'a> MemberOut<'a> {
        pub fn new(m: &'a MemberRec) -> Self {
            Self {
                nick: &m.nick,
                roles: &m.roles,
                joined_at: &m.joined_at,
                deaf: false,
                mute: false,
                flags: 0,
                pending: false,
                avatar: None,
                banner: None,
                premium_since: None,
                communication_disabled_until: &m.communication_disabled_until,
            }
        }
    }

    #[derive(Serialize)]
    struct AttachmentOut {
        #[serde(flatten)]
        v: Value,
    }

    fn attachments<S: Serializer>(a: &[Attachment], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(a.iter().map(|a| AttachmentOut { v: a.json() }))
    }

    #[derive(Serialize)]
    pub struct MessageOut<'a> {
        #[serde(serialize_with = "id_str")]
        id: u64,
        #[serde(serialize_with = "id_str")]
        channel_id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        guild_id: Option<String>,
        author: UserOut<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        member: Option<MemberOut<'a>>,
        content: &'a str,
        timestamp: &'a str,
        edited_timestamp: &'a Option<String>,
        tts: bool,
        mention_everyone: bool,
        mentions: Vec<MentionOut<'a>>,
        #[serde(serialize_with = "ids_str")]
        mention_roles: &'a [u64],
        #[serde(serialize_with = "attachments")]
        attachments: &'a [Attachment],
        embeds: &'a [Value],
        components: &'a [Value],
        pinned: bool,
        #[serde(rename = "type")]
        kind: u8,
        flags: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        webhook_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        application_id: Option<String>,
    }

    /// A user a guild message mentions, with their partial member (no
    /// `user`) when they are one, as Discord sends it.
    #[derive(Serialize)]
    pub struct MentionOut<'a> {
        #[serde(flatten)]
        user: UserOut<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        member: Option<MemberOut<'a>>,
    }

    impl<'a> MessageOut<'a> {
        /// `None` when the author is unknown (the `Value` path handles it).
        /// `member` is a guild member of the message's guild, by user.
        pub fn new(
            m: &'a MessageRec,
            user: &dyn Fn(u64) -> Option<&'a UserRec>,
            member: &dyn Fn(u64) -> Option<&'a MemberRec>,
        ) -> Option<Self> {
            Some(Self {
                id: m.id,
                channel_id: m.channel_id,
                guild_id: m.guild_id.map(|g| g.to_string()),
                author: UserOut::new(user(m.author_id)?),
                member: member(m.author_id).map(MemberOut::new),
                content: &m.content,
                timestamp: &m.timestamp,
                edited_timestamp: &m.edited_timestamp,
                tts: false,
                mention_everyone: m.mention_everyone,
                mentions: m
                    .mentions
                    .iter()
                    .filter_map(|u| {
                        Some(MentionOut {
                            user: UserOut::new(user(*u)?),
                            member: member(*u).map(MemberOut::new),
                        })
                    })
                    .collect(),
                mention_roles: &m.mention_roles,
                attachments: &m.attachments,
                embeds: &m.embeds,
                components: &m.components,
                pinned: false,
                kind: m.kind,
                flags: m.flags,
                webhook_id: m.webhook_id.map(|w| w.to_string()),
                application_id: m.webhook_id.map(|w| w.to_string()),
            })
        }
    }
}

//! The log of what the bot did: the messages it sent as tests see them,
//! every [`Action`], and every REST request.

use serde_json::Value;

use crate::model::{Attachment, MessageRec};

/// A message the bot sent, as a test sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentMessage {
    pub id: u64,
    pub channel_id: u64,
    pub guild_id: Option<u64>,
    /// Who posted it: the bot, or a member (see `Channel::messages`).
    pub author_id: u64,
    pub content: String,
    pub embeds: Vec<Value>,
    pub components: Vec<Value>,
    pub attachments: Vec<Attachment>,
    /// Users pinged, after `allowed_mentions` was applied.
    pub mentions: Vec<u64>,
    /// Roles pinged, after `allowed_mentions` was applied.
    pub mention_roles: Vec<u64>,
    pub mention_everyone: bool,
    /// The interaction this message answers, if any.
    pub interaction_id: Option<u64>,
    /// Only the invoking user sees it (flag 64).
    pub ephemeral: bool,
    /// How many times it was edited so far (0 when it was just posted).
    pub edits: u32,
}

impl SentMessage {
    pub(crate) fn from_rec(m: &MessageRec) -> Self {
        Self {
            id: m.id,
            channel_id: m.channel_id,
            guild_id: m.guild_id,
            author_id: m.author_id,
            content: m.content.clone(),
            embeds: m.embeds.clone(),
            components: m.components.clone(),
            attachments: m.attachments.clone(),
            mentions: m.mentions.clone(),
            mention_roles: m.mention_roles.clone(),
            mention_everyone: m.mention_everyone,
            interaction_id: m.interaction_id,
            ephemeral: m.flags & 64 != 0,
            edits: m.edits,
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

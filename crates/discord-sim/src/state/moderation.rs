//! Moderation as Discord applies it, whoever acts: the bot over REST
//! (`rest/guilds.rs`) or a moderator in Discord's own UI (the scenario API).
//! Who may act on whom ([`GuildRec::may_moderate`]), bans, unbans, kicks and
//! timeouts with the gateway events each causes, and the audit log they write
//! (GUILD_AUDIT_LOG_ENTRY_CREATE to bots that may read it).

use serde_json::{Value, json};

use super::{GuildRec, World};
use crate::config::intents;
use crate::ids::created_at;
use crate::permissions::bits;

/// Audit log action types, as Discord numbers them (the ones the simulator
/// writes).
pub mod audit_action {
    pub const MEMBER_KICK: u8 = 20;
    pub const MEMBER_BAN_ADD: u8 = 22;
    pub const MEMBER_BAN_REMOVE: u8 = 23;
    pub const MEMBER_UPDATE: u8 = 24;
    pub const MEMBER_ROLE_UPDATE: u8 = 25;
}

/// Whether a timeout until `until` ends too far ahead for Discord: more than
/// 28 days from now.
pub fn timeout_too_long(until: chrono::DateTime<chrono::Utc>) -> bool {
    until > chrono::Utc::now() + chrono::Duration::days(28)
}

/// One entry of a guild's audit log.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub id: u64,
    pub guild_id: u64,
    /// See [`audit_action`].
    pub action_type: u8,
    /// Who acted (the bot, or a moderator).
    pub user_id: u64,
    /// Whom it was done to.
    pub target_id: u64,
    /// `X-Audit-Log-Reason`, or the reason a moderator typed.
    pub reason: Option<String>,
    /// `{key, old_value, new_value}` objects, as Discord lists them (a value
    /// that is null is left out).
    pub changes: Vec<Value>,
}

impl AuditEntry {
    /// The entry as `GET /guilds/{id}/audit-logs` lists it (Discord leaves
    /// `reason` out when none was given).
    pub fn json(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "action_type": self.action_type,
            "user_id": self.user_id.to_string(),
            "target_id": self.target_id.to_string(),
            "changes": self.changes,
        });
        if let Some(r) = &self.reason {
            v["reason"] = json!(r);
        }
        v
    }

    /// The change of `key`, if the entry has one.
    pub fn change(&self, key: &str) -> Option<&Value> {
        self.changes
            .iter()
            .find(|c| c.get("key").and_then(Value::as_str) == Some(key))
    }
}

/// An audit log change of `key` from `old` to `new` (each left out when
/// `None`, as Discord does).
pub fn change(key: &str, old: Option<&str>, new: Option<&str>) -> Value {
    let mut c = json!({ "key": key });
    if let Some(old) = old {
        c["old_value"] = json!(old);
    }
    if let Some(new) = new {
        c["new_value"] = json!(new);
    }
    c
}

/// MEMBER_ROLE_UPDATE's change: the roles in `ids` given (`$add`) or taken
/// (`$remove`), each as `{id, name}`.
pub fn roles_change(g: &GuildRec, given: bool, ids: &[u64]) -> Value {
    let roles: Vec<Value> = ids
        .iter()
        .filter_map(|id| g.role(*id))
        .map(|r| json!({"id": r.id.to_string(), "name": r.name}))
        .collect();
    let key = if given { "$add" } else { "$remove" };
    json!({"key": key, "new_value": roles})
}

impl GuildRec {
    /// Whether Discord lets `actor` act on `target` with `perm` (ban, kick,
    /// timeout): `actor` holds `perm`, `target` is not the owner, and when
    /// `target` is a member, `actor`'s highest role is strictly above
    /// theirs (the owner outranks everyone).
    pub fn may_moderate(&self, actor: u64, target: u64, perm: u64) -> bool {
        self.permissions_of(actor) & perm == perm
            && target != self.owner_id
            && (!self.members.contains_key(&target)
                || self.top_position(actor) > self.top_position(target))
    }

    /// [`may_moderate`](Self::may_moderate) with MODERATE_MEMBERS, and the
    /// target no administrator: Discord never times one out.
    pub fn may_time_out(&self, actor: u64, target: u64) -> bool {
        self.may_moderate(actor, target, bits::MODERATE_MEMBERS)
            && self.permissions_of(target) & bits::ADMINISTRATOR == 0
    }
}

impl World {
    /// Write an audit log entry in `guild_id` and send
    /// GUILD_AUDIT_LOG_ENTRY_CREATE (the entry with its `guild_id`) to
    /// sessions with GUILD_MODERATION, when the bot holds VIEW_AUDIT_LOG there,
    /// as Discord sends it. Returns the entry's ID.
    pub fn audit(
        &mut self,
        guild_id: u64,
        action_type: u8,
        (by, target): (u64, u64),
        reason: Option<String>,
        changes: Vec<Value>,
    ) -> u64 {
        let id = self.ids.next();
        let entry = AuditEntry {
            id,
            guild_id,
            action_type,
            user_id: by,
            target_id: target,
            reason,
            changes,
        };
        let mut d = entry.json();
        d["guild_id"] = json!(guild_id.to_string());
        let bot = self.bot.id;
        let Some(g) = self.guilds.get_mut(&guild_id) else {
            return id;
        };
        g.audit_log.push(entry);
        if g.permissions_of(bot) & bits::VIEW_AUDIT_LOG != 0 {
            let t = "GUILD_AUDIT_LOG_ENTRY_CREATE";
            self.dispatch_guild(guild_id, t, intents::GUILD_MODERATION, &d, None);
        }
        id
    }

    /// Remove a member (GUILD_MEMBER_REMOVE, under GUILD_MEMBERS); whether
    /// they were one.
    pub fn remove_member(&mut self, guild_id: u64, user_id: u64) -> bool {
        let removed = self
            .guilds
            .get_mut(&guild_id)
            .is_some_and(|g| g.members.remove(&user_id).is_some());
        if removed {
            let t = "GUILD_MEMBER_REMOVE";
            self.dispatch_guild_user(guild_id, user_id, t, intents::GUILD_MEMBERS);
        }
        removed
    }

    /// `by` bans `user_id`: a member is removed (GUILD_MEMBER_REMOVE), their
    /// messages of the last `delete_seconds` deleted (see
    /// [`World::delete_messages_since`]), then GUILD_BAN_ADD (under
    /// GUILD_MODERATION) and a MEMBER_BAN_ADD entry. Unchecked: the caller
    /// checked [`GuildRec::may_moderate`].
    pub fn ban(
        &mut self,
        guild_id: u64,
        (by, user_id): (u64, u64),
        delete_seconds: u64,
        reason: Option<String>,
    ) {
        let Some(g) = self.guilds.get_mut(&guild_id) else {
            return;
        };
        g.bans.insert(user_id, reason.clone());
        self.remove_member(guild_id, user_id);
        if delete_seconds > 0 {
            let since = chrono::Utc::now() - chrono::Duration::seconds(delete_seconds as i64);
            self.delete_messages_since(guild_id, user_id, since);
        }
        let t = "GUILD_BAN_ADD";
        self.dispatch_guild_user(guild_id, user_id, t, intents::GUILD_MODERATION);
        let kind = audit_action::MEMBER_BAN_ADD;
        self.audit(guild_id, kind, (by, user_id), reason, Vec::new());
    }

    /// Delete `user_id`'s stored messages in `guild_id` made at `since` or
    /// later, as a ban's `delete_message_seconds` does: in each channel, one
    /// message goes with MESSAGE_DELETE, several with MESSAGE_DELETE_BULK
    /// (`{ids, channel_id, guild_id}`), under GUILD_MESSAGES.
    pub fn delete_messages_since(
        &mut self,
        guild_id: u64,
        user_id: u64,
        since: chrono::DateTime<chrono::Utc>,
    ) {
        let channels = self
            .guilds
            .get(&guild_id)
            .map(|g| g.channels.clone())
            .unwrap_or_default();
        for channel_id in channels {
            let doomed: Vec<u64> = self
                .channel_messages
                .get(&channel_id)
                .into_iter()
                .flatten()
                .copied()
                .filter(|id| {
                    self.messages
                        .get(id)
                        .is_some_and(|m| m.author_id == user_id && created_at(*id) >= since)
                })
                .collect();
            if doomed.is_empty() {
                continue;
            }
            for id in &doomed {
                self.messages.remove(id);
            }
            if let Some(list) = self.channel_messages.get_mut(&channel_id) {
                list.retain(|id| !doomed.contains(id));
            }
            let (channel, guild) = (channel_id.to_string(), guild_id.to_string());
            let (t, d) = match doomed.as_slice() {
                [one] => (
                    "MESSAGE_DELETE",
                    json!({"id": one.to_string(), "channel_id": channel, "guild_id": guild}),
                ),
                many => (
                    "MESSAGE_DELETE_BULK",
                    json!({
                        "ids": many.iter().map(u64::to_string).collect::<Vec<_>>(),
                        "channel_id": channel,
                        "guild_id": guild,
                    }),
                ),
            };
            self.dispatch_message_event(Some(guild_id), t, &d);
        }
    }

    /// `by` lifts `user_id`'s ban: GUILD_BAN_REMOVE and a MEMBER_BAN_REMOVE
    /// entry; nothing when there was no ban.
    pub fn unban(&mut self, guild_id: u64, by: u64, user_id: u64, reason: Option<String>) {
        let lifted = self
            .guilds
            .get_mut(&guild_id)
            .is_some_and(|g| g.bans.remove(&user_id).is_some());
        if !lifted {
            return;
        }
        let t = "GUILD_BAN_REMOVE";
        self.dispatch_guild_user(guild_id, user_id, t, intents::GUILD_MODERATION);
        let kind = audit_action::MEMBER_BAN_REMOVE;
        self.audit(guild_id, kind, (by, user_id), reason, Vec::new());
    }

    /// `by` kicks `user_id`: GUILD_MEMBER_REMOVE and a MEMBER_KICK entry;
    /// nothing when they are no member.
    pub fn kick(&mut self, guild_id: u64, by: u64, user_id: u64, reason: Option<String>) {
        if self.remove_member(guild_id, user_id) {
            let kind = audit_action::MEMBER_KICK;
            self.audit(guild_id, kind, (by, user_id), reason, Vec::new());
        }
    }

    /// `by` times `user_id` out until `until` (Discord's timestamp format),
    /// or lifts the timeout (`None`): GUILD_MEMBER_UPDATE, then a
    /// MEMBER_UPDATE entry with the `communication_disabled_until` change.
    pub fn time_out(
        &mut self,
        guild_id: u64,
        by: u64,
        user_id: u64,
        until: Option<String>,
        reason: Option<String>,
    ) {
        let Some(m) = self
            .guilds
            .get_mut(&guild_id)
            .and_then(|g| g.members.get_mut(&user_id))
        else {
            return;
        };
        let old = std::mem::replace(&mut m.communication_disabled_until, until.clone());
        self.dispatch_member_update(guild_id, user_id);
        let changes = vec![timeout_change(old.as_deref(), until.as_deref())];
        let kind = audit_action::MEMBER_UPDATE;
        self.audit(guild_id, kind, (by, user_id), reason, changes);
    }
}

/// The audit log change of a timeout set, changed or lifted.
pub fn timeout_change(old: Option<&str>, new: Option<&str>) -> Value {
    change("communication_disabled_until", old, new)
}

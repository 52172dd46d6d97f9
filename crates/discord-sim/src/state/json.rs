//! The world's Discord JSON views: users, members, messages, channels and
//! guilds as REST responses and gateway events carry them.

use serde_json::{Value, json};

use super::World;
use crate::model::fast::MessageOut;
use crate::model::{MessageRec, RoleRec, UserRec};

impl World {
    pub fn user_json(&self, id: u64) -> Option<Value> {
        self.users.get(&id).map(UserRec::json)
    }

    /// The bot as the current user (`GET /users/@me`, READY's `user`): a
    /// user with the account fields only its own session sees.
    pub fn current_user_json(&self) -> Value {
        let mut user = self.bot.json();
        user["mfa_enabled"] = json!(false);
        user["verified"] = json!(true);
        user["locale"] = json!("en-US");
        user
    }

    pub fn member_json(&self, guild_id: u64, user_id: u64) -> Option<Value> {
        let g = self.guilds.get(&guild_id)?;
        let m = g.members.get(&user_id)?;
        let u = self.users.get(&user_id)?;
        Some(m.json(u))
    }

    pub fn message_json(&self, m: &MessageRec, with_member: bool) -> Value {
        let member = |user: u64| {
            let mut v = self.member_json(m.guild_id.filter(|_| with_member)?, user)?;
            // MESSAGE_CREATE's members omit `user`.
            if let Some(o) = v.as_object_mut() {
                o.remove("user");
            }
            Some(v)
        };
        m.json(&|id| self.user_json(id), &member)
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

    /// `GET /guilds/{id}`: the guild without GUILD_CREATE's gateway-only
    /// fields (channels, members, ...), with the REST-only ones.
    pub fn guild_json(&self, guild_id: u64) -> Option<Value> {
        let g = self.guilds.get(&guild_id)?;
        let mut v = self.guild_create_json(guild_id)?;
        if let Some(o) = v.as_object_mut() {
            for k in [
                "channels",
                "members",
                "threads",
                "voice_states",
                "presences",
                "stage_instances",
                "guild_scheduled_events",
                "joined_at",
                "large",
                "member_count",
                "unavailable",
            ] {
                o.remove(k);
            }
        }
        v["approximate_member_count"] = json!(g.members.len());
        v["approximate_presence_count"] = json!(0);
        for k in [
            "description",
            "splash",
            "discovery_splash",
            "banner",
            "vanity_url_code",
            "rules_channel_id",
            "public_updates_channel_id",
            "safety_alerts_channel_id",
            "home_header",
            "max_members",
            "max_presences",
            "max_video_channel_users",
            "max_stage_video_channel_users",
            "widget_enabled",
            "widget_channel_id",
            "application_id",
            "premium_subscription_count",
        ] {
            if v.get(k).is_none() {
                v[k] = Value::Null;
            }
        }
        for (k, n) in [
            ("max_members", 500_000),
            ("max_video_channel_users", 25),
            ("max_stage_video_channel_users", 50),
            ("premium_subscription_count", 0),
        ] {
            v[k] = json!(n);
        }
        v["widget_enabled"] = json!(false);
        v["incidents_data"] = Value::Null;
        v["region"] = json!("deprecated");
        v["nsfw"] = json!(false);
        Some(v)
    }

    /// MESSAGE_CREATE's `d` for `m`, serialized without a `Value` tree.
    pub fn message_create_string(&self, m: &MessageRec) -> String {
        let guild = m.guild_id.and_then(|g| self.guilds.get(&g));
        let member = |user: u64| guild.and_then(|g| g.members.get(&user));
        let users = |id: u64| self.users.get(&id);
        match MessageOut::new(m, &users, &member) {
            Some(out) => serde_json::to_string(&out).unwrap_or_default(),
            None => self.message_json(m, true).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::config::SimConfig;
    use crate::ids::Snowflakes;
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

//! MESSAGE_CREATE: XP for the author, and the text commands (`!rank`). Runs in
//! the shard loop and never waits: the guild's settings are in memory, the award
//! goes into the XP buffer, and a command (at most one per member per
//! [`crate::context::TEXT_COOLDOWN_SECS`]) runs as a task whose answer is queued
//! in the channel's outbox.
//!
//! Most gateway traffic is this event, and most of it is chat that only earns
//! XP. Turning its JSON into twilight's whole `Message` was 43 % of Keeper's
//! time at 100,000 messages/s (BENCHMARKS.md, session 14), for six fields. So
//! [`handle_raw`] reads those six from the raw payload and awards the XP; a
//! text command, or a payload it can't read, goes the whole way ([`handle`]).

use std::{borrow::Cow, sync::Arc};

use keeper_store::GuildSettings;
use serde::Deserialize;
use twilight_gateway::Event;
use twilight_model::{
    gateway::event::GatewayEventDeserializer,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, MessageMarker, UserMarker, WebhookMarker},
    },
};

use crate::{
    command,
    context::Context,
    snowflake,
    xp::profiles::{avatar_hash, display_name},
};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    let Event::MessageCreate(message) = event else {
        return;
    };
    let message = message.message;
    let Some(guild) = message.guild_id else {
        return;
    };
    if message.author.bot || message.webhook_id.is_some() {
        return;
    }
    let settings = ctx.guilds.settings(guild);
    if ctx
        .xp
        .on_message(&settings, message.id, message.author.id, message.channel_id)
    {
        let author = &message.author;
        let nick = message.member.as_ref().and_then(|m| m.nick.as_deref());
        let avatar = author.avatar.map(|hash| hash.to_string());
        seen(
            ctx,
            guild,
            message.id,
            author.id,
            display_name(nick, author.global_name.as_deref(), &author.name),
            avatar.as_deref(),
        );
    }
    if let Some(text) = text_command(ctx, &settings, &message.content) {
        // A member's commands within a few seconds of their last are ignored,
        // silently: a spammer gets one answer, not a queue of them.
        let at = snowflake::created_at(message.id.get());
        if !ctx.text_cooldowns.allow(guild, message.author.id, at) {
            tracing::debug!(%guild, user = %message.author.id, "text command inside the cooldown; ignored");
            return;
        }
        let (name, args) = (text.name, text.args.to_owned());
        let ctx2 = Arc::clone(ctx);
        ctx.tasks.spawn(async move {
            command::text::handle(&ctx2, &message, &name, &args, &settings.prefix).await
        });
    }
}

/// A known text command in `content`, with the guild's prefix.
fn text_command<'a>(
    ctx: &Context,
    settings: &GuildSettings,
    content: &'a str,
) -> Option<command::text::TextCommand<'a>> {
    command::text::parse(content, &settings.prefix, ctx.bot_id)
        .filter(|text| command::text::is_known(&text.name))
}

/// The author earned XP: their profile for the web leaderboard, if none was
/// taken today ([`crate::xp::profiles`]).
fn seen(
    ctx: &Context,
    guild: Id<GuildMarker>,
    message: Id<MessageMarker>,
    user: Id<UserMarker>,
    name: Option<&str>,
    avatar: Option<&str>,
) {
    if let Some(name) = name {
        let at = snowflake::created_at(message.get());
        ctx.xp
            .profiles
            .seen(guild, user, name, avatar_hash(avatar), at);
    }
}

/// What [`handle_raw`] reads of a MESSAGE_CREATE payload; serde skips the rest
/// without building it.
#[derive(Debug, Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    d: Chat<'a>,
}

#[derive(Debug, Deserialize)]
struct Chat<'a> {
    id: Id<MessageMarker>,
    channel_id: Id<ChannelMarker>,
    #[serde(default)]
    guild_id: Option<Id<GuildMarker>>,
    #[serde(borrow)]
    author: Author<'a>,
    #[serde(borrow, default)]
    member: Option<Member<'a>>,
    #[serde(default)]
    webhook_id: Option<Id<WebhookMarker>>,
    #[serde(borrow, default)]
    content: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
struct Author<'a> {
    id: Id<UserMarker>,
    #[serde(default)]
    bot: bool,
    #[serde(borrow, default)]
    username: Cow<'a, str>,
    #[serde(borrow, default)]
    global_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    avatar: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct Member<'a> {
    #[serde(borrow, default)]
    nick: Option<Cow<'a, str>>,
}

/// Handle `json` if it is a MESSAGE_CREATE that only earns XP (or nothing):
/// the same outcome as [`handle`] without building the whole message. False
/// when it is another event, a text command, or not readable here: then the
/// caller parses it and hands it to [`handle`].
pub fn handle_raw(ctx: &Context, json: &str) -> bool {
    let Some(chat) = chat(json) else {
        return false;
    };
    let Some(guild) = chat.guild_id else {
        return true;
    };
    if chat.author.bot || chat.webhook_id.is_some() {
        return true;
    }
    let settings = ctx.guilds.settings(guild);
    if text_command(ctx, &settings, &chat.content).is_some() {
        return false;
    }
    if ctx
        .xp
        .on_message(&settings, chat.id, chat.author.id, chat.channel_id)
    {
        let author = &chat.author;
        let nick = chat.member.as_ref().and_then(|m| m.nick.as_deref());
        seen(
            ctx,
            guild,
            chat.id,
            author.id,
            display_name(nick, author.global_name.as_deref(), &author.username),
            author.avatar.as_deref(),
        );
    }
    true
}

/// The fields of a MESSAGE_CREATE dispatch, or None for anything else.
fn chat(json: &str) -> Option<Chat<'_>> {
    let head = GatewayEventDeserializer::from_json(json)?;
    if head.op() != 0 || head.event_type() != Some("MESSAGE_CREATE") {
        return None;
    }
    serde_json::from_str::<Payload>(json).ok().map(|p| p.d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use twilight_gateway::EventTypeFlags;

    /// A guild message as Discord sends it: `d` before `t`, a member, mentions,
    /// an embed, a reply reference; `extra` goes into `d`.
    fn payload(extra: &str, content: &str, t: &str) -> String {
        format!(
            r#"{{"op":0,"d":{{"type":0,"tts":false,"timestamp":"2026-12-01T19:00:00.000000+00:00",
            "pinned":false,"nonce":"1","mentions":[{{"username":"b","id":"22","global_name":null,
            "discriminator":"0","avatar":null,"public_flags":0}}],"mention_roles":[],
            "mention_everyone":false,"member":{{"roles":["7"],"mute":false,"joined_at":
            "2026-01-01T00:00:00.000000+00:00","flags":0,"deaf":false}},"id":"1313000000000000001",
            "flags":0,"embeds":[{{"type":"rich","title":"t"}}],"edited_timestamp":null,
            "content":{content},"components":[],"channel_id":"55","attachments":[],
            "message_reference":{{"type":0,"channel_id":"55","message_id":"3"}},
            "author":{{"username":"a","public_flags":0,"id":"44","global_name":"A",
            "discriminator":"0","avatar":null{extra}}}{more}}},"s":42,"t":"{t}"}}"#,
            extra = extra.split_once('|').map_or(extra, |(a, _)| a),
            more = extra.split_once('|').map_or("", |(_, b)| b),
        )
    }

    /// twilight's whole parse of the same payload, the reference.
    fn whole(json: &str) -> Option<twilight_model::channel::Message> {
        match twilight_gateway::parse(json.to_owned(), EventTypeFlags::all()) {
            Ok(Some(event)) => match Event::from(event) {
                Event::MessageCreate(m) => Some(m.message),
                _ => None,
            },
            _ => None,
        }
    }

    fn same_as_whole(json: &str) {
        let lean = chat(json).expect("read by the lean path");
        let whole = whole(json).expect("read by twilight");
        assert_eq!(
            (lean.id, lean.channel_id, lean.guild_id, lean.author.id),
            (whole.id, whole.channel_id, whole.guild_id, whole.author.id)
        );
        assert_eq!(
            (lean.author.bot, lean.webhook_id, lean.content.as_ref()),
            (whole.author.bot, whole.webhook_id, whole.content.as_str())
        );
        let lean_nick = lean.member.as_ref().and_then(|m| m.nick.as_deref());
        let whole_nick = whole.member.as_ref().and_then(|m| m.nick.as_deref());
        assert_eq!(
            (
                lean.author.username.as_ref(),
                lean.author.global_name.as_deref(),
                lean.author.avatar.as_deref().map(str::to_owned),
                lean_nick,
            ),
            (
                whole.author.name.as_str(),
                whole.author.global_name.as_deref(),
                whole.author.avatar.map(|h| h.to_string()),
                whole_nick,
            )
        );
    }

    /// The name and avatar the leaderboard page shows, as twilight reads them:
    /// a nickname, an escaped global name, an animated avatar's hash.
    #[test]
    fn reads_the_authors_name_and_avatar() {
        let json = r#"{"op":0,"s":7,"t":"MESSAGE_CREATE","d":{"id":"1313000000000000001",
            "channel_id":"55","guild_id":"9","content":"hi","type":0,"tts":false,"flags":0,
            "timestamp":"2026-12-01T19:00:00.000000+00:00","pinned":false,"mentions":[],
            "mention_roles":[],"mention_everyone":false,"embeds":[],"attachments":[],
            "components":[],"edited_timestamp":null,
            "member":{"nick":"N\u00efck <b>","roles":[],"mute":false,"deaf":false,"flags":0,
            "joined_at":"2026-01-01T00:00:00.000000+00:00"},
            "author":{"id":"44","username":"ann","global_name":"\u0645\u0631\u062d\u0628\u0627 \"A\"",
            "discriminator":"0","public_flags":0,
            "avatar":"a_0123456789abcdef0123456789abcdef"}}}"#;
        same_as_whole(json);
        let lean = chat(json).unwrap();
        let nick = lean.member.as_ref().and_then(|m| m.nick.as_deref());
        assert_eq!(
            display_name(
                nick,
                lean.author.global_name.as_deref(),
                &lean.author.username
            ),
            Some("Nïck <b>")
        );
        assert_eq!(lean.author.global_name.as_deref(), Some("مرحبا \"A\""));
    }

    #[test]
    fn reads_what_twilight_reads() {
        // A member in a guild, plain and escaped content.
        same_as_whole(&payload(
            r#"|,"guild_id":"9""#,
            r#""hello""#,
            "MESSAGE_CREATE",
        ));
        same_as_whole(&payload(
            r#"|,"guild_id":"9""#,
            r#""h\u00e9llo \"q\" \\n \ud83d\ude00""#,
            "MESSAGE_CREATE",
        ));
        // A bot, a webhook, a DM (no guild), a null webhook id.
        same_as_whole(&payload(
            r#","bot":true|,"guild_id":"9""#,
            r#""x""#,
            "MESSAGE_CREATE",
        ));
        same_as_whole(&payload(
            r#"|,"guild_id":"9","webhook_id":"77""#,
            r#""x""#,
            "MESSAGE_CREATE",
        ));
        same_as_whole(&payload("", r#""dm""#, "MESSAGE_CREATE"));
        same_as_whole(&payload(
            r#"|,"guild_id":"9","webhook_id":null"#,
            r#""x""#,
            "MESSAGE_CREATE",
        ));
    }

    #[test]
    fn leaves_everything_else_to_twilight() {
        // Another dispatch with the same shape of `d`.
        assert!(chat(&payload(r#"|,"guild_id":"9""#, r#""x""#, "MESSAGE_UPDATE")).is_none());
        // Not a dispatch at all.
        assert!(chat(r#"{"op":11,"d":null,"s":null,"t":null}"#).is_none());
        // A MESSAGE_CREATE it can't read (no author): twilight says why.
        let broken = r#"{"op":0,"s":3,"t":"MESSAGE_CREATE","d":{"id":"1","channel_id":"2"}}"#;
        assert!(chat(broken).is_none());
        assert!(twilight_gateway::parse(broken.to_owned(), EventTypeFlags::all()).is_err());
        assert!(chat("not json").is_none());
    }
}

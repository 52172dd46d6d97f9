//! Text commands: `!rank`, `!top 2`, or `@Keeper rank` (a mention works as a prefix,
//! so the commands work without the privileged MESSAGE_CONTENT intent: Discord
//! always shows a bot the content of messages that mention it). How a message
//! becomes a command is pure ([`parse`]); which command answers is the
//! registry's ([`super::COMMANDS`]).

use twilight_model::{
    channel::{Message, message::AllowedMentions},
    guild::Permissions,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, MessageMarker, RoleMarker, UserMarker},
    },
    util::ImageHash,
};

use super::{Reply, Text};
use crate::{
    context::Context,
    error::BotError,
    moderation,
    outbox::{Kind, Post},
};

/// A member as a text command sees them: who, the name to show, and what the
/// message says of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named<'a> {
    pub id: Id<UserMarker>,
    pub name: &'a str,
    pub bot: bool,
    /// Their avatar's hash (`None`: Discord's default picture).
    pub avatar: Option<ImageHash>,
    /// Their roles, when the message carried them as a member (`None`: not a
    /// member of the guild, as far as the message says).
    pub roles: Option<&'a [Id<RoleMarker>]>,
}

/// One run of a text command.
pub struct TextInvocation<'a> {
    pub guild_id: Id<GuildMarker>,
    pub channel_id: Id<ChannelMarker>,
    /// The message: what a write made for the command is recorded under, so a
    /// replayed message writes nothing twice.
    pub message_id: Id<MessageMarker>,
    /// The author's server-wide permissions, computed from the guild's roles as
    /// Discord does (a message carries none).
    pub permissions: Permissions,
    pub author: Named<'a>,
    /// The members the message mentions, in order, Keeper excluded (a mention of
    /// it may be the prefix).
    pub mentions: Vec<Named<'a>>,
    /// What follows the command's name, trimmed.
    pub args: &'a str,
    /// The guild's prefix, for answers that show how to type a command.
    pub prefix: &'a str,
    /// The command run.
    pub spec: &'a Text,
}

impl TextInvocation<'_> {
    /// The answer to arguments the command can't read: how to type it.
    pub fn usage_error(&self) -> BotError {
        self.spec.usage_error(self.prefix)
    }
}

/// Run the text command `name` of `message` and post its answer as a reply. A
/// name Keeper does not know is ignored: other bots share prefixes.
pub async fn handle(ctx: &Context, message: &Message, name: &str, args: &str, prefix: &str) {
    let Some((spec, text)) = super::text_command(name) else {
        return;
    };
    let Some(guild_id) = message.guild_id else {
        return;
    };
    let author_roles = message.member.as_ref().map(|m| m.roles.as_slice());
    let permissions = ctx
        .guilds
        .facts(guild_id)
        .map_or_else(Permissions::empty, |facts| {
            moderation::guild_permissions(&facts, message.author.id, author_roles.unwrap_or(&[]))
        });
    let inv = TextInvocation {
        guild_id,
        channel_id: message.channel_id,
        message_id: message.id,
        permissions,
        author: Named {
            id: message.author.id,
            name: &message.author.name,
            bot: message.author.bot,
            avatar: message.author.avatar,
            roles: author_roles,
        },
        mentions: message
            .mentions
            .iter()
            .filter(|m| m.id != ctx.bot_id)
            .map(|m| Named {
                id: m.id,
                name: &m.name,
                bot: m.bot,
                avatar: m.avatar,
                roles: m.member.as_ref().map(|member| member.roles.as_slice()),
            })
            .collect(),
        args,
        prefix,
        spec: text,
    };
    // Server-wide permissions only (Manage Server, Timeout Members...):
    // channel overwrites can't grant or deny those.
    let started = std::time::Instant::now();
    let result = match spec.check(inv.permissions) {
        Ok(()) => (text.run)(ctx, &inv).await,
        Err(err) => Err(err),
    };
    ctx.metrics
        .command(text.name, super::outcome(&result), Some(started.elapsed()));
    let reply = result.unwrap_or_else(|err| {
        if err.is_internal() {
            tracing::error!(guild = %guild_id, channel = %message.channel_id, user = %message.author.id,
                command = name, error = %err, "text command failed");
        }
        Reply::text(err.reply())
    });
    post(ctx, message, &reply).await;
}

/// A text command's answer: a reply to its message that pings nobody, queued
/// in the channel's bounded outbox (a crowd typing `!rank` can't pile up tasks
/// waiting on Discord).
async fn post(ctx: &Context, message: &Message, reply: &Reply) {
    let post = Post {
        kind: Kind::CommandAnswer,
        content: reply.content.clone(),
        embeds: reply.embeds.clone(),
        mentions: AllowedMentions::default(),
        reply_to: Some(message.id),
        attachments: reply.attachments.clone(),
    };
    ctx.outbox.post(message.guild_id, message.channel_id, post);
}

/// Whether `name` is one of Keeper's text commands (other bots share prefixes:
/// their commands are none of Keeper's business, nor count toward its cooldown).
pub fn is_known(name: &str) -> bool {
    super::text_command(name).is_some()
}

/// A text command as typed: its name (lower-cased) and the rest of the line.
#[derive(Debug, PartialEq, Eq)]
pub struct TextCommand<'a> {
    pub name: String,
    pub args: &'a str,
}

/// Split `content` into a command if it starts with `prefix` or mentions `bot`
/// first. Returns `None` for ordinary chat.
pub fn parse<'a>(content: &'a str, prefix: &str, bot: Id<UserMarker>) -> Option<TextCommand<'a>> {
    let content = content.trim_start();
    let rest = strip_mention(content, bot).or_else(|| content.strip_prefix(prefix))?;
    let rest = rest.trim_start();
    let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if name.is_empty() {
        return None;
    }
    Some(TextCommand {
        name: name.to_lowercase(),
        args: args.trim(),
    })
}

fn strip_mention(content: &str, bot: Id<UserMarker>) -> Option<&str> {
    let rest = content.strip_prefix("<@")?;
    let rest = rest.strip_prefix('!').unwrap_or(rest);
    let rest = rest.strip_prefix(&bot.to_string())?;
    rest.strip_prefix('>')
}

/// Why a prefix can't be used, worded for the admin who typed it; `None` if it can.
pub fn validate_prefix(prefix: &str) -> Option<&'static str> {
    let len = prefix.chars().count();
    if len == 0 || len > 10 {
        return Some("A prefix must be 1 to 10 characters long.");
    }
    if prefix.chars().any(char::is_whitespace) {
        return Some("A prefix can't contain spaces.");
    }
    if prefix.contains("<@")
        || prefix.contains("<#")
        || prefix.contains("@everyone")
        || prefix.contains("@here")
    {
        return Some("A prefix can't contain a mention.");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: Id<UserMarker> = Id::new(777);

    fn cmd(name: &str, args: &'static str) -> Option<TextCommand<'static>> {
        Some(TextCommand {
            name: name.into(),
            args,
        })
    }

    #[test]
    fn prefix_commands() {
        assert_eq!(parse("!rank", "!", BOT), cmd("rank", ""));
        assert_eq!(parse("!TOP  2 ", "!", BOT), cmd("top", "2"));
        assert_eq!(parse("  !rank <@5>", "!", BOT), cmd("rank", "<@5>"));
        assert_eq!(parse("k!help", "k!", BOT), cmd("help", ""));
        assert_eq!(parse("! rank", "!", BOT), cmd("rank", ""));
    }

    #[test]
    fn mention_prefix() {
        assert_eq!(parse("<@777> rank", "!", BOT), cmd("rank", ""));
        assert_eq!(parse("<@!777>top 3", "!", BOT), cmd("top", "3"));
        assert_eq!(parse("<@778> rank", "!", BOT), None);
        assert_eq!(parse("<@777>", "!", BOT), None);
    }

    #[test]
    fn ordinary_chat_is_not_a_command() {
        assert_eq!(parse("hello !rank", "!", BOT), None);
        assert_eq!(parse("!", "!", BOT), None);
        assert_eq!(parse("", "!", BOT), None);
        assert_eq!(parse("?rank", "!", BOT), None);
    }

    #[test]
    fn prefix_rules() {
        assert_eq!(validate_prefix("!"), None);
        assert_eq!(validate_prefix("keeper!"), None);
        assert!(validate_prefix("").is_some());
        assert!(validate_prefix("elevenchars").is_some());
        assert!(validate_prefix("a b").is_some());
        assert!(validate_prefix("<@12>").is_some());
        assert!(validate_prefix("@everyone").is_some());
        assert!(validate_prefix("<#1>").is_some());
    }
}

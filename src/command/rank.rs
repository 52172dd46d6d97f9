//! `/rank [user]` and `!rank [@member]`: a member's level, progress, total XP
//! and place in the guild.

use futures_util::FutureExt as _;
use keeper_store::levels;
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    channel::message::Embed,
    id::{
        Id,
        marker::{GuildMarker, UserMarker},
    },
};
use twilight_util::builder::{
    command::{CommandBuilder, UserBuilder},
    embed::{EmbedBuilder, EmbedFieldBuilder},
};

use super::{Invocation, Reply, Spec, Text, TextInvocation, text::Named};
use crate::{context::Context, error::BotResult};

pub const NAME: &str = "rank";

pub const SPEC: Spec =
    Spec::everyone(NAME, command, |ctx, inv| run(ctx, inv).boxed()).with_text(Text {
        name: NAME,
        aliases: &[],
        usage: "[@member]",
        example: "@alice",
        help: "level, XP and place",
        run: |ctx, inv| run_text(ctx, inv).boxed(),
    });

pub fn command() -> Command {
    CommandBuilder::new(
        NAME,
        "Show a member's level, XP and place on the leaderboard",
        CommandType::ChatInput,
    )
    .contexts([InteractionContextType::Guild])
    .option(UserBuilder::new(
        "user",
        "Whose rank to show (yourself if empty)",
    ))
    .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let user = inv.options().user("user").unwrap_or(inv.user.id);
    let name = match inv.resolved_user(user) {
        Some(u) => u.name.clone(),
        None => inv.user.name.clone(),
    };
    reply(ctx, inv.guild_id, user, &name).await
}

pub async fn run_text(ctx: &Context, inv: &TextInvocation<'_>) -> BotResult<Reply> {
    let Named { id, name, .. } = text_target(inv);
    reply(ctx, inv.guild_id, id, name).await
}

/// Whose rank `!rank` asks for: the first member mentioned, or the author.
fn text_target<'a>(inv: &TextInvocation<'a>) -> Named<'a> {
    inv.mentions.first().copied().unwrap_or(inv.author)
}

/// The rank card, for either form of the command.
async fn reply(
    ctx: &Context,
    guild: Id<GuildMarker>,
    user: Id<UserMarker>,
    name: &str,
) -> BotResult<Reply> {
    match ctx.store.member_rank(guild, user).await? {
        Some(rank) => Ok(Reply::embed(card(
            name,
            rank.member.xp,
            rank.position,
            rank.out_of,
        ))),
        None if user == ctx.bot_id => Ok(Reply::text("I don't earn XP; I only count it.")),
        None => Ok(Reply::text(format!(
            "**{}** hasn't earned any XP here yet.",
            escape(name)
        ))),
    }
}

fn card(name: &str, xp: i64, position: u64, out_of: u64) -> Embed {
    let level = levels::level_for_xp(xp);
    let (into, needed) = levels::progress(xp);
    EmbedBuilder::new()
        .title(format!("{}'s rank", escape(name)))
        .description(progress_bar(into, needed))
        .field(EmbedFieldBuilder::new("Level", level.to_string()).inline())
        .field(EmbedFieldBuilder::new("XP", format!("{into} / {needed}")).inline())
        .field(EmbedFieldBuilder::new("Total XP", xp.to_string()).inline())
        .field(EmbedFieldBuilder::new("Rank", format!("#{position} of {out_of}")).inline())
        .build()
}

/// `▰▰▰▱▱▱▱▱▱▱ 31%`: progress through the current level.
pub fn progress_bar(into: i64, needed: i64) -> String {
    let pct = if needed > 0 {
        (into.clamp(0, needed) * 100 / needed) as usize
    } else {
        0
    };
    let filled = pct / 10;
    format!("{}{} {pct}%", "▰".repeat(filled), "▱".repeat(10 - filled))
}

/// Names are shown in bold; markdown in them must not break the formatting.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '>' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar_fills_by_tenths() {
        assert_eq!(progress_bar(0, 100), "▱▱▱▱▱▱▱▱▱▱ 0%");
        assert_eq!(progress_bar(31, 100), "▰▰▰▱▱▱▱▱▱▱ 31%");
        assert_eq!(progress_bar(155, 155), "▰▰▰▰▰▰▰▰▰▰ 100%");
    }

    #[test]
    fn markdown_in_names_is_escaped() {
        assert_eq!(escape("a*b_c"), "a\\*b\\_c");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn card_shows_level_progress_and_place() {
        let embed = card("alice", 300, 2, 40);
        let fields: Vec<_> = embed
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("Level", "2"),
                ("XP", "45 / 220"),
                ("Total XP", "300"),
                ("Rank", "#2 of 40")
            ]
        );
    }

    #[test]
    fn the_text_form_shows_the_first_mention_or_the_author() {
        let named = |id, name| Named {
            id: twilight_model::id::Id::new(id),
            name,
            bot: false,
            roles: None,
        };
        let mut inv = TextInvocation {
            guild_id: twilight_model::id::Id::new(1),
            channel_id: twilight_model::id::Id::new(2),
            message_id: twilight_model::id::Id::new(6),
            permissions: twilight_model::guild::Permissions::empty(),
            author: named(3, "alice"),
            mentions: Vec::new(),
            args: "",
            prefix: "!",
            spec: SPEC.text.as_ref().unwrap(),
        };
        assert_eq!(text_target(&inv), named(3, "alice"));
        inv.mentions = vec![named(4, "bob"), named(5, "carol")];
        assert_eq!(text_target(&inv), named(4, "bob"));
    }
}

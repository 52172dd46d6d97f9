//! `/leaderboard [page]` and `!top [page]`: the guild's members by XP, ten a page,
//! linked to the web page that shows the same members when the guild made it
//! public and the operator said where it is (`KEEPER_PUBLIC_URL`).

use futures_util::FutureExt as _;
use keeper_store::levels;
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    id::{Id, marker::GuildMarker},
};
use twilight_util::builder::{
    command::{CommandBuilder, IntegerBuilder},
    embed::{EmbedBuilder, EmbedFooterBuilder},
};

use super::{Invocation, Reply, Spec, Text, TextInvocation};
use crate::{context::Context, error::BotResult};

pub const NAME: &str = "leaderboard";
pub const PAGE_SIZE: u32 = 10;

pub const SPEC: Spec =
    Spec::everyone(NAME, command, |ctx, inv| run(ctx, inv).boxed()).with_text(TEXT);

const TEXT: Text = Text {
    name: "top",
    aliases: &["leaderboard", "lb"],
    usage: "[page]",
    example: "2",
    help: "the leaderboard",
    run: |ctx, inv| run_text(ctx, inv).boxed(),
};

pub fn command() -> Command {
    CommandBuilder::new(
        NAME,
        "Show the members with the most XP",
        CommandType::ChatInput,
    )
    .contexts([InteractionContextType::Guild])
    .option(IntegerBuilder::new("page", "Which page (10 members each)").min_value(1))
    .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let page = inv.options().integer("page").unwrap_or(1);
    reply(ctx, inv.guild_id, page).await
}

pub async fn run_text(ctx: &Context, inv: &TextInvocation<'_>) -> BotResult<Reply> {
    let page = text_page(inv.args).ok_or_else(|| inv.usage_error())?;
    reply(ctx, inv.guild_id, page).await
}

/// The page `!top` asks for: its first word, 1 without one; `None` if it is not
/// a number. (Out of range is the leaderboard's to say: it knows how many pages.)
fn text_page(args: &str) -> Option<i64> {
    args.split_whitespace()
        .next()
        .map_or(Some(1), |word| word.parse().ok())
}

/// One page of the leaderboard, for either form of the command.
async fn reply(ctx: &Context, guild: Id<GuildMarker>, page: i64) -> BotResult<Reply> {
    let total = ctx.store.leaderboard_len(guild).await?;
    if total == 0 {
        return Ok(Reply::text(
            "Nobody has earned XP here yet. Start chatting!",
        ));
    }
    let pages = total.div_ceil(u64::from(PAGE_SIZE));
    let page = match u64::try_from(page) {
        Ok(p) if (1..=pages).contains(&p) => p,
        _ => {
            return Ok(Reply::ephemeral(format!(
                "There is no page {page}: the leaderboard has {pages} page{}.",
                if pages == 1 { "" } else { "s" }
            )));
        }
    };
    let offset = (page - 1) * u64::from(PAGE_SIZE);
    let rows = ctx.store.leaderboard(guild, offset, PAGE_SIZE).await?;
    let lines: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            format!(
                "**#{}** <@{}> · level {} · {} XP",
                offset + i as u64 + 1,
                row.user_id,
                levels::level_for_xp(row.xp),
                row.xp
            )
        })
        .collect();
    let name = ctx.guilds.info(guild).name;
    let title = if name.is_empty() {
        "Leaderboard".to_owned()
    } else {
        format!("Leaderboard of {name}")
    };
    let mut description = lines.join("\n");
    let mut embed = EmbedBuilder::new().title(title);
    let public = ctx.guilds.settings(guild).web_public;
    if let Some(url) = ctx.public_url.as_deref().filter(|_| public) {
        let link = web_link(url, guild, offset);
        description.push_str(&format!("\n\n[The whole leaderboard on the web]({link})"));
        embed = embed.url(link);
    }
    let embed = embed
        .description(description)
        .footer(EmbedFooterBuilder::new(format!(
            "Page {page} of {pages} · {total} members"
        )))
        .build();
    Ok(Reply::embed(embed))
}

/// The web page that shows the member at `offset` (0 for the top): the web
/// page holds a hundred where this command shows ten.
fn web_link(base: &str, guild: Id<GuildMarker>, offset: u64) -> String {
    let page = offset / u64::from(crate::web::PER_PAGE) + 1;
    format!("{base}/leaderboard/{guild}?page={page}")
}

#[cfg(test)]
mod tests {
    use super::{Id, text_page, web_link};

    #[test]
    fn the_web_link_is_the_page_holding_the_same_members() {
        let (base, guild) = ("https://keeper.example.org", Id::new(42));
        assert_eq!(
            web_link(base, guild, 0),
            "https://keeper.example.org/leaderboard/42?page=1"
        );
        assert_eq!(web_link(base, guild, 90), web_link(base, guild, 0));
        assert!(web_link(base, guild, 100).ends_with("?page=2"));
        assert!(web_link(base, guild, 12_340).ends_with("?page=124"));
    }

    #[test]
    fn the_text_form_reads_a_page_number() {
        assert_eq!(text_page(""), Some(1));
        assert_eq!(text_page("2"), Some(2));
        assert_eq!(text_page(" 3 more words"), Some(3));
        assert_eq!(
            text_page("-1"),
            Some(-1),
            "out of range: said by the leaderboard"
        );
        assert_eq!(text_page("two"), None);
        assert_eq!(text_page("99999999999999999999"), None);
    }

    #[test]
    fn a_malformed_page_gets_the_usage() {
        assert_eq!(
            super::TEXT.usage_error("?").reply(),
            "Usage: `?top [page]`, e.g. `?top 2`."
        );
    }
}

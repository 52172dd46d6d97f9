//! `/leaderboard [page]`: the guild's members by XP, ten a page.

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

use super::{Invocation, Reply};
use crate::{context::Context, error::BotResult};

pub const NAME: &str = "leaderboard";
pub const PAGE_SIZE: u32 = 10;

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

/// One page of the leaderboard, shared with the `top` text command.
pub async fn reply(ctx: &Context, guild: Id<GuildMarker>, page: i64) -> BotResult<Reply> {
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
    let name = ctx.guild_info(guild).name;
    let title = if name.is_empty() {
        "Leaderboard".to_owned()
    } else {
        format!("Leaderboard of {name}")
    };
    let embed = EmbedBuilder::new()
        .title(title)
        .description(lines.join("\n"))
        .footer(EmbedFooterBuilder::new(format!(
            "Page {page} of {pages} · {total} members"
        )))
        .build();
    Ok(Reply::embed(embed))
}

#[cfg(test)]
mod tests {
    #[test]
    fn definition_is_valid() {
        twilight_validate::command::command(&super::command()).unwrap();
    }
}

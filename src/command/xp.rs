//! `/xp set|add|reset user [amount]`: moderators correct XP (Manage Server).

use chrono::Utc;
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    guild::Permissions,
};
use twilight_util::builder::command::{
    CommandBuilder, IntegerBuilder, SubCommandBuilder, UserBuilder,
};

use super::{Invocation, Reply, missing};
use crate::{
    context::Context,
    error::{BotError, BotResult},
    leveling,
};

pub const NAME: &str = "xp";

/// Far above anything earned by chatting, far below where arithmetic gets risky.
const MAX_XP: i64 = 1_000_000_000_000;

pub fn command() -> Command {
    let user = || UserBuilder::new("user", "The member").required(true);
    CommandBuilder::new(NAME, "Change a member's XP", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .default_member_permissions(Permissions::MANAGE_GUILD)
        .option(
            SubCommandBuilder::new("set", "Set a member's total XP")
                .option(user())
                .option(
                    IntegerBuilder::new("amount", "The new total")
                        .required(true)
                        .min_value(0)
                        .max_value(MAX_XP),
                ),
        )
        .option(
            SubCommandBuilder::new("add", "Give (or, negative, take) XP")
                .option(user())
                .option(
                    IntegerBuilder::new("amount", "XP to add; negative to take away")
                        .required(true)
                        .min_value(-MAX_XP)
                        .max_value(MAX_XP),
                ),
        )
        .option(
            SubCommandBuilder::new("reset", "Forget a member's XP and level here").option(user()),
        )
        .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let (sub, opts) = inv.manage_server_subcommand()?;
    let user = opts.user("user").ok_or_else(|| missing("user"))?;
    if inv.resolved_user(user).is_some_and(|u| u.bot) {
        return Err(BotError::user("Bots don't earn XP."));
    }
    let amount = || {
        let amount = opts.integer("amount").ok_or_else(|| missing("amount"))?;
        if amount.abs() > MAX_XP {
            return Err(BotError::user(format!(
                "The amount must be between -{MAX_XP} and {MAX_XP}."
            )));
        }
        Ok(amount)
    };
    // Pending awards are written first, so a correction applies to the true total.
    // Level-ups among them get their announcement and rewards here, as the flush
    // loop would have given them.
    let flushed = ctx.xp.flush(ctx.store.as_ref()).await;
    for level_up in flushed.level_ups {
        leveling::on_level_up_logged(ctx, level_up).await;
    }
    if let Some(err) = flushed.error {
        return Err(err.into());
    }
    let outcome = match sub {
        "set" => {
            ctx.store
                .set_xp(inv.guild_id, user, amount()?, Utc::now())
                .await?
        }
        "add" => {
            ctx.store
                .add_xp(inv.guild_id, user, amount()?, Utc::now())
                .await?
        }
        "reset" => {
            let had = ctx.store.reset_xp(inv.guild_id, user).await?;
            ctx.cooldowns
                .lock()
                .expect("cooldowns lock")
                .forget(inv.guild_id, user);
            return Ok(Reply::ephemeral(if had {
                format!("<@{user}>'s XP and level are reset.")
            } else {
                format!("<@{user}> had no XP here.")
            }));
        }
        other => {
            return Err(BotError::user(format!(
                "`/xp {other}` is not something I can do."
            )));
        }
    };
    Ok(Reply::ephemeral(format!(
        "<@{user}> now has {} XP (level {}).",
        outcome.xp, outcome.new_level
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn definition_is_valid() {
        twilight_validate::command::command(&super::command()).unwrap();
    }
}

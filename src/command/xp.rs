//! `/xp set|add|reset user [amount]`: moderators correct XP (Manage Server).
//! The member's reward roles follow their new level, up or down.

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::Applied;
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    id::{Id, marker::UserMarker},
};
use twilight_util::builder::command::{
    CommandBuilder, IntegerBuilder, SubCommandBuilder, UserBuilder,
};

use super::{ALREADY_DONE, Invocation, Reply, Spec, missing};
use crate::{
    context::Context,
    error::{BotError, BotResult},
    rewards::Held,
};

pub const NAME: &str = "xp";

pub const SPEC: Spec = Spec::managers(NAME, command, |ctx, inv| run(ctx, inv).boxed());

/// Far above anything earned by chatting, far below where arithmetic gets risky.
const MAX_XP: i64 = 1_000_000_000_000;

pub fn command() -> Command {
    let user = || UserBuilder::new("user", "The member").required(true);
    CommandBuilder::new(NAME, "Change a member's XP", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
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
    let (sub, opts) = inv.subcommand()?;
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
    // Pending awards are written first, so a correction applies to the true total
    // (their level-ups get their effects as from any flush).
    ctx.xp.flush().await?;
    // The store moves the member's last award to now; the cooldown follows it,
    // as a restart would read it back. Each write is applied once for this
    // interaction, should Discord deliver it again.
    let (now, once, guild) = (Utc::now(), Some(inv.interaction_id), inv.guild_id);
    let applied = match sub {
        "set" => ctx.store.set_xp(guild, user, amount()?, now, once).await?,
        "add" => ctx.store.add_xp(guild, user, amount()?, now, once).await?,
        "reset" => {
            let Applied::Now(had) = ctx.store.reset_xp(guild, user, now, once).await? else {
                return Ok(Reply::ephemeral(ALREADY_DONE));
            };
            ctx.xp.forget_cooldown(guild, user);
            // Level 0: every reward goes (any the member may hold, when Discord
            // did not say which they do).
            follow_level(ctx, inv, user, 0, i32::MAX).await;
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
    let Applied::Now(outcome) = applied else {
        return Ok(Reply::ephemeral(ALREADY_DONE));
    };
    ctx.xp.corrected(guild, user, now);
    follow_level(ctx, inv, user, outcome.new_level, outcome.old_level).await;
    Ok(Reply::ephemeral(format!(
        "<@{user}> now has {} XP (level {}).",
        outcome.xp, outcome.new_level
    )))
}

/// Give and take reward roles for the member's new `level`: by the roles
/// Discord says they hold, or (not a member now, or not said) as if they held
/// what `old_level` gave. A failure is logged: the XP change stands.
async fn follow_level(
    ctx: &Context,
    inv: &Invocation<'_>,
    user: Id<UserMarker>,
    level: i32,
    old_level: i32,
) {
    let held = match inv.resolved_member_roles(user) {
        Some(roles) => Held::Known(roles.to_vec()),
        None => Held::AtLevel(old_level),
    };
    if let Err(err) = ctx.xp.sync_rewards(inv.guild_id, user, level, &held).await {
        tracing::warn!(guild = %inv.guild_id, %user, error = %err,
            "could not bring the reward roles in line with a corrected level");
    }
}

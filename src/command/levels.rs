//! `/levels reward add|remove` and `/levels rewards`: roles granted at levels
//! (Manage Server).

use futures_util::FutureExt as _;
use twilight_model::application::{
    command::{Command, CommandType},
    interaction::InteractionContextType,
};
use twilight_util::builder::command::{
    CommandBuilder, IntegerBuilder, RoleBuilder, SubCommandBuilder, SubCommandGroupBuilder,
};

use super::{Invocation, Reply, Spec, missing};
use crate::{
    context::Context,
    error::{BotError, BotResult},
};

pub const NAME: &str = "levels";
pub const MAX_LEVEL: i64 = 1_000;

pub const SPEC: Spec = Spec::managers(NAME, command, |ctx, inv| run(ctx, inv).boxed());

pub fn command() -> Command {
    let level = |desc: &str| {
        IntegerBuilder::new("level", desc)
            .required(true)
            .min_value(1)
            .max_value(MAX_LEVEL)
    };
    CommandBuilder::new(
        NAME,
        "Roles members earn by levelling up",
        CommandType::ChatInput,
    )
    .contexts([InteractionContextType::Guild])
    .option(
        SubCommandGroupBuilder::new("reward", "Add or remove a level reward").subcommands([
            SubCommandBuilder::new("add", "Give a role when members reach a level")
                .option(level("The level"))
                .option(RoleBuilder::new("role", "The role to give").required(true)),
            SubCommandBuilder::new("remove", "Stop giving a role at a level")
                .option(level("The level")),
        ]),
    )
    .option(SubCommandBuilder::new("rewards", "List the level rewards"))
    .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let (sub, opts) = inv.subcommand()?;
    match (sub, opts.subcommand()) {
        ("rewards", _) => {
            let rewards = ctx.guilds.level_rewards(inv.guild_id).await?;
            if rewards.is_empty() {
                return Ok(Reply::ephemeral(
                    "No level rewards yet. Add one with `/levels reward add`.",
                ));
            }
            let lines: Vec<_> = rewards
                .iter()
                .map(|r| format!("Level {}: <@&{}>", r.level, r.role_id))
                .collect();
            Ok(Reply::ephemeral(lines.join("\n")))
        }
        ("reward", Some((action, opts))) => {
            let level = opts.integer("level").ok_or_else(|| missing("level"))?;
            let level = i32::try_from(level)
                .ok()
                .filter(|l| (1..=MAX_LEVEL as i32).contains(l))
                .ok_or_else(|| {
                    BotError::user(format!("The level must be between 1 and {MAX_LEVEL}."))
                })?;
            if action == "add" {
                let role = opts.role("role").ok_or_else(|| missing("role"))?;
                if role.get() == inv.guild_id.get() {
                    return Err(BotError::user(
                        "Everyone already has @everyone; pick another role.",
                    ));
                }
                ctx.guilds
                    .set_level_reward(inv.guild_id, level, role)
                    .await?;
                Ok(Reply::ephemeral(format!(
                    "Members reaching level {level} will get <@&{role}>. Make sure my role is above it and I have \
                     **Manage Roles**."
                )))
            } else if ctx.guilds.remove_level_reward(inv.guild_id, level).await? {
                Ok(Reply::ephemeral(format!(
                    "Level {level} no longer gives a role."
                )))
            } else {
                Ok(Reply::ephemeral(format!(
                    "There was no reward at level {level}."
                )))
            }
        }
        _ => Err(missing("subcommand")),
    }
}

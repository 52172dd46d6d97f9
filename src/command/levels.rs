//! `/levels reward add|remove`, `/levels rewards` and `/levels sync`: roles
//! granted at levels (Manage Server; adding one also needs what Discord would
//! ask to give the role by hand, see [`crate::rewards`]). `sync` makes every
//! member with a level hold exactly their rewards now, rather than at their
//! next level-up: after `keeper import-json`, a restore, or roles changed by
//! hand.

use futures_util::FutureExt as _;
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    channel::message::AllowedMentions,
    id::{Id, marker::RoleMarker},
};
use twilight_util::builder::command::{
    CommandBuilder, IntegerBuilder, RoleBuilder, SubCommandBuilder, SubCommandGroupBuilder,
};

use super::{Invocation, Reply, Spec, missing};
use crate::{
    context::Context,
    error::{BotError, BotResult},
    guilds::guild_role,
    outbox::{Kind, Post},
    rewards::{self, Held, Manager, Refusal},
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
    .option(SubCommandBuilder::new(
        "sync",
        "Give every member the rewards of their level now (after an import, say)",
    ))
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
        ("sync", _) => sync(ctx, inv).await,
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
                check_reward(ctx, inv, role)?;
                ctx.guilds
                    .set_level_reward(inv.guild_id, level, role)
                    .await?;
                Ok(Reply::ephemeral(format!(
                    "Members reaching level {level} will get <@&{role}>. Make sure I have **Manage Roles**."
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

/// Refuse a reward role the member could not give by hand, or that Keeper must
/// not give (see [`rewards::may_reward`]); nothing is stored then.
fn check_reward(ctx: &Context, inv: &Invocation<'_>, role: Id<RoleMarker>) -> BotResult<()> {
    let Some(facts) = ctx.guilds.facts(inv.guild_id) else {
        return Err(BotError::user(
            "I don't know this server's roles yet (Discord hasn't sent them); try again in a minute.",
        ));
    };
    let checked = inv
        .resolved_role(role)
        .map(guild_role)
        .or_else(|| facts.role(role).cloned())
        .ok_or(Refusal::Unknown);
    let manager = Manager {
        user: inv.user.id,
        roles: inv.roles,
        permissions: inv.permissions,
    };
    checked
        .and_then(|checked| rewards::may_reward(&facts, &checked, &manager))
        .map_err(|refusal| {
            BotError::user(format!(
                "<@&{role}> can't be a level reward: {}.",
                refusal.reason()
            ))
        })
}

/// Members read from the store per page of `/levels sync`.
const SYNC_PAGE: u32 = 500;

/// `/levels sync`: answered at once; the members are checked in the
/// background (one request to Discord each for their roles, paced by its
/// rate limits), and the outcome goes to the mod-log.
async fn sync(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let rewards = ctx.guilds.level_rewards(inv.guild_id).await?;
    let Some(lowest) = rewards.iter().map(|r| r.level).min() else {
        return Ok(Reply::ephemeral(
            "No level rewards to give. Add one with `/levels reward add`.",
        ));
    };
    let members = ctx.store.leaderboard_len(inv.guild_id).await?;
    let (http, store, xp, guilds, outbox) = (
        ctx.http.clone(),
        ctx.store.clone(),
        ctx.xp.clone(),
        ctx.guilds.clone(),
        ctx.outbox.clone(),
    );
    let guild = inv.guild_id;
    ctx.tasks.spawn(async move {
        let (mut checked, mut changed, mut gone) = (0u64, 0u64, 0u64);
        let mut offset = 0;
        'pages: loop {
            let page = match store.leaderboard(guild, offset, SYNC_PAGE).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(%guild, error = %err, "/levels sync stopped");
                    break;
                }
            };
            offset += page.len() as u64;
            for member in &page {
                // Highest XP first: below the lowest reward, nobody has one due.
                if member.level < lowest {
                    break 'pages;
                }
                let roles = match http.guild_member(guild, member.user_id).await {
                    Ok(response) => match response.model().await {
                        Ok(found) => found.roles,
                        Err(_) => continue,
                    },
                    // Not a member any more (or Discord can't say): nothing to give.
                    Err(_) => {
                        gone += 1;
                        continue;
                    }
                };
                checked += 1;
                match xp
                    .sync_rewards(guild, member.user_id, member.level, &Held::Known(roles))
                    .await
                {
                    Ok(moved) => changed += u64::from(moved),
                    Err(err) => tracing::warn!(%guild, user = %member.user_id, error = %err,
                        "/levels sync could not move a member's roles"),
                }
            }
            if page.len() < SYNC_PAGE as usize {
                break;
            }
        }
        tracing::info!(%guild, checked, changed, gone, "/levels sync done");
        if let Some(modlog) = guilds.settings(guild).modlog_channel {
            let text = format!(
                "`/levels sync` done: {checked} member(s) checked, {changed} given or relieved of \
                 reward roles, {gone} no longer here."
            );
            let note = Post::text(Kind::ModLog, text, AllowedMentions::default());
            outbox.post(Some(guild), modlog, note);
        }
    });
    Ok(Reply::ephemeral(format!(
        "Checking the reward roles of the members with a level of {lowest} or more (of {members} \
         with XP): each gets exactly the rewards of their level. The mod-log says when it is done."
    )))
}

//! What happens when a member levels up: the announcement where the guild wants
//! it, and the role rewards up to the new level.

use keeper_store::LevelUpTarget;
use twilight_model::{
    channel::message::AllowedMentions,
    id::{Id, marker::ChannelMarker},
};

use crate::{
    announce::Announcement,
    context::Context,
    error::BotResult,
    template::{self, Vars},
    xp_buffer::LevelUp,
};

/// [`on_level_up`], a failure logged: the XP is stored whatever happens to the
/// announcement or the role.
pub async fn on_level_up_logged(ctx: &Context, level_up: LevelUp) {
    if let Err(err) = on_level_up(ctx, level_up).await {
        tracing::warn!(guild = %level_up.outcome.guild_id, user = %level_up.outcome.user_id,
            error = %err, "level-up effects failed");
    }
}

/// Grant one level-up's rewards, then queue its announcement (`announce`). Rewards
/// first: when Discord's rate limits hold requests back (and a shutdown cuts the
/// wait short), the role matters more than the message. Errors are logged by the
/// caller.
pub async fn on_level_up(ctx: &Context, level_up: LevelUp) -> BotResult<()> {
    grant_rewards(ctx, level_up).await?;
    let LevelUp { outcome, channel } = level_up;
    let settings = ctx.settings(outcome.guild_id).await?;
    let target: Option<Id<ChannelMarker>> = match settings.levelup {
        LevelUpTarget::Off => None,
        LevelUpTarget::Here => Some(channel),
        LevelUpTarget::Channel(channel) => Some(channel),
    };
    if let Some(target) = target {
        let info = ctx.guild_info(outcome.guild_id);
        let mention = format!("<@{}>", outcome.user_id);
        let text = template::render(
            settings.levelup_template(),
            &Vars {
                user: Some(&mention),
                username: None,
                server: Some(&info.name),
                level: Some(outcome.new_level),
                member_count: Some(info.member_count),
            },
        );
        ctx.announcer.announce(
            target,
            Announcement {
                text,
                user: outcome.user_id,
            },
        );
    }
    Ok(())
}

async fn grant_rewards(ctx: &Context, level_up: LevelUp) -> BotResult<()> {
    let outcome = level_up.outcome;
    let rewards = ctx.level_rewards(outcome.guild_id).await?;
    for reward in rewards
        .iter()
        .filter(|r| r.level > outcome.old_level && r.level <= outcome.new_level)
    {
        let result = ctx
            .http
            .add_guild_member_role(outcome.guild_id, outcome.user_id, reward.role_id)
            .await;
        match result {
            Ok(_) => ctx.role_granted(outcome.guild_id, reward.role_id),
            Err(err) => {
                tracing::warn!(guild = %outcome.guild_id, user = %outcome.user_id,
                    role = %reward.role_id, error = %err, "could not grant a level reward");
                if ctx.first_role_failure(outcome.guild_id, reward.role_id) {
                    report_role_failure(ctx, outcome.guild_id, reward.role_id, reward.level).await;
                }
            }
        }
    }
    Ok(())
}

/// Tell the guild's moderators, once, that a reward can't be granted.
async fn report_role_failure(
    ctx: &Context,
    guild: Id<twilight_model::id::marker::GuildMarker>,
    role: Id<twilight_model::id::marker::RoleMarker>,
    level: i32,
) {
    let Ok(settings) = ctx.settings(guild).await else {
        return;
    };
    let Some(modlog) = settings.modlog_channel else {
        return;
    };
    let text = format!(
        "I couldn't give the level {level} reward role <@&{role}>: I need the **Manage Roles** \
         permission and a role above it. I won't repeat this until it works again."
    );
    let none = AllowedMentions::default();
    if let Err(err) = ctx
        .http
        .create_message(modlog)
        .content(&text)
        .allowed_mentions(Some(&none))
        .await
    {
        tracing::warn!(%guild, error = %err, "could not write to the mod-log");
    }
}

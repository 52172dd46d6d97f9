//! MESSAGE_CREATE: XP for the author, and text commands (`!rank`, `!top`, `!help`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use keeper_store::{GuildSettings, XpAward};
use tokio_util::task::TaskTracker;
use twilight_model::{channel::Message, channel::message::AllowedMentions};

use crate::{
    command::{Reply, leaderboard, rank},
    context::Context,
    cooldown, prefix,
};

pub async fn handle(ctx: &Arc<Context>, tasks: &TaskTracker, message: Message) {
    let Some(guild) = message.guild_id else {
        return;
    };
    if message.author.bot || message.webhook_id.is_some() {
        return;
    }
    let settings = match ctx.settings(guild).await {
        Ok(settings) => settings,
        Err(err) => {
            // The database is down: award by the default rules rather than drop the
            // message; the award waits in the buffer until the database is back.
            tracing::debug!(%guild, error = %err, "settings unavailable; default XP rules");
            GuildSettings::defaults(guild)
        }
    };
    award(ctx, &settings, &message);

    let command = prefix::parse(&message.content, &settings.prefix, ctx.bot_id)
        .map(|cmd| (cmd.name, cmd.args.to_owned()));
    if let Some((name, args)) = command {
        let ctx = Arc::clone(ctx);
        let prefix = settings.prefix.clone();
        tasks.spawn(async move { text_command(&ctx, &message, &name, &args, &prefix).await });
    }
}

fn award(ctx: &Context, settings: &GuildSettings, message: &Message) {
    // Discord's timestamp, not our clock: a message replayed after a restart gets
    // the same cooldown decision it would have had live.
    let at = DateTime::<Utc>::from_timestamp_micros(message.timestamp.as_micros())
        .unwrap_or_else(Utc::now);
    let guild = settings.guild_id;
    let earns = ctx.cooldowns.lock().expect("cooldowns lock").try_award(
        guild,
        message.author.id,
        at,
        settings.xp_cooldown_secs,
    );
    let xp = if earns {
        cooldown::roll_xp(&mut rand::rng(), settings.xp_min, settings.xp_max)
    } else {
        0
    };
    let award = XpAward {
        guild_id: guild,
        user_id: message.author.id,
        xp,
        messages: 1,
        at,
    };
    ctx.xp.record(&award, message.channel_id);
}

async fn text_command(ctx: &Context, message: &Message, name: &str, args: &str, prefix: &str) {
    let Some(guild) = message.guild_id else {
        return;
    };
    let reply = match name {
        "rank" => {
            let target = message.mentions.iter().find(|u| u.id != ctx.bot_id);
            let (id, name) = target.map_or((message.author.id, &message.author.name), |u| {
                (u.id, &u.name)
            });
            rank::reply(ctx, guild, id, name).await
        }
        "top" | "leaderboard" | "lb" => {
            let page = args
                .split_whitespace()
                .next()
                .map_or(Ok(1), str::parse::<i64>);
            match page {
                Ok(page) => leaderboard::reply(ctx, guild, page).await,
                Err(_) => Ok(Reply::text(format!(
                    "Usage: `{prefix}top [page]`, e.g. `{prefix}top 2`."
                ))),
            }
        }
        "help" => Ok(Reply::text(help(prefix))),
        // Other bots share prefixes: an unknown command is none of our business.
        _ => return,
    };
    let reply = reply.unwrap_or_else(|err| {
        if err.is_internal() {
            tracing::error!(%guild, channel = %message.channel_id, user = %message.author.id,
                command = name, error = %err, "text command failed");
        }
        Reply::text(err.reply())
    });
    let none = AllowedMentions::default();
    let mut request = ctx
        .http
        .create_message(message.channel_id)
        .embeds(&reply.embeds)
        .allowed_mentions(Some(&none))
        .reply(message.id);
    if let Some(content) = &reply.content {
        request = request.content(content);
    }
    let result = request.await;
    if let Err(err) = result {
        tracing::warn!(%guild, channel = %message.channel_id, error = %err, "could not answer a text command");
    }
}

pub fn help(prefix: &str) -> String {
    format!(
        "**Keeper** counts XP as you chat.\n\
         `{prefix}rank [@member]` (or `/rank`): level, XP and place\n\
         `{prefix}top [page]` (or `/leaderboard`): the leaderboard\n\
         Admins: `/config`, `/xp`, `/levels`."
    )
}

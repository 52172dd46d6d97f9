//! MESSAGE_CREATE: XP for the author, and the text commands (`!rank`). Runs in
//! the shard loop and never waits: the guild's settings are in memory, the award
//! goes into the XP buffer, and a command (at most one per member per
//! [`crate::context::TEXT_COOLDOWN_SECS`]) runs as a task whose answer is queued
//! in the channel's outbox.

use std::sync::Arc;

use twilight_gateway::Event;

use crate::{command, context::Context, snowflake};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    let Event::MessageCreate(message) = event else {
        return;
    };
    let message = message.message;
    let Some(guild) = message.guild_id else {
        return;
    };
    if message.author.bot || message.webhook_id.is_some() {
        return;
    }
    let settings = ctx.guilds.settings(guild);
    ctx.xp.on_message(&settings, &message);
    if let Some(text) = command::text::parse(&message.content, &settings.prefix, ctx.bot_id)
        && command::text::is_known(&text.name)
    {
        // A member's commands within a few seconds of their last are ignored,
        // silently: a spammer gets one answer, not a queue of them.
        let at = snowflake::created_at(message.id.get());
        if !ctx.text_cooldowns.allow(guild, message.author.id, at) {
            tracing::debug!(%guild, user = %message.author.id, "text command inside the cooldown; ignored");
            return;
        }
        let (name, args) = (text.name, text.args.to_owned());
        let ctx2 = Arc::clone(ctx);
        ctx.tasks.spawn(async move {
            command::text::handle(&ctx2, &message, &name, &args, &settings.prefix).await
        });
    }
}

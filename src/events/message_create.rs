//! MESSAGE_CREATE: XP for the author, and the text commands (`!rank`).

use std::sync::Arc;

use futures_util::{FutureExt as _, future::BoxFuture};
use keeper_store::GuildSettings;
use twilight_gateway::Event;
use twilight_model::gateway::payload::incoming::MessageCreate;

use crate::{command, context::Context};

pub fn handle(ctx: &Arc<Context>, event: Event) -> BoxFuture<'_, ()> {
    match event {
        Event::MessageCreate(message) => on_message(ctx, *message).boxed(),
        _ => std::future::ready(()).boxed(),
    }
}

async fn on_message(ctx: &Arc<Context>, message: MessageCreate) {
    let message = message.message;
    let Some(guild) = message.guild_id else {
        return;
    };
    if message.author.bot || message.webhook_id.is_some() {
        return;
    }
    let settings = match ctx.guilds.settings(guild).await {
        Ok(settings) => settings,
        Err(err) => {
            // The database is down: award by the default rules rather than drop the
            // message; the award waits in the buffer until the database is back.
            tracing::debug!(%guild, error = %err, "settings unavailable; default XP rules");
            GuildSettings::defaults(guild)
        }
    };
    ctx.xp.on_message(&settings, &message);
    if let Some(text) = command::text::parse(&message.content, &settings.prefix, ctx.bot_id) {
        let (name, args) = (text.name, text.args.to_owned());
        let prefix = settings.prefix;
        let ctx2 = Arc::clone(ctx);
        ctx.tasks.spawn(async move {
            command::text::handle(&ctx2, &message, &name, &args, &prefix).await
        });
    }
}

//! GUILD_DELETE: Keeper left the guild (or it was deleted); the store records
//! when. An outage (the guild merely unavailable) keeps everything.

use std::sync::Arc;

use twilight_gateway::Event;

use crate::context::Context;

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::GuildDelete(guild) = event
        && !guild.unavailable.unwrap_or(false)
    {
        ctx.guilds.left(guild.id);
    }
}

//! GUILD_CREATE: remember the guild's name and member count for templates.

use std::sync::Arc;

use twilight_gateway::Event;
use twilight_model::gateway::payload::incoming::GuildCreate;

use crate::{context::Context, guilds::GuildInfo};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::GuildCreate(guild) = event
        && let GuildCreate::Available(guild) = *guild
    {
        let info = GuildInfo {
            name: guild.name,
            member_count: guild.member_count.unwrap_or(0),
        };
        ctx.guilds.set_info(guild.id, info);
    }
}

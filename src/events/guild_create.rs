//! GUILD_CREATE: remember the guild's name and member count for templates.

use twilight_model::gateway::payload::incoming::GuildCreate;

use crate::context::{Context, GuildInfo};

pub fn handle(ctx: &Context, guild: &GuildCreate) {
    if let GuildCreate::Available(guild) = guild {
        let info = GuildInfo {
            name: guild.name.clone(),
            member_count: guild.member_count.unwrap_or(0),
        };
        ctx.set_guild_info(guild.id, info);
    }
}

//! GUILD_UPDATE: the guild's new name (for `{server}`) and owner (who outranks
//! every role). Its roles change through the GUILD_ROLE_* events.

use std::sync::Arc;

use twilight_gateway::Event;

use crate::context::Context;

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::GuildUpdate(update) = event {
        let guild = update.0;
        let icon = guild.icon.map(|hash| hash.to_string());
        ctx.guilds
            .updated(guild.id, guild.name, icon, Some(guild.owner_id));
    }
}

//! GUILD_ROLE_UPDATE: a role's new name, position or permissions. A reward role
//! edited to carry a dangerous permission is no longer granted (`xp::level_up`).

use std::sync::Arc;

use twilight_gateway::Event;

use crate::{context::Context, guilds::guild_role};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::RoleUpdate(updated) = event {
        ctx.guilds
            .role_saved(updated.guild_id, guild_role(&updated.role));
    }
}

//! GUILD_ROLE_CREATE: a new role, which role rewards are checked against.

use std::sync::Arc;

use twilight_gateway::Event;

use crate::{context::Context, guilds::guild_role};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::RoleCreate(created) = event {
        ctx.guilds
            .role_saved(created.guild_id, guild_role(&created.role));
    }
}

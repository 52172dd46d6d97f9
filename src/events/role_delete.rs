//! GUILD_ROLE_DELETE: a role gone (a reward naming it is no longer granted).

use std::sync::Arc;

use twilight_gateway::Event;

use crate::context::Context;

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::RoleDelete(deleted) = event {
        ctx.guilds.role_deleted(deleted.guild_id, deleted.role_id);
    }
}

//! GUILD_MEMBER_REMOVE: one member fewer for `{member_count}` (stored).

use std::sync::Arc;

use twilight_gateway::Event;

use crate::context::Context;

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::MemberRemove(member) = event {
        ctx.guilds.add_members(member.guild_id, -1);
    }
}

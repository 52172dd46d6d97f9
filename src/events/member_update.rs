//! GUILD_MEMBER_UPDATE: Keeper's own roles changed (given a higher role, or its
//! role taken): which reward roles it can grant follows. Other members' updates
//! need nothing.

use std::sync::Arc;

use twilight_gateway::Event;

use crate::context::Context;

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::MemberUpdate(member) = event
        && member.user.id == ctx.bot_id
    {
        ctx.guilds.bot_roles(member.guild_id, member.roles);
    }
}

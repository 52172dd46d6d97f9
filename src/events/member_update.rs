//! GUILD_MEMBER_UPDATE: Keeper's own roles changed (given a higher role, or its
//! role taken): which reward roles it can grant follows. Another member's
//! update may set or lift a timeout, made in Discord's menus or by Keeper:
//! recorded as a case unless the cases have it already
//! ([`crate::discord_acts`]).

use std::sync::Arc;

use twilight_gateway::Event;

use crate::{context::Context, seen_acts::Seen};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    let Event::MemberUpdate(member) = event else {
        return;
    };
    if member.user.id == ctx.bot_id {
        ctx.guilds.bot_roles(member.guild_id, member.roles);
    } else if ctx.discord_acts.on() && !member.user.bot {
        ctx.discord_acts.seen(Seen::timeout(
            member.guild_id,
            member.user.id,
            member.communication_disabled_until,
            ctx.clock.now(),
        ));
    }
}

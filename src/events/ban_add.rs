//! GUILD_BAN_ADD: someone banned, by Keeper or in Discord's menus; recorded as
//! a case unless the cases have it already ([`crate::discord_acts`]).

use std::sync::Arc;

use twilight_gateway::Event;

use crate::{context::Context, seen_acts::Seen};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::BanAdd(ban) = event {
        let seen = Seen::ban(ban.guild_id, ban.user.id, true, ctx.clock.now());
        ctx.discord_acts.seen(seen);
    }
}

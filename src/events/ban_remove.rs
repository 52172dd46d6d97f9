//! GUILD_BAN_REMOVE: a ban lifted, by Keeper or in Discord's menus; recorded as
//! a case unless the cases have it already ([`crate::discord_acts`]).

use std::sync::Arc;

use twilight_gateway::Event;

use crate::{context::Context, seen_acts::Seen};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::BanRemove(ban) = event {
        let seen = Seen::ban(ban.guild_id, ban.user.id, false, ctx.clock.now());
        ctx.discord_acts.seen(seen);
    }
}

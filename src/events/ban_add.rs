//! GUILD_BAN_ADD: someone banned, by Keeper or in Discord's menus; recorded as
//! a case unless the cases have it already ([`crate::discord_acts`]).

use std::sync::Arc;

use keeper_store::CaseKind;
use twilight_gateway::Event;

use crate::{context::Context, seen_acts::Seen};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::BanAdd(ban) = event {
        ctx.discord_acts.seen(Seen {
            guild_id: ban.guild_id,
            user_id: ban.user.id,
            kind: CaseKind::Ban,
            until: None,
            at: ctx.clock.now(),
        });
    }
}

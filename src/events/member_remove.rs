//! GUILD_MEMBER_REMOVE: one member fewer for `{member_count}`, once per
//! departure whatever Discord replays (see [`Guilds::member_left`]).
//!
//! [`Guilds::member_left`]: crate::guilds::Guilds::member_left

use std::sync::Arc;

use keeper_store::Delivery;
use twilight_gateway::Event;

use crate::context::Context;

pub fn handle(ctx: &Arc<Context>, event: Event, seen: Option<Delivery>) {
    let Event::MemberRemove(member) = event else {
        return;
    };
    match seen {
        Some(seen) => ctx
            .guilds
            .member_left(member.guild_id, member.user.id, seen),
        // Before READY there is no session, and Discord sends no member events.
        None => {
            tracing::debug!(guild = %member.guild_id, "a departure outside any session; not counted")
        }
    }
}

//! GUILD_CREATE: everything Keeper needs to know of a guild (name, owner, member
//! count, roles, the roles Keeper holds), remembered and stored: a restart that
//! resumes gets no GUILD_CREATE, and reads it back.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use keeper_store::GuildFacts;
use twilight_gateway::Event;
use twilight_model::{
    gateway::payload::incoming::GuildCreate,
    guild::Guild,
    id::{Id, marker::UserMarker},
};

use crate::{context::Context, guilds::guild_role};

pub fn handle(ctx: &Arc<Context>, event: Event) {
    if let Event::GuildCreate(guild) = event
        && let GuildCreate::Available(guild) = *guild
    {
        ctx.guilds.created(facts(guild, ctx.bot_id));
    }
}

/// What Keeper keeps of a GUILD_CREATE. Keeper's own roles come from its member
/// in `members`, which Discord always includes.
fn facts(guild: Guild, bot: Id<UserMarker>) -> GuildFacts {
    let bot_roles = guild
        .members
        .iter()
        .find(|m| m.user.id == bot)
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    GuildFacts {
        guild_id: guild.id,
        name: guild.name,
        icon: guild.icon.map(|hash| hash.to_string()),
        owner_id: Some(guild.owner_id),
        member_count: guild.member_count.unwrap_or(0),
        roles: guild.roles.iter().map(guild_role).collect(),
        bot_roles,
        joined_at: guild
            .joined_at
            .and_then(|t| DateTime::<Utc>::from_timestamp_micros(t.as_micros())),
        left_at: None,
    }
}

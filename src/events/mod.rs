//! One file per gateway event Keeper acts on. `dispatch.rs` hands each event here.

pub mod guild_create;
pub mod member_add;
pub mod message_create;

use std::sync::Arc;

use tokio_util::task::TaskTracker;
use twilight_gateway::Event;

use crate::{command, context::Context};

/// Route one event. Work that talks to Discord or may wait on the database runs in
/// its own task (tracked, so shutdown waits for it); the XP bookkeeping of a
/// message runs inline, so awards are recorded in gateway order.
pub async fn handle(ctx: &Arc<Context>, tasks: &TaskTracker, event: Event) {
    match event {
        Event::Ready(ready) => {
            tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), shard = ?ready.shard, "ready");
        }
        Event::GuildCreate(guild) => guild_create::handle(ctx, &guild),
        Event::GuildDelete(guild) if !guild.unavailable.unwrap_or(false) => {
            ctx.forget_guild(guild.id)
        }
        Event::MessageCreate(message) => message_create::handle(ctx, tasks, message.message).await,
        Event::MemberAdd(member) => {
            tasks.spawn(member_add::handle(Arc::clone(ctx), member));
        }
        Event::MemberRemove(member) => {
            ctx.add_members(member.guild_id, -1);
        }
        Event::InteractionCreate(interaction) => {
            tasks.spawn(command::handle(Arc::clone(ctx), interaction.0));
        }
        _ => {}
    }
}

//! INTERACTION_CREATE: a slash command, answered by [`crate::command`].

use std::sync::Arc;

use futures_util::{FutureExt as _, future::BoxFuture};
use twilight_gateway::Event;

use crate::{command, context::Context};

pub fn handle(ctx: Arc<Context>, event: Event) -> BoxFuture<'static, ()> {
    match event {
        Event::InteractionCreate(interaction) => command::handle(ctx, interaction.0).boxed(),
        _ => std::future::ready(()).boxed(),
    }
}

//! READY: the shard's session began (a RESUMED is not routed: nothing to say).

use std::sync::Arc;

use twilight_gateway::Event;

use crate::context::Context;

pub fn handle(_: &Arc<Context>, event: Event) {
    if let Event::Ready(ready) = event {
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), shard = ?ready.shard, "ready");
    }
}

//! GUILD_MEMBER_ADD: one member more for `{member_count}`, and the welcome
//! message when the guild set a welcome channel; both once per join, whatever
//! Discord replays. At most once: the join is remembered in the transaction
//! that counts it, before the welcome is queued, so a crash between the two
//! loses that welcome, which beats greeting someone twice.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use keeper_store::Delivery;
use tokio::sync::oneshot;
use twilight_gateway::Event;
use twilight_model::{channel::message::AllowedMentions, gateway::payload::incoming::MemberAdd};

use crate::{
    context::Context,
    outbox::{Kind, Post},
    template::{self, Vars},
};

pub fn handle(ctx: &Arc<Context>, event: Event, seen: Option<Delivery>) {
    let Event::MemberAdd(member) = event else {
        return;
    };
    let Some(seen) = seen else {
        // Before READY there is no session, and Discord sends no member events.
        tracing::debug!(guild = %member.guild_id, "a join outside any session; not counted");
        return;
    };
    // Without its join time (Discord may leave it out), the delivery alone
    // tells a replay: it comes in the same session at or below this number.
    let joined_at = member
        .joined_at
        .and_then(|t| DateTime::<Utc>::from_timestamp_micros(t.as_micros()))
        .unwrap_or_else(Utc::now);
    // Queued here, in the shard loop, so the join is counted in gateway order
    // (a GUILD_CREATE just before or after it included).
    let counted = ctx
        .guilds
        .member_joined(member.guild_id, member.user.id, joined_at, seen);
    ctx.tasks.spawn(joined(Arc::clone(ctx), member, counted));
}

/// Welcome the member, once: `counted` answers the member count with them, or
/// `None` for a join counted (and welcomed) the first time it came.
async fn joined(
    ctx: Arc<Context>,
    member: Box<MemberAdd>,
    counted: oneshot::Receiver<Option<u64>>,
) {
    // An error: the writer is gone, the process is ending.
    let Ok(Some(member_count)) = counted.await else {
        return;
    };
    if member.user.bot {
        return;
    }
    let settings = ctx.guilds.settings(member.guild_id);
    let Some(channel) = settings.welcome_channel else {
        return;
    };
    let info = ctx.guilds.info(member.guild_id);
    let mention = format!("<@{}>", member.user.id);
    let text = template::render(
        settings.welcome_template(),
        &Vars {
            user: Some(&mention),
            username: Some(&member.user.name),
            server: Some(&info.name),
            level: None,
            member_count: Some(member_count),
        },
    );
    // The newcomer may be pinged; nobody else, whatever the template contains.
    let mentions = AllowedMentions {
        users: vec![member.user.id],
        ..Default::default()
    };
    // Queued: a join raid waits in a bounded queue, not in a task per member.
    let post = Post::text(Kind::Welcome, text, mentions);
    ctx.outbox.post(Some(member.guild_id), channel, post);
}

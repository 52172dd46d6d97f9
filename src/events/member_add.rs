//! GUILD_MEMBER_ADD: one member more for `{member_count}`, and the welcome
//! message when the guild set a welcome channel; both once per join, whatever
//! Discord replays.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use futures_util::{FutureExt as _, future::BoxFuture};
use twilight_gateway::Event;
use twilight_model::{channel::message::AllowedMentions, gateway::payload::incoming::MemberAdd};

use crate::{
    context::Context,
    outbox::{Kind, Post},
    template::{self, Vars},
};

pub fn handle(ctx: Arc<Context>, event: Event) -> BoxFuture<'static, ()> {
    match event {
        Event::MemberAdd(member) => joined(ctx, member).boxed(),
        _ => std::future::ready(()).boxed(),
    }
}

async fn joined(ctx: Arc<Context>, member: Box<MemberAdd>) {
    // A replayed join was counted (and welcomed) the first time.
    if !first_join(&ctx, &member).await {
        return;
    }
    let member_count = ctx.guilds.add_members(member.guild_id, 1);
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

/// Whether this join is new (and now remembered): a resumed session replays
/// GUILD_MEMBER_ADD after a crash, and a join is counted and welcomed once. At
/// most once: a crash between remembering and posting loses that welcome (or
/// that count, until the next GUILD_CREATE), which beats greeting someone
/// twice. Without its join time (or its database) a join can't be told from its
/// replay, and is taken as new.
async fn first_join(ctx: &Context, member: &MemberAdd) -> bool {
    let Some(joined_at) = member
        .joined_at
        .and_then(|t| DateTime::<Utc>::from_timestamp_micros(t.as_micros()))
    else {
        return true;
    };
    match ctx
        .store
        .welcome_once(member.guild_id, member.user.id, joined_at)
        .await
    {
        Ok(first) => first,
        Err(err) => {
            tracing::warn!(guild = %member.guild_id, user = %member.user.id, error = %err,
                "could not check the welcome against a replay; welcoming");
            true
        }
    }
}

//! The per-shard loop: read an event, hand it to [`events`], record how far the
//! shard got. Every gateway event Keeper receives passes through here. Chat
//! that only earns XP is read from the raw payload
//! ([`events::message_create::handle_raw`]); every other event is parsed by
//! twilight and handed over whole.
//!
//! The checkpoint after each event is what makes a restart exact: the XP
//! pipeline stores it with the awards of the events it covers (see
//! [`crate::xp`]), and a restarted shard resumes from it.

use std::sync::Arc;

use chrono::Utc;
use futures_util::StreamExt as _;
use keeper_store::GatewaySession;
use tokio_util::sync::CancellationToken;
use twilight_gateway::{
    CloseFrame, Event, EventTypeFlags, Message, Shard, ShardState, error::ReceiveMessageError,
};

use crate::{context::Context, events, identify::StoreQueue, metrics::ShardUp};

/// How a shard's loop ended.
#[derive(Debug)]
pub enum ShardEnd {
    /// Asked to stop; the session was closed so it can be resumed.
    Shutdown,
    /// Discord refused the shard for good (bad token, intents not enabled...):
    /// the operator's to fix.
    Refused(String),
    /// The shard's stream ended without being asked to.
    Ended(String),
}

/// Run `shard` until `shutdown` (or Discord refuses it for good), parsing the
/// events of `filter`.
pub async fn run(
    mut shard: Shard<StoreQueue>,
    ctx: Arc<Context>,
    filter: EventTypeFlags,
    shutdown: CancellationToken,
) -> ShardEnd {
    let id = shard.id();
    // RESUMED is handled by no event file but says the shard is connected again
    // (for /readyz and keeper_shard_sessions_total).
    let filter = filter | EventTypeFlags::RESUMED;
    let mut closing = false;
    loop {
        let item = tokio::select! {
            biased;
            () = shutdown.cancelled(), if !closing => {
                // Code 4000 keeps the session resumable: a restart picks up the events
                // sent while Keeper was down (1000/1001 would end the session).
                shard.close(CloseFrame::RESUME);
                closing = true;
                continue;
            }
            item = next_event(&mut shard, &ctx, filter) => item,
        };
        let event = match item {
            None => {
                return if closing {
                    ShardEnd::Shutdown
                } else {
                    ShardEnd::Ended(format!("shard {id}'s connection ended unexpectedly"))
                };
            }
            Some(Ok(event)) => event,
            Some(Err(err)) => {
                // A message that did not parse leaves the session up; one
                // that ended the connection leaves the shard reconnecting.
                if !matches!(shard.state(), ShardState::Active | ShardState::Resuming) {
                    ctx.metrics.shard(id.number(), ShardUp::Down);
                }
                tracing::warn!(shard = %id, error = %err, "gateway error; the shard reconnects by itself");
                continue;
            }
        };
        if let Some(name) = event.kind().name() {
            ctx.metrics.event(name);
        }
        match &event {
            Event::Ready(_) => ctx.metrics.session(id.number(), false),
            Event::Resumed => ctx.metrics.session(id.number(), true),
            Event::GatewayClose(_) => ctx.metrics.disconnected(id.number()),
            _ => {}
        }
        if let Event::GatewayClose(frame) = &event {
            if closing {
                return ShardEnd::Shutdown;
            }
            if let Some(reason) = frame.as_ref().and_then(|f| fatal_reason(f.code)) {
                tracing::error!(shard = %id, "{reason}");
                return ShardEnd::Refused(reason.to_owned());
            }
            tracing::info!(shard = %id, code = ?frame.as_ref().map(|f| f.code), "gateway closed; reconnecting");
            continue;
        }
        events::handle(&ctx, event, shard.session());
        checkpoint(&ctx, &shard);
    }
}

/// The next event of `filter` to hand over whole. Chat that only earns XP is
/// handled on the way, from the raw payload, and checkpointed as any event.
/// Cancel safe, as twilight's `next_event`: a message is handled or returned
/// before the next is read.
async fn next_event(
    shard: &mut Shard<StoreQueue>,
    ctx: &Context,
    filter: EventTypeFlags,
) -> Option<Result<Event, ReceiveMessageError>> {
    let chat = filter.contains(EventTypeFlags::MESSAGE_CREATE);
    loop {
        match shard.next().await? {
            Ok(Message::Close(frame)) => return Some(Ok(Event::GatewayClose(frame))),
            Ok(Message::Text(json)) => {
                if chat && events::message_create::handle_raw(ctx, &json) {
                    ctx.metrics.event("MESSAGE_CREATE");
                    checkpoint(ctx, shard);
                    continue;
                }
                if let Some(event) = twilight_gateway::parse(json, filter).transpose() {
                    return Some(event.map(Event::from));
                }
            }
            Err(err) => return Some(Err(err)),
        }
    }
}

/// Every event of `shard` up to its sequence has been handed over.
fn checkpoint(ctx: &Context, shard: &Shard<StoreQueue>) {
    if let (Some(session), Some(resume_url)) = (shard.session(), shard.resume_url()) {
        let id = shard.id();
        ctx.xp.checkpoint(GatewaySession {
            shard_id: id.number(),
            shard_total: id.total(),
            session_id: session.id().to_owned(),
            resume_url: resume_url.to_owned(),
            sequence: session.sequence(),
            updated_at: Utc::now(),
        });
    }
}

/// What an operator must do about a close code Discord will not let us reconnect from.
pub fn fatal_reason(code: u16) -> Option<&'static str> {
    Some(match code {
        4004 => "Discord rejected the token: check DISCORD_TOKEN (Bot tab of the developer portal)",
        4010 => "Discord rejected the shard number: check --shards and --total-shards",
        4011 => {
            "Discord requires more shards for this many guilds: remove --total-shards or raise it"
        }
        4012 => "Discord rejected the gateway version: upgrade Keeper",
        4013 => "Discord rejected the intents: this is a bug in Keeper, please report it",
        4014 => {
            "Discord refused a privileged intent: enable SERVER MEMBERS and MESSAGE CONTENT in the developer \
             portal (Bot tab), or turn the features off with KEEPER_MEMBER_EVENTS=false / KEEPER_MESSAGE_CONTENT=false"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn fatal_codes_have_remedies() {
        for code in [4004, 4010, 4011, 4012, 4013, 4014] {
            assert!(super::fatal_reason(code).is_some(), "{code}");
        }
        for code in [1000, 1001, 4000, 4007, 4009] {
            assert!(
                super::fatal_reason(code).is_none(),
                "{code} can be reconnected from"
            );
        }
    }
}

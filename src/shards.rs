//! Which shards this process runs, and how each starts: resuming the session
//! stored with its last XP checkpoint when there is one (Discord then replays
//! what was sent while Keeper was down), identifying afresh otherwise.

use std::{sync::Arc, time::Duration};

use keeper_store::Store;
use twilight_gateway::{ConfigBuilder, Session, Shard, ShardId};
use twilight_http::Client;

use crate::{
    config::{DiscordConfig, ShardRange},
    discord::startup_request,
    error::Fatal,
    events,
    identify::StoreQueue,
};

/// Build this process's shards, each with its stored session when it has one.
pub async fn build(
    http: &Client,
    discord: &DiscordConfig,
    token: &str,
    store: &Arc<dyn Store>,
) -> Result<Vec<Shard<StoreQueue>>, Fatal> {
    let info = startup_request("asking for the gateway", discord, || {
        http.gateway().authed()
    })
    .await?
    .value;
    let total = discord.total_shards.unwrap_or(info.shards.max(1));
    let range = match discord.shards {
        Some(range) => range.within(total).map_err(Fatal::Config)?,
        None => ShardRange {
            first: 0,
            last: total - 1,
        },
    };
    let limit = &info.session_start_limit;
    // Discord allows `max_concurrency` identifies per 5 s across the whole bot;
    // the queue claims each in the database, so every process takes its turn.
    let queue = StoreQueue::new(
        Arc::clone(store),
        u32::from(limit.max_concurrency),
        Duration::from_millis(discord.identify_window_ms),
        limit.remaining,
        Duration::from_millis(limit.reset_after),
    );
    tracing::info!(
        first = range.first,
        last = range.last,
        total,
        max_concurrency = limit.max_concurrency,
        "starting shards"
    );
    let mut shards = Vec::new();
    for number in range.first..=range.last {
        let id = ShardId::new(number, total);
        let mut builder =
            ConfigBuilder::new(token.to_owned(), events::intents(discord)).queue(queue.clone());
        if let Some(url) = &discord.gateway_url {
            builder = builder.proxy_url(url.trim_end_matches('/').to_owned());
        }
        builder = resume(builder, store.as_ref(), id).await;
        shards.push(Shard::with_config(id, builder.build()));
    }
    Ok(shards)
}

/// The shard's stored session, when it was saved for the same number of shards.
async fn resume(
    builder: ConfigBuilder<StoreQueue>,
    store: &dyn Store,
    id: ShardId,
) -> ConfigBuilder<StoreQueue> {
    match store.session(id.number()).await {
        Ok(Some(saved)) if saved.shard_total == id.total() => {
            tracing::info!(shard = %id, sequence = saved.sequence, "resuming the stored session");
            builder
                .session(Session::new(saved.sequence, saved.session_id))
                .resume_url(saved.resume_url)
        }
        Ok(_) => builder,
        Err(err) => {
            tracing::warn!(shard = %id, error = %err, "could not read the stored session; identifying afresh");
            builder
        }
    }
}

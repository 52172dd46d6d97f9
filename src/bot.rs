//! `keeper run`: connect to Discord, start the shards, and stop cleanly.
//!
//! Start-up: who are we (REST), register the commands, how many shards, then one
//! task per shard (`dispatch::run`) resuming its stored session when it has one, and
//! one task flushing XP. Shutdown (SIGTERM/SIGINT): shards close with code 4000 so
//! their sessions stay resumable, running handlers finish, the last XP and session
//! checkpoints are written, that write's level-ups get their rewards and
//! announcements (within a short grace), the pool closes; all within 10 s.

use std::{sync::Arc, time::Duration};

use keeper_store::Store;
use tokio::task::JoinSet;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use twilight_gateway::{ConfigBuilder, Intents, Session, Shard, ShardId, queue::InMemoryQueue};
use twilight_http::Client;

use crate::{
    cli::Fatal,
    command,
    config::{Config, DiscordConfig},
    context::Context,
    dispatch::{self, ShardEnd},
    leveling,
    xp_buffer::LevelUp,
};

/// Everything must be stopped within 10 s of a signal; leave margin for the pool.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(8);
/// How long a shutdown waits for level-up announcements held back by rate limits.
const ANNOUNCE_GRACE: Duration = Duration::from_secs(2);

/// The intents the enabled features need, and no more.
pub fn intents(discord: &DiscordConfig) -> Intents {
    let mut intents = Intents::GUILDS | Intents::GUILD_MESSAGES;
    if discord.message_content {
        intents |= Intents::MESSAGE_CONTENT;
    }
    if discord.member_events {
        intents |= Intents::GUILD_MEMBERS;
    }
    intents
}

pub fn http_client(discord: &DiscordConfig, token: &str) -> Client {
    http_builder(discord, token).build()
}

/// The client for answering interactions, without twilight's rate limiter: that
/// limiter queues every request to a path it has not seen a bucket for behind one
/// another, and each interaction's callback path is new, so under load answers
/// waited for each other (up to a second at 280 commands/s through the simulator).
/// Discord exempts interaction responses from the global limit and each one is
/// sent once; a 429 would surface as a logged error, never a crash.
pub fn interaction_client(discord: &DiscordConfig, token: &str) -> Client {
    http_builder(discord, token).ratelimiter(None).build()
}

fn http_builder(discord: &DiscordConfig, token: &str) -> twilight_http::client::ClientBuilder {
    let mut builder = Client::builder()
        .token(token.to_owned())
        .timeout(Duration::from_secs(10));
    if let Some(api) = &discord.api_url {
        builder = builder.proxy(api.host.clone(), api.use_http);
    }
    builder
}

/// Run the bot until a signal (or `stop`) arrives.
pub async fn run(
    config: &Config,
    store: Arc<dyn Store>,
    stop: CancellationToken,
) -> Result<(), Fatal> {
    let discord = &config.discord;
    let token = discord
        .token
        .as_ref()
        .ok_or_else(|| Fatal::Config("DISCORD_TOKEN: not set; put the bot's token in .env or the environment (or try `keeper demo`)".into()))?;
    // twilight's TLS needs a process-wide crypto provider; a second install (tests
    // starting several bots) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = Arc::new(http_client(discord, &token.0));

    let me = startup_request("fetching the bot's user", http.current_user()).await?;
    let app = startup_request("fetching the application", http.current_user_application()).await?;
    let ctx = Arc::new(Context::new(
        Arc::clone(&http),
        Arc::new(interaction_client(discord, &token.0)),
        Arc::clone(&store),
        app.id,
        me.id,
    ));
    tracing::info!(user = %me.name, id = %me.id, "logged in");

    if let Err(err) =
        command::register(&ctx, discord.dev_guild.map(twilight_model::id::Id::from)).await
    {
        tracing::error!(error = %err, "could not register the slash commands; they may be out of date");
    }

    let info = startup_request("asking for the gateway", http.gateway().authed()).await?;
    let total = discord.total_shards.unwrap_or(info.shards.max(1));
    let range = match discord.shards {
        Some(range) => range.within(total).map_err(Fatal::Config)?,
        None => crate::config::ShardRange {
            first: 0,
            last: total - 1,
        },
    };
    let limit = &info.session_start_limit;
    let queue = InMemoryQueue::new(
        limit.max_concurrency.max(1),
        limit.remaining,
        Duration::from_millis(limit.reset_after),
        limit.total,
    );
    tracing::info!(
        first = range.first,
        last = range.last,
        total,
        max_concurrency = limit.max_concurrency,
        "starting shards"
    );

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let mut shards = JoinSet::new();
    for number in range.first..=range.last {
        let id = ShardId::new(number, total);
        let mut builder =
            ConfigBuilder::new(token.0.clone(), intents(discord)).queue(queue.clone());
        if let Some(url) = &discord.gateway_url {
            builder = builder.proxy_url(url.trim_end_matches('/').to_owned());
        }
        match store.session(number).await {
            Ok(Some(saved)) if saved.shard_total == total => {
                tracing::info!(shard = %id, sequence = saved.sequence, "resuming the stored session");
                builder = builder
                    .session(Session::new(saved.sequence, saved.session_id))
                    .resume_url(saved.resume_url);
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(shard = %id, error = %err, "could not read the stored session; identifying afresh")
            }
        }
        let shard = Shard::with_config(id, builder.build());
        shards.spawn(dispatch::run(
            shard,
            Arc::clone(&ctx),
            shutdown.clone(),
            tasks.clone(),
        ));
    }
    let flusher = tokio::spawn(flush_loop(
        Arc::clone(&ctx),
        Duration::from_millis(config.xp_flush_ms),
        shutdown.clone(),
        tasks.clone(),
    ));

    let fatal = tokio::select! {
        () = stop.cancelled() => None,
        () = signal() => None,
        end = shards.join_next() => match end {
            Some(Ok(ShardEnd::Fatal(reason))) => Some(reason),
            _ => None,
        },
    };
    tracing::info!("shutting down");
    shutdown.cancel();
    let deadline = tokio::time::Instant::now() + SHUTDOWN_BUDGET;
    let _ = tokio::time::timeout_at(deadline, async {
        while shards.join_next().await.is_some() {}
    })
    .await;
    shards.abort_all();
    // The flusher before the handlers: a flush it has begun ends by handing its
    // level-ups to `tasks`.
    let _ = tokio::time::timeout_at(deadline, flusher).await;
    tasks.close();
    let _ = tokio::time::timeout_at(deadline, tasks.wait()).await;
    // Whatever is still pending (and the final session checkpoints) is written now.
    let pending = ctx.xp.pending_members();
    match tokio::time::timeout_at(
        deadline + Duration::from_secs(1),
        ctx.xp.flush(store.as_ref()),
    )
    .await
    {
        Ok(flushed) => {
            match &flushed.error {
                None => tracing::info!(members = pending, "final XP written; sessions saved"),
                Some(err) => {
                    tracing::error!(members = pending, error = %err, "could not write the final XP; Discord will replay it on resume")
                }
            }
            // Level-ups in the last write are rewarded like any other: a member who
            // reached a reward level just before the shutdown gets the role now,
            // not at their next level-up.
            spawn_level_ups(&ctx, &tasks, flushed.level_ups);
        }
        Err(_) => tracing::error!(
            members = pending,
            "the final XP write timed out; Discord will replay it on resume"
        ),
    }
    // Rewards and announcements still waiting on Discord's rate limits get a short
    // grace, not the whole budget: the XP they follow from is stored.
    let grace = deadline.min(tokio::time::Instant::now() + ANNOUNCE_GRACE);
    if tokio::time::timeout_at(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "shutting down before every level-up's rewards were granted"
        );
    }
    ctx.announcer.finish(grace).await;
    store.close().await;
    match fatal {
        Some(reason) => Err(Fatal::Config(reason)),
        None => Ok(()),
    }
}

/// One request Keeper can't start without, its failure told as `what` failed.
async fn startup_request<T>(
    what: &str,
    request: impl std::future::IntoFuture<
        Output = Result<twilight_http::Response<T>, twilight_http::Error>,
    >,
) -> Result<T, Fatal>
where
    T: serde::de::DeserializeOwned + Unpin + Send,
{
    let result: crate::error::BotResult<T> = async { Ok(request.await?.model().await?) }.await;
    result.map_err(|err| discord_fatal(what, &err))
}

/// A start-up request to Discord failed: a rejected token is a configuration
/// problem (exit 2), anything else a run-time one.
fn discord_fatal(what: &str, err: &crate::error::BotError) -> Fatal {
    use twilight_http::error::ErrorType;
    let rejected = match err {
        crate::error::BotError::Http(http) => match http.kind() {
            ErrorType::Unauthorized => true,
            ErrorType::Response { status, .. } => status.get() == 401,
            _ => false,
        },
        _ => false,
    };
    if rejected {
        Fatal::Config(
            "DISCORD_TOKEN: Discord rejected the token (401); copy it again from the Bot tab"
                .into(),
        )
    } else {
        Fatal::Runtime(format!("{what}: {err}"))
    }
}

/// Write pending XP every `every` (250 ms); announce level-ups. A failing database is retried
/// with backoff, its batch kept in memory, and the outage logged once.
async fn flush_loop(
    ctx: Arc<Context>,
    every: Duration,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let mut delay = every;
    let mut failing_since: Option<tokio::time::Instant> = None;
    let mut flushes: u64 = 0;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        let flushed = ctx.xp.flush(ctx.store.as_ref()).await;
        // Level-ups of what was written are announced even when another part of
        // the flush failed.
        spawn_level_ups(&ctx, &tasks, flushed.level_ups);
        match flushed.error {
            None => {
                if let Some(since) = failing_since.take() {
                    tracing::warn!(after = ?since.elapsed(), "database reachable again; held XP written");
                }
                delay = every;
            }
            Some(err) => {
                if failing_since.is_none() {
                    failing_since = Some(tokio::time::Instant::now());
                    tracing::error!(error = %err, members = ctx.xp.pending_members(), "cannot write XP; holding it in memory and retrying");
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
        flushes += 1;
        if flushes.is_multiple_of(2_400) {
            ctx.cooldowns
                .lock()
                .expect("cooldowns lock")
                .prune(chrono::Utc::now());
        }
    }
}

/// Each level-up's rewards and announcement, as a task of `tasks` (which the
/// shutdown waits for).
fn spawn_level_ups(ctx: &Arc<Context>, tasks: &TaskTracker, level_ups: Vec<LevelUp>) {
    for level_up in level_ups {
        let ctx = Arc::clone(ctx);
        tasks.spawn(async move { leveling::on_level_up_logged(&ctx, level_up).await });
    }
}

/// SIGINT (Ctrl-C) or SIGTERM (docker stop, systemd).
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

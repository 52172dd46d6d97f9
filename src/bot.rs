//! `keeper run`: start-up and shutdown; the work in between happens in the shard
//! loops (`dispatch`) and the XP pipeline (`xp`).
//!
//! Start-up: who are we (REST), register the commands, then one task per shard
//! (`shards` says which, resuming stored sessions) and the XP flush loop.
//! Shutdown (SIGTERM/SIGINT): shards close with code 4000 so their sessions stay
//! resumable, running handlers finish, the last XP and session checkpoints are
//! written, that write's level-ups get their effects within a short grace, the
//! pool closes; all within 10 s.

use std::{sync::Arc, time::Duration};

use keeper_store::Store;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use twilight_model::id::Id;

use crate::{
    acts,
    avatars::{self, Avatars},
    backups, command,
    config::{Config, PublicUrl},
    context::Context,
    discord::{self, startup_request},
    discord_acts,
    dispatch::{self, ShardEnd},
    error::Fatal,
    events, http,
    outbox::OutboxStats,
    retention,
    seen_acts::DiscordActs,
    shards,
    snowflake::DiscordClock,
    web, xp,
};

/// Everything must be stopped within 10 s of a signal: 8 s for the shards, the
/// handlers and the effects, then the last write (`Xp::finish`, at most half a
/// second more) and closing the pool (at most [`CLOSE_LIMIT`]).
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(8);
const CLOSE_LIMIT: Duration = Duration::from_millis(500);

/// Run the bot until a signal (or `stop`) arrives.
pub async fn run(
    config: &Config,
    store: Arc<dyn Store>,
    stop: CancellationToken,
) -> Result<(), Fatal> {
    run_with_stats(config, store, stop, Arc::default()).await
}

/// [`run`], counting what the outbox drops or may not post in `stats` (which
/// tests read).
pub async fn run_with_stats(
    config: &Config,
    store: Arc<dyn Store>,
    stop: CancellationToken,
    stats: Arc<OutboxStats>,
) -> Result<(), Fatal> {
    let discord = &config.discord;
    let token = discord
        .token
        .as_ref()
        .ok_or_else(|| Fatal::Config("DISCORD_TOKEN: not set; put the bot's token in .env or the environment (or try `keeper demo`)".into()))?;
    // twilight's TLS needs a process-wide crypto provider; a second install (tests
    // starting several bots) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Bound first: a port already taken is the operator's to fix, before
    // anything connects.
    let probes = match config.http_addr {
        Some(addr) => Some(http::bind(addr).await?),
        None => None,
    };
    let ctx = Arc::new(log_in(config, &token.0, store, stats).await?);
    // Before any shard connects: handling a message must never wait on the
    // database, and a replayed message must be decided as it was live.
    // The guild facts too: a resumed session gets no GUILD_CREATE.
    let guilds = ctx.guilds.load().await.map_err(Fatal::database)?;
    let cooling = ctx.xp.load_cooldowns().await.map_err(Fatal::database)?;
    tracing::info!(guilds, cooling, "guilds and cooldowns read");
    if let Some(writer) = ctx.guilds.writer() {
        tokio::spawn(writer);
    }
    // No session replays a day back: older records of applied interactions only
    // take room.
    if let Err(err) = ctx
        .store
        .prune_applied(chrono::Utc::now() - chrono::Duration::days(1))
        .await
    {
        tracing::warn!(error = %err, "could not prune the applied interactions");
    }
    if let Err(err) = command::register(&ctx, discord.dev_guild.map(Id::from)).await {
        tracing::error!(error = %err, "could not register the slash commands; they may be out of date");
    }

    let shutdown = CancellationToken::new();
    // Before any shard connects: acts recorded until now are a past run's.
    let started = chrono::Utc::now();
    let filter = events::filter(discord);
    let mut running = JoinSet::new();
    let shards = shards::build(&ctx.http, discord, &token.0, &ctx.store).await?;
    if let Some(shard) = shards.first() {
        ctx.outbox
            .share_global_limit(shards.len() as u32, shard.id().total());
    }
    ctx.metrics
        .expect_shards(shards.iter().map(|s| s.id().number()));
    if let Some(listener) = probes {
        tokio::spawn(http::serve(
            listener,
            Arc::clone(&ctx.metrics),
            web::Web::new(
                Arc::clone(&ctx.store),
                &discord.cdn_url,
                config.public_url.as_ref().map(PublicUrl::as_str),
            ),
            shutdown.clone(),
        ));
    }
    for shard in shards {
        running.spawn(dispatch::run(
            shard,
            Arc::clone(&ctx),
            filter,
            shutdown.clone(),
        ));
    }
    // Lifts temporary bans (after completing the acts a stop left pending).
    let lifter = tokio::spawn(acts::lift_bans(Arc::clone(&ctx), started, shutdown.clone()));
    // Records what moderators do in Discord's menus, in gateway order.
    let recorder = tokio::spawn(discord_acts::run(Arc::clone(&ctx), shutdown.clone()));
    // Deletes the data of guilds left longer ago than KEEPER_GUILD_RETENTION.
    let retention = tokio::spawn(retention::run(
        Arc::clone(&ctx),
        config.guild_retention.0,
        shutdown.clone(),
    ));
    // Scheduled backups, when KEEPER_BACKUP_EVERY asks for them.
    let backups = tokio::spawn(backups::run(
        Arc::clone(&ctx.store),
        config.backups.clone(),
        shutdown.clone(),
    ));
    let mut flusher = tokio::spawn(xp::flush::run(
        Arc::clone(&ctx.xp),
        Duration::from_millis(config.xp_flush_ms),
        shutdown.clone(),
        Arc::clone(&ctx.metrics),
    ));

    // Only a requested stop ends the bot with success; a shard or the flush loop
    // ending on its own is a failure a service manager should see (and restart).
    let fatal = tokio::select! {
        () = stop.cancelled() => None,
        () = signal() => None,
        end = running.join_next() => Some(shard_ended(end)),
        end = &mut flusher => Some(Fatal::Runtime(format!(
            "the XP flush loop stopped{}", task_failure(end.err())
        ))),
    };
    if let Some(fatal) = &fatal {
        tracing::error!("{fatal}; shutting down");
    }
    shut_down(&ctx, shutdown, running, flusher).await;
    // It stops between lifts when asked; one under way finishes or is claimed
    // again after its lease.
    if tokio::time::timeout(Duration::from_secs(2), lifter)
        .await
        .is_err()
    {
        tracing::warn!("the ban lifts did not stop in time");
    }
    // A backup under way is abandoned (its file keeps its temporary name).
    backups.abort();
    // A purge is one transaction: abandoned, it did nothing.
    retention.abort();
    // The shards have stopped: it records what they queued, then ends.
    if tokio::time::timeout(Duration::from_secs(5), recorder)
        .await
        .is_err()
    {
        tracing::warn!("acts from Discord's menus still queued were not recorded");
    }
    // Closing waits for connections in use; one lost to a silent database never
    // comes back.
    if tokio::time::timeout(CLOSE_LIMIT, ctx.store.close())
        .await
        .is_err()
    {
        tracing::warn!("the database connections did not close in time; leaving them");
    }
    fatal.map_or(Ok(()), Err)
}

/// Why the bot stops when a shard's task ended first.
fn shard_ended(end: Option<Result<ShardEnd, JoinError>>) -> Fatal {
    match end {
        Some(Ok(ShardEnd::Refused(reason))) => Fatal::Config(reason),
        Some(Ok(ShardEnd::Ended(reason))) => Fatal::Runtime(reason),
        Some(Ok(ShardEnd::Shutdown)) => Fatal::Runtime("a shard closed without being asked".into()),
        Some(Err(err)) => {
            Fatal::Runtime(format!("a shard's task failed{}", task_failure(Some(err))))
        }
        None => Fatal::Runtime("no shard to run".into()),
    }
}

/// `: <the panic's message>` for a task that panicked; empty otherwise.
fn task_failure(err: Option<JoinError>) -> String {
    let Some(err) = err else {
        return String::new();
    };
    match err.try_into_panic() {
        Ok(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            format!(": {message}")
        }
        Err(err) => format!(": {err}"),
    }
}

/// Who Keeper is on Discord, and the context every handler shares.
async fn log_in(
    config: &Config,
    token: &str,
    store: Arc<dyn Store>,
    stats: Arc<OutboxStats>,
) -> Result<Context, Fatal> {
    let http = Arc::new(discord::http_client(&config.discord, token));
    let discord = &config.discord;
    let me = startup_request("fetching the bot's user", discord, || http.current_user()).await?;
    let app = startup_request("fetching the application", discord, || {
        http.current_user_application()
    })
    .await?
    .value;
    let clock = me.clock.unwrap_or_default();
    if clock != DiscordClock::default() {
        tracing::warn!(
            ahead_ms = clock.ahead().num_milliseconds(),
            "this machine's clock is off Discord's; Keeper corrects for it, but keep it synced (NTP)"
        );
    }
    let me = me.value;
    tracing::info!(user = %me.name, id = %me.id, "logged in");
    let interactions = Arc::new(discord::interaction_client(&config.discord, token));
    let mut ctx = Context::new(http, interactions, store, app.id, me.id, stats);
    ctx.clock = clock;
    ctx.avatars = Avatars::new(&config.discord.cdn_url, avatars::CACHE_BYTES);
    ctx.public_url = config
        .public_url
        .as_ref()
        .map(|url| url.as_str().to_owned());
    ctx.discord_acts = DiscordActs::new(events::Feature::DiscordModeration.on(discord));
    Ok(ctx)
}

/// Stop the shards, let running work finish, and write what is pending, within
/// [`SHUTDOWN_BUDGET`].
async fn shut_down(
    ctx: &Context,
    shutdown: CancellationToken,
    mut running: JoinSet<ShardEnd>,
    mut flusher: JoinHandle<()>,
) {
    tracing::info!("shutting down");
    shutdown.cancel();
    let deadline = tokio::time::Instant::now() + SHUTDOWN_BUDGET;
    let _ = tokio::time::timeout_at(deadline, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    running.abort_all();
    // The flush loop before the handlers: a flush it has begun ends by handing
    // its level-ups to `ctx.tasks`. One stuck on a silent database is dropped at
    // the deadline: what it held was not stored with its checkpoint, so Discord
    // replays it after the restart.
    if !flusher.is_finished()
        && tokio::time::timeout_at(deadline, &mut flusher)
            .await
            .is_err()
    {
        flusher.abort();
        tracing::warn!("the XP flush did not finish in time; Discord will replay what it held");
    }
    ctx.tasks.close();
    let _ = tokio::time::timeout_at(deadline, ctx.tasks.wait()).await;
    ctx.xp.finish(deadline).await;
    ctx.guilds.finish(deadline).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The way a task ended, as `JoinSet`/`JoinHandle` report it.
    async fn ended<T: Send + 'static>(
        task: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, JoinError> {
        tokio::spawn(task).await
    }

    #[tokio::test]
    async fn only_a_requested_stop_exits_zero() {
        let panicked = ended(async { panic!("index out of bounds") }).await;
        let fatal = shard_ended(Some(panicked.map(|()| ShardEnd::Shutdown)));
        assert_eq!(fatal.exit_code(), 1);
        assert!(fatal.to_string().contains("index out of bounds"), "{fatal}");

        let gone = shard_ended(Some(Ok(ShardEnd::Ended(
            "shard 0's connection ended".into(),
        ))));
        assert_eq!(gone.exit_code(), 1);
        let unasked = shard_ended(Some(Ok(ShardEnd::Shutdown)));
        assert_eq!(unasked.exit_code(), 1);
        // Discord refusing the shard for good is the operator's to fix.
        let refused = shard_ended(Some(Ok(ShardEnd::Refused("bad token".into()))));
        assert_eq!(refused.exit_code(), 2);
    }
}

//! [`Sim`], the scenario API's entry point: a running simulator, the guilds
//! and users it starts, and awaiting what the bot did.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::command::find_command;
use super::{AsUser, DEFAULT_BOT_PERMISSIONS, Guild, Inbox, SimError, User};
use crate::config::{SimConfig, intents};
use crate::core::Core;
use crate::ratelimit::RateLimits;
use crate::server::SimServer;
use crate::session::GatewayCounts;
use crate::state::{Action, RequestRec, World};

/// A running simulator with a scenario API. Cheap to clone.
#[derive(Clone)]
pub struct Sim {
    pub(super) server: Arc<SimServer>,
    cursor: Arc<AtomicUsize>,
}

/// Information about one gateway session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: String,
    pub shard: [u32; 2],
    pub seq: u64,
    pub intents: u64,
    pub connected: bool,
    /// Connections that served the session: 1 + successful RESUMEs.
    pub attachments: u64,
}

impl Sim {
    /// Start with [`SimConfig::fast`] timings.
    pub async fn start() -> Sim {
        Self::with_config(SimConfig::fast()).await
    }

    /// Start with a given configuration.
    ///
    /// # Panics
    /// If 127.0.0.1 cannot be bound.
    pub async fn with_config(config: SimConfig) -> Sim {
        let server = SimServer::start(config)
            .await
            .expect("bind 127.0.0.1 for the simulator");
        Sim {
            server: Arc::new(server),
            cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub(super) fn core(&self) -> &Arc<Core> {
        self.server.core()
    }

    /// Change the world, then wake whatever awaits a change.
    pub(super) fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let out = f(&mut self.core().world.lock());
        self.core().notify();
        out
    }

    /// The underlying server.
    pub fn server(&self) -> &SimServer {
        &self.server
    }

    /// `127.0.0.1:PORT`, for `twilight_http::Client::builder().proxy(addr, true)`.
    pub fn http_addr(&self) -> String {
        self.server.http_addr()
    }

    /// `ws://127.0.0.1:PORT`, for `ConfigBuilder::proxy_url`.
    pub fn gateway_url(&self) -> String {
        self.server.gateway_url()
    }

    /// `ws://127.0.0.1:PORT/resume`: READY's `resume_gateway_url`, where a
    /// well-behaved client RESUMEs (see [`Sim::gateway_counts`]).
    pub fn resume_url(&self) -> String {
        self.server.resume_url()
    }

    /// How clients identified and resumed so far: identifies accepted and
    /// refused for coming too fast, RESUMEs at `resume_gateway_url` and
    /// elsewhere.
    pub fn gateway_counts(&self) -> GatewayCounts {
        self.core().world.lock().sessions.counts
    }

    pub fn token(&self) -> String {
        self.core().config().token.clone()
    }

    pub fn bot_id(&self) -> u64 {
        self.core().world.lock().bot.id
    }

    pub fn application_id(&self) -> u64 {
        self.core().world.lock().app_id
    }

    /// A guild with the bot in it (its role has [`DEFAULT_BOT_PERMISSIONS`]).
    /// Connected sessions on its shard receive GUILD_CREATE.
    pub async fn guild(&self, name: &str) -> Guild {
        self.guild_with_bot_permissions(name, DEFAULT_BOT_PERMISSIONS)
            .await
    }

    /// A guild where the bot's role has exactly `permissions`.
    pub async fn guild_with_bot_permissions(&self, name: &str, permissions: u64) -> Guild {
        let id = self.with_world(|w| {
            let id = w.add_guild(name, permissions);
            if let Some(d) = w.guild_create_json(id) {
                w.dispatch_guild(id, "GUILD_CREATE", intents::GUILDS, &d, None);
            }
            id
        });
        Guild::new(self.clone(), id)
    }

    /// A user who is in no guild yet (see [`User::joins`]).
    pub fn user(&self, name: &str) -> User {
        let id = self.with_world(|w| w.add_user(name, false));
        User::new(self.clone(), id)
    }

    /// The bot's actions so far.
    pub fn actions(&self) -> Vec<Action> {
        self.core().world.lock().actions.clone()
    }

    /// Every REST request the bot made so far.
    pub fn requests(&self) -> Vec<RequestRec> {
        self.core().world.lock().requests.clone()
    }

    /// Invalid requests so far, as Discord counts them toward its ban of
    /// 10,000 per 10 minutes: 401, 403, and 429 but for `shared` ones.
    pub fn invalid_requests(&self) -> u64 {
        self.core().limiter.lock().invalid
    }

    /// The invalid requests by method, matched route, status and a 429's
    /// scope, with their count, most first.
    pub fn invalid_requests_by_route(&self) -> Vec<(String, u64)> {
        let mut by: Vec<_> = (self.core().limiter.lock().invalid_by_route.iter())
            .map(|((method, route, status, scope), n)| {
                let scope = if scope.is_empty() {
                    String::new()
                } else {
                    format!(" ({scope})")
                };
                (format!("{status}{scope} on {method} {route}"), *n)
            })
            .collect();
        by.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        by
    }

    /// Replace the REST rate limits (windows already open start afresh).
    pub fn set_rate_limits(&self, limits: RateLimits) {
        self.core().limiter.lock().set_limits(limits);
    }

    /// Gateway sessions.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let w = self.core().world.lock();
        let mut v: Vec<_> = w
            .sessions
            .by_id
            .values()
            .map(|s| SessionInfo {
                id: s.id.clone(),
                shard: [s.shard_id, s.shard_total],
                seq: s.seq,
                intents: s.intents,
                connected: s.conn.is_some(),
                attachments: s.attachments,
            })
            .collect();
        v.sort_by_key(|s| s.shard);
        v
    }

    /// The token of interaction `id` (as carried by INTERACTION_CREATE).
    pub fn interaction_token(&self, id: u64) -> Option<String> {
        self.core()
            .world
            .lock()
            .interactions
            .get(&id)
            .map(|i| i.token.clone())
    }

    /// Interaction round trips (dispatch to first callback), by ID.
    pub fn interaction_round_trips(&self) -> HashMap<u64, Duration> {
        self.core()
            .world
            .lock()
            .interactions
            .values()
            .filter_map(|i| i.responded_after.map(|d| (i.id, d)))
            .collect()
    }

    /// Dispatches written to sessions since start.
    pub fn dispatched(&self) -> u64 {
        self.core().world.lock().dispatched
    }

    /// Wait until `n` sessions are connected (READY sent).
    pub async fn wait_connected(&self, n: usize, timeout: Duration) -> Result<(), SimError> {
        self.wait_until(timeout, &format!("{n} connected sessions"), |w| {
            w.sessions
                .by_id
                .values()
                .filter(|s| s.conn.is_some())
                .count()
                >= n
        })
        .await
    }

    /// Wait until the sessions satisfy `check`.
    pub async fn wait_sessions(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[SessionInfo]) -> bool,
    ) -> Result<(), SimError> {
        let mut rx = self.core().changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if check(&self.sessions()) {
                return Ok(());
            }
            // Connections change without notifying; poll as well.
            let tick = tokio::time::sleep(Duration::from_millis(50));
            tokio::select! {
                _ = rx.changed() => {}
                _ = tick => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SimError::Timeout("sessions".into()));
            }
        }
    }

    /// The registered commands, as the bot sent them: global ones with `None`,
    /// a guild's own with `Some(guild_id)`.
    pub fn commands(&self, guild: Option<u64>) -> Vec<Value> {
        let w = self.core().world.lock();
        match guild {
            None => w.global_commands.clone(),
            Some(g) => w.guild_commands.get(&g).cloned().unwrap_or_default(),
        }
    }

    /// Wait until the bot registered a command called `name` (global or in
    /// any guild).
    pub async fn wait_for_command(&self, name: &str, timeout: Duration) -> Result<(), SimError> {
        self.wait_until(timeout, &format!("command /{name}"), |w| {
            find_command(w, None, name).is_some()
                || w.guild_commands
                    .keys()
                    .any(|g| find_command(w, Some(*g), name).is_some())
        })
        .await
    }

    /// Wait until `check` holds on the world.
    pub(crate) async fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&World) -> bool,
    ) -> Result<(), SimError> {
        let mut rx = self.core().changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if check(&self.core().world.lock()) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Err(SimError::Timeout(what.to_owned()));
            }
        }
    }

    /// The next action after `cursor` for which `pick` returns `Some`;
    /// the cursor moves past it.
    pub(crate) async fn next_from<T>(
        &self,
        cursor: &AtomicUsize,
        timeout: Duration,
        what: &str,
        mut pick: impl FnMut(&World, &Action) -> Option<T>,
    ) -> Result<T, SimError> {
        let mut rx = self.core().changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            {
                let w = self.core().world.lock();
                let start = cursor.load(Ordering::Relaxed);
                for (i, a) in w.actions.iter().enumerate().skip(start) {
                    if let Some(t) = pick(&w, a) {
                        cursor.store(i + 1, Ordering::Relaxed);
                        return Ok(t);
                    }
                }
                cursor.store(w.actions.len(), Ordering::Relaxed);
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Err(SimError::Timeout(what.to_owned()));
            }
        }
    }

    /// The next action (after this `Sim` handle's cursor) matching `pick`.
    pub async fn next_action<T>(
        &self,
        timeout: Duration,
        mut pick: impl FnMut(&Action) -> Option<T>,
    ) -> Result<T, SimError> {
        self.next_from(&self.cursor, timeout, "a matching action", |_, a| pick(a))
            .await
    }

    /// DMs the bot sends to `user`.
    pub fn dms_to(&self, user: &impl AsUser) -> Inbox {
        Inbox::new(self.clone(), user.user_id())
    }
}

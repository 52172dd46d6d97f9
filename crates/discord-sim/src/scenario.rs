//! The scenario API: a world built and driven like a story, and awaitable
//! observations of what the bot did.
//!
//! ```no_run
//! # async fn demo() -> Result<(), discord_sim::SimError> {
//! use std::time::Duration;
//! use discord_sim::{Sim, permissions::bits};
//!
//! let sim = Sim::start().await;
//! let guild = sim.guild("Test").await;
//! let general = guild.text_channel("general");
//! let mods = guild.role("mods", bits::MODERATE_MEMBERS | bits::KICK_MEMBERS);
//! let alice = guild.member("alice").with_role(&mods);
//! let bob = guild.member("bob");
//! // ... start the bot against sim.http_addr() / sim.gateway_url() ...
//! alice.says(&general, "hello").await;
//! let warn = alice
//!     .runs(&general, "warn", [("user", (&bob).into()), ("reason", "spam".into())])
//!     .await;
//! let reply = warn.response(Duration::from_secs(10)).await?;
//! assert_eq!(reply.kind, 4);
//! let msg = general.next_message(Duration::from_secs(10)).await?;
//! assert!(msg.pings(bob.id()));
//! # Ok(()) }
//! ```
//!
//! Observations use cursors: every handle ([`Channel`], [`Member`]'s DM
//! inbox, [`Interaction`], [`Sim`]) remembers how far into the bot's action
//! log it has looked, so `next_message` returns each message once, in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::{SimConfig, intents};
use crate::core::Core;
use crate::faults::FaultRule;
use crate::frame;
use crate::permissions::bits;
use crate::server::SimServer;
use crate::session::Out;
use crate::state::{Action, InteractionRec, InteractionState, RequestRec, SentMessage, World};

/// Permissions the bot's role gets in guilds made by [`Sim::guild`]: what a
/// moderation/levelling bot is normally invited with.
pub const DEFAULT_BOT_PERMISSIONS: u64 = bits::VIEW_CHANNEL
    | bits::SEND_MESSAGES
    | bits::EMBED_LINKS
    | bits::ATTACH_FILES
    | bits::READ_MESSAGE_HISTORY
    | bits::MANAGE_MESSAGES
    | bits::MANAGE_ROLES
    | bits::MANAGE_NICKNAMES
    | bits::KICK_MEMBERS
    | bits::BAN_MEMBERS
    | bits::MODERATE_MEMBERS
    | bits::USE_APPLICATION_COMMANDS;

/// Why an observation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SimError {
    /// Nothing matching arrived within the timeout.
    Timeout(String),
    /// The interaction got no callback within the deadline.
    InteractionFailed(u64),
    /// Setup problem (unknown command, ...).
    Setup(String),
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(what) => write!(f, "timed out waiting for {what}"),
            Self::InteractionFailed(id) => {
                write!(
                    f,
                    "interaction {id} failed: the bot did not respond in time"
                )
            }
            Self::Setup(what) => write!(f, "scenario setup: {what}"),
        }
    }
}

impl std::error::Error for SimError {}

/// A running simulator with a scenario API. Cheap to clone.
#[derive(Clone)]
pub struct Sim {
    server: Arc<SimServer>,
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

    fn core(&self) -> &Arc<Core> {
        self.server.core()
    }

    fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
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
        Guild {
            sim: self.clone(),
            id,
        }
    }

    /// A user who is in no guild yet (see [`User::joins`]).
    pub fn user(&self, name: &str) -> User {
        let id = self.with_world(|w| w.add_user(name, false));
        User {
            sim: self.clone(),
            id,
        }
    }

    /// The bot's actions so far.
    pub fn actions(&self) -> Vec<Action> {
        self.core().world.lock().actions.clone()
    }

    /// Every REST request the bot made so far.
    pub fn requests(&self) -> Vec<RequestRec> {
        self.core().world.lock().requests.clone()
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
    pub fn interaction_round_trips(&self) -> std::collections::HashMap<u64, Duration> {
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
        Inbox {
            sim: self.clone(),
            user_id: user.user_id(),
            cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    // ----- fault injection ------------------------------------------------

    fn each_connection(&self, out: impl Fn() -> Out) {
        let mut w = self.core().world.lock();
        for s in w.sessions.by_id.values_mut() {
            s.send(out());
        }
    }

    /// Drop every gateway connection without a close frame.
    pub fn disconnect_all(&self) {
        self.each_connection(|| Out::Drop);
    }

    /// Send RECONNECT (op 7) on every connection.
    pub fn send_reconnect(&self) {
        self.each_connection(|| Out::Frame(frame::reconnect().into()));
    }

    /// Send INVALID_SESSION (op 9). When not `resumable`, the sessions are
    /// forgotten, so the clients must identify again.
    pub fn send_invalid_session(&self, resumable: bool) {
        let mut w = self.core().world.lock();
        for s in w.sessions.by_id.values_mut() {
            s.send(Out::Frame(frame::invalid_session(resumable).into()));
        }
        if !resumable {
            // Keep the connections (the client closes them), forget the
            // sessions so a RESUME gets op 9 too.
            for (_, mut s) in w.sessions.by_id.drain() {
                s.conn.take();
            }
        }
    }

    /// Close every connection with `code` (e.g. 4000 to force a resume).
    pub fn close_all(&self, code: u16) {
        self.each_connection(|| Out::Close(code, "Closed by the simulator."));
    }

    /// Delay HEARTBEAT_ACKs by `delay` (zero restores prompt ACKs).
    pub fn delay_heartbeat_acks(&self, delay: Duration) {
        self.core()
            .ack_delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// Fail the next request whose method is `method` and whose path (after
    /// `/api/v10`) contains `path_contains` with `status` (429 or 5xx).
    pub fn fail_next(&self, method: &str, path_contains: &str, status: u16) {
        self.fail_times(method, path_contains, status, 1);
    }

    /// Like [`fail_next`](Self::fail_next), `times` times.
    pub fn fail_times(&self, method: &str, path_contains: &str, status: u16, times: u32) {
        self.core().faults.lock().rules.push(FaultRule {
            method: Some(method.to_owned()),
            path_contains: path_contains.to_owned(),
            status,
            remaining: times,
            retry_after: 0.05,
            global: false,
        });
    }

    /// Add a fully specified fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.core().faults.lock().rules.push(rule);
    }

    /// Stop and start again on the same port keeping all state and sessions;
    /// connections drop without a close frame, clients reconnect and RESUME.
    pub async fn restart(&self) {
        self.server
            .restart()
            .await
            .expect("rebind the simulator's port");
    }
}

/// Anything that is a user: [`Member`], [`User`].
pub trait AsUser {
    fn user_id(&self) -> u64;
}

/// A guild in the simulation.
#[derive(Clone)]
pub struct Guild {
    sim: Sim,
    id: u64,
}

impl Guild {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// A new text channel (CHANNEL_CREATE to connected sessions).
    pub fn text_channel(&self, name: &str) -> Channel {
        let gid = self.id;
        let id = self.sim.with_world(|w| {
            let id = w.add_channel(gid, name);
            if let Some(d) = w.channel_json(id) {
                w.dispatch_guild(gid, "CHANNEL_CREATE", intents::GUILDS, &d, None);
            }
            id
        });
        Channel {
            sim: self.sim.clone(),
            id,
            guild_id: Some(gid),
            cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A new role below the bot's role, with `permissions`.
    pub fn role(&self, name: &str, permissions: u64) -> Role {
        self.make_role(name, permissions, None)
    }

    /// A new role above the bot's role (the bot cannot manage it or its
    /// holders, as in Discord).
    pub fn role_above_bot(&self, name: &str, permissions: u64) -> Role {
        self.make_role(name, permissions, Some(1_000))
    }

    fn make_role(&self, name: &str, permissions: u64, position: Option<i64>) -> Role {
        let gid = self.id;
        let id = self.sim.with_world(|w| {
            let id = w.add_role(gid, name, permissions, position);
            let role = w
                .guilds
                .get(&gid)
                .and_then(|g| g.role(id))
                .map(|r| r.json());
            if let Some(role) = role {
                let d = json!({"guild_id": gid.to_string(), "role": role});
                w.dispatch_guild(gid, "GUILD_ROLE_CREATE", intents::GUILDS, &d, None);
            }
            id
        });
        Role { id, guild_id: gid }
    }

    /// The @everyone role.
    pub fn everyone(&self) -> Role {
        Role {
            id: self.id,
            guild_id: self.id,
        }
    }

    /// Set a role's permissions (e.g. @everyone's).
    pub fn set_role_permissions(&self, role: &Role, permissions: u64) {
        let gid = self.id;
        self.sim.with_world(|w| {
            if let Some(r) = w
                .guilds
                .get_mut(&gid)
                .and_then(|g| g.roles.iter_mut().find(|r| r.id == role.id))
            {
                r.permissions = permissions;
            }
        });
    }

    /// An existing member (no event: they were there before the bot looked).
    pub fn member(&self, name: &str) -> Member {
        let gid = self.id;
        let user_id = self.sim.with_world(|w| {
            let uid = w.add_user(name, false);
            w.add_member(gid, uid);
            uid
        });
        Member {
            sim: self.sim.clone(),
            guild_id: gid,
            user_id,
            dm_cursor: Arc::new(AtomicUsize::new(0)),
            change_cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The guild owner.
    pub fn owner(&self) -> Member {
        let owner = self.sim.core().world.lock().guilds[&self.id].owner_id;
        Member {
            sim: self.sim.clone(),
            guild_id: self.id,
            user_id: owner,
            dm_cursor: Arc::new(AtomicUsize::new(0)),
            change_cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The bot's own role (to change its permissions or position).
    pub fn bot_role(&self) -> Role {
        let w = self.sim.core().world.lock();
        let g = &w.guilds[&self.id];
        let id = g.members[&w.bot.id]
            .roles
            .first()
            .copied()
            .unwrap_or(self.id);
        Role {
            id,
            guild_id: self.id,
        }
    }

    /// Whether `user` is banned here.
    pub fn is_banned(&self, user: &impl AsUser) -> bool {
        self.sim.core().world.lock().guilds[&self.id]
            .bans
            .contains_key(&user.user_id())
    }
}

/// A role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Role {
    id: u64,
    guild_id: u64,
}

impl Role {
    pub fn id(&self) -> u64 {
        self.id
    }
    pub fn guild_id(&self) -> u64 {
        self.guild_id
    }
    /// `<@&id>`.
    pub fn mention(&self) -> String {
        format!("<@&{}>", self.id)
    }
}

/// A text channel (guild or DM).
#[derive(Clone)]
pub struct Channel {
    sim: Sim,
    id: u64,
    guild_id: Option<u64>,
    cursor: Arc<AtomicUsize>,
}

impl Channel {
    pub fn id(&self) -> u64 {
        self.id
    }
    pub fn guild_id(&self) -> Option<u64> {
        self.guild_id
    }
    /// `<#id>`.
    pub fn mention(&self) -> String {
        format!("<#{}>", self.id)
    }

    /// The next message the bot posts here (REST, interaction response or
    /// follow-up), in order.
    pub async fn next_message(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        let id = self.id;
        self.sim
            .next_from(
                &self.cursor,
                timeout,
                &format!("a bot message in <#{id}>"),
                |_, a| match a {
                    Action::MessageCreated(m) if m.channel_id == id => Some(m.clone()),
                    _ => None,
                },
            )
            .await
    }

    /// Every message the bot posted here so far.
    pub fn bot_messages(&self) -> Vec<SentMessage> {
        self.sim
            .actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::MessageCreated(m) if m.channel_id == self.id => Some(m),
                _ => None,
            })
            .collect()
    }
}

/// A user who is not (yet) a member of a given guild.
#[derive(Clone)]
pub struct User {
    sim: Sim,
    id: u64,
}

impl User {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Join `guild`: GUILD_MEMBER_ADD to sessions with GUILD_MEMBERS.
    pub async fn joins(&self, guild: &Guild) -> Member {
        let (gid, uid) = (guild.id, self.id);
        self.sim.with_world(|w| {
            w.add_member(gid, uid);
            if let Some(mut d) = w.member_json(gid, uid) {
                d["guild_id"] = json!(gid.to_string());
                w.dispatch_guild(gid, "GUILD_MEMBER_ADD", intents::GUILD_MEMBERS, &d, None);
            }
        });
        Member {
            sim: self.sim.clone(),
            guild_id: gid,
            user_id: uid,
            dm_cursor: Arc::new(AtomicUsize::new(0)),
            change_cursor: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl AsUser for User {
    fn user_id(&self) -> u64 {
        self.id
    }
}

/// A guild member.
#[derive(Clone)]
pub struct Member {
    sim: Sim,
    guild_id: u64,
    user_id: u64,
    dm_cursor: Arc<AtomicUsize>,
    change_cursor: Arc<AtomicUsize>,
}

impl AsUser for Member {
    fn user_id(&self) -> u64 {
        self.user_id
    }
}

impl Member {
    pub fn id(&self) -> u64 {
        self.user_id
    }
    pub fn guild_id(&self) -> u64 {
        self.guild_id
    }
    /// `<@id>`.
    pub fn mention(&self) -> String {
        format!("<@{}>", self.user_id)
    }

    /// Give the member a role (GUILD_MEMBER_UPDATE to connected sessions).
    pub fn with_role(self, role: &Role) -> Self {
        let (gid, uid, rid) = (self.guild_id, self.user_id, role.id);
        self.sim.with_world(|w| {
            if let Some(m) = w.guilds.get_mut(&gid).and_then(|g| g.members.get_mut(&uid))
                && !m.roles.contains(&rid)
            {
                m.roles.push(rid);
            }
            w.dispatch_member_update(gid, uid);
        });
        self
    }

    /// Make the member refuse DMs from the bot (50007 when it tries).
    pub fn blocking_dms(self) -> Self {
        let uid = self.user_id;
        self.sim.with_world(|w| {
            if let Some(u) = w.users.get_mut(&uid) {
                u.blocks_dms = true;
            }
        });
        self
    }

    /// Post a message: MESSAGE_CREATE to the guild's shard (with intent
    /// gating). Mentions in `content` (`<@id>`, `<@&id>`) ping. Returns the
    /// message ID.
    pub async fn says(&self, channel: &Channel, content: impl Into<String>) -> u64 {
        self.says_timed(channel, content).await.0
    }

    /// [`Member::says`], also returning the message's timestamp as the bot reads
    /// it (bots that apply cooldowns go by it, so expected-XP checks must too).
    pub async fn says_timed(
        &self,
        channel: &Channel,
        content: impl Into<String>,
    ) -> (u64, chrono::DateTime<chrono::Utc>) {
        let (cid, uid) = (channel.id, self.user_id);
        let content = content.into();
        self.sim.with_world(|w| {
            let mut m = w.new_message(cid, uid, content);
            let (users, roles, everyone) = crate::rest::channels::parse_mentions(&m.content);
            m.mentions = users
                .into_iter()
                .filter(|u| w.users.contains_key(u))
                .collect();
            m.mention_roles = roles;
            m.mention_everyone = everyone;
            let id = m.id;
            let at = chrono::DateTime::parse_from_rfc3339(&m.timestamp)
                .map_or_else(|_| chrono::Utc::now(), |t| t.to_utc());
            w.store_and_dispatch_message(m);
            (id, at)
        })
    }

    /// Run a slash command: `command` is the command name, optionally
    /// followed by a subcommand group and/or subcommand (`"config xp set"`).
    /// The command must be registered by the bot; this waits up to 10 s for
    /// that. Options are typed ([`OptionValue`]).
    ///
    /// # Panics
    /// If the command is not registered within 10 s, or an option is not
    /// part of the command: the test is wrong, not the bot.
    pub async fn runs<'a>(
        &self,
        channel: &Channel,
        command: &str,
        options: impl IntoIterator<Item = (&'a str, OptionValue)>,
    ) -> Interaction {
        let command = command.trim_start_matches('/').to_owned();
        let name = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let gid = self.guild_id;
        let registered = self
            .sim
            .wait_until(Duration::from_secs(10), &format!("/{name}"), |w| {
                find_command(w, Some(gid), &name).is_some()
            })
            .await;
        if let Err(e) = registered {
            panic!("/{name} is not registered by the bot: {e}");
        }
        let options: Vec<(String, OptionValue)> = options
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let (cid, uid) = (channel.id, self.user_id);
        let created = self
            .sim
            .with_world(|w| create_interaction(w, gid, cid, uid, &command, &options));
        let id = match created {
            Ok(id) => id,
            Err(e) => panic!("{e}"),
        };
        // The deadline: no callback in time means the user saw a failure.
        let core = self.sim.core().clone();
        let deadline = core.config().interaction_deadline;
        tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            let mut w = core.world.lock();
            if let Some(r) = w.interactions.get_mut(&id)
                && r.state == InteractionState::Pending
            {
                r.state = InteractionState::Failed;
                w.record(Action::InteractionFailed { interaction_id: id });
                drop(w);
                core.notify();
            }
        });
        Interaction {
            sim: self.sim.clone(),
            id,
            channel_id: cid,
            cursor: Arc::new(AtomicUsize::new(0)),
            followups: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn read<T>(&self, f: impl FnOnce(Option<&crate::model::MemberRec>) -> T) -> T {
        let w = self.sim.core().world.lock();
        f(w.guilds
            .get(&self.guild_id)
            .and_then(|g| g.members.get(&self.user_id)))
    }

    /// Role IDs the member holds now.
    pub fn roles(&self) -> Vec<u64> {
        self.read(|m| m.map(|m| m.roles.clone()).unwrap_or_default())
    }

    pub fn has_role(&self, role: &Role) -> bool {
        self.roles().contains(&role.id)
    }

    /// End of the current timeout, if any.
    pub fn timed_out_until(&self) -> Option<String> {
        self.read(|m| m.and_then(|m| m.communication_disabled_until.clone()))
    }

    pub fn nick(&self) -> Option<String> {
        self.read(|m| m.and_then(|m| m.nick.clone()))
    }

    /// Still a member (not kicked/banned)?
    pub fn is_member(&self) -> bool {
        self.read(|m| m.is_some())
    }

    /// Banned from this member's guild?
    pub fn is_banned(&self) -> bool {
        self.sim.core().world.lock().guilds[&self.guild_id]
            .bans
            .contains_key(&self.user_id)
    }

    /// Guild permissions as Discord computes them from the roles.
    pub fn permissions(&self) -> u64 {
        self.sim.core().world.lock().guilds[&self.guild_id].permissions_of(self.user_id)
    }

    /// The next DM the bot sends this member.
    pub async fn next_dm(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        next_dm(&self.sim, self.user_id, &self.dm_cursor, timeout).await
    }

    /// The next moderation or role action the bot takes on this member.
    pub async fn next_change(&self, timeout: Duration) -> Result<Action, SimError> {
        let (gid, uid) = (self.guild_id, self.user_id);
        self.sim
            .next_from(
                &self.change_cursor,
                timeout,
                "a change to the member",
                |_, a| {
                    let hit = match a {
                        Action::RoleAdded {
                            guild_id, user_id, ..
                        }
                        | Action::RoleRemoved {
                            guild_id, user_id, ..
                        }
                        | Action::TimedOut {
                            guild_id, user_id, ..
                        }
                        | Action::NickChanged {
                            guild_id, user_id, ..
                        }
                        | Action::Kicked {
                            guild_id, user_id, ..
                        }
                        | Action::Banned {
                            guild_id, user_id, ..
                        }
                        | Action::Unbanned { guild_id, user_id } => {
                            *guild_id == gid && *user_id == uid
                        }
                        _ => false,
                    };
                    hit.then(|| a.clone())
                },
            )
            .await
    }
}

async fn next_dm(
    sim: &Sim,
    user_id: u64,
    cursor: &AtomicUsize,
    timeout: Duration,
) -> Result<SentMessage, SimError> {
    sim.next_from(
        cursor,
        timeout,
        &format!("a DM to {user_id}"),
        |w, a| match a {
            Action::MessageCreated(m) if m.guild_id.is_none() => {
                (w.dm_channels.get(&user_id) == Some(&m.channel_id)).then(|| m.clone())
            }
            _ => None,
        },
    )
    .await
}

/// DMs to one user, read in order.
#[derive(Clone)]
pub struct Inbox {
    sim: Sim,
    user_id: u64,
    cursor: Arc<AtomicUsize>,
}

impl Inbox {
    /// The next DM.
    pub async fn next(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        next_dm(&self.sim, self.user_id, &self.cursor, timeout).await
    }

    /// All DMs so far.
    pub fn all(&self) -> Vec<SentMessage> {
        let w = self.sim.core().world.lock();
        let Some(ch) = w.dm_channels.get(&self.user_id) else {
            return Vec::new();
        };
        w.actions
            .iter()
            .filter_map(|a| match a {
                Action::MessageCreated(m) if m.channel_id == *ch => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
}

/// A typed slash-command option value.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    User(u64),
    Channel(u64),
    Role(u64),
}

impl OptionValue {
    fn option_type(&self) -> u8 {
        match self {
            Self::String(_) => 3,
            Self::Integer(_) => 4,
            Self::Boolean(_) => 5,
            Self::User(_) => 6,
            Self::Channel(_) => 7,
            Self::Role(_) => 8,
            Self::Number(_) => 10,
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::String(s) => json!(s),
            Self::Integer(i) => json!(i),
            Self::Number(n) => json!(n),
            Self::Boolean(b) => json!(b),
            Self::User(id) | Self::Channel(id) | Self::Role(id) => json!(id.to_string()),
        }
    }
}

impl From<&str> for OptionValue {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}
impl From<String> for OptionValue {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}
impl From<i64> for OptionValue {
    fn from(i: i64) -> Self {
        Self::Integer(i)
    }
}
impl From<i32> for OptionValue {
    fn from(i: i32) -> Self {
        Self::Integer(i.into())
    }
}
impl From<f64> for OptionValue {
    fn from(n: f64) -> Self {
        Self::Number(n)
    }
}
impl From<bool> for OptionValue {
    fn from(b: bool) -> Self {
        Self::Boolean(b)
    }
}
impl From<&Member> for OptionValue {
    fn from(m: &Member) -> Self {
        Self::User(m.user_id)
    }
}
impl From<Member> for OptionValue {
    fn from(m: Member) -> Self {
        Self::User(m.user_id)
    }
}
impl From<&User> for OptionValue {
    fn from(u: &User) -> Self {
        Self::User(u.id)
    }
}
impl From<&Channel> for OptionValue {
    fn from(c: &Channel) -> Self {
        Self::Channel(c.id)
    }
}
impl From<&Role> for OptionValue {
    fn from(r: &Role) -> Self {
        Self::Role(r.id)
    }
}
impl From<Role> for OptionValue {
    fn from(r: Role) -> Self {
        Self::Role(r.id)
    }
}

/// The bot's first callback to an interaction.
#[derive(Clone, Debug, PartialEq)]
pub struct InteractionResponse {
    /// Callback type: 4 message, 5 deferred, 9 modal, ...
    pub kind: u8,
    /// The callback's `data`.
    pub data: Value,
}

/// An interaction sent to the bot.
#[derive(Clone)]
pub struct Interaction {
    sim: Sim,
    id: u64,
    channel_id: u64,
    cursor: Arc<AtomicUsize>,
    followups: Arc<AtomicUsize>,
}

impl Interaction {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The first callback (type 4/5/...). Fails with
    /// [`SimError::InteractionFailed`] when the deadline passed without one.
    pub async fn response(&self, timeout: Duration) -> Result<InteractionResponse, SimError> {
        let id = self.id;
        self.sim
            .next_from(
                &self.cursor,
                timeout,
                &format!("a response to interaction {id}"),
                |_, a| match a {
                    Action::InteractionResponded {
                        interaction_id,
                        kind,
                        data,
                    } if *interaction_id == id => Some(Ok(InteractionResponse {
                        kind: *kind,
                        data: data.clone(),
                    })),
                    Action::InteractionFailed { interaction_id } if *interaction_id == id => {
                        Some(Err(SimError::InteractionFailed(id)))
                    }
                    _ => None,
                },
            )
            .await?
    }

    /// The message the user sees as the answer: the type-4 response, or the
    /// original message created by editing `@original` after a deferral.
    pub async fn message(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        let id = self.id;
        let cursor = AtomicUsize::new(0);
        self.sim
            .next_from(
                &cursor,
                timeout,
                &format!("the answer to interaction {id}"),
                |_, a| match a {
                    Action::MessageCreated(m) if m.interaction_id == Some(id) => {
                        Some(Ok(m.clone()))
                    }
                    Action::InteractionFailed { interaction_id } if *interaction_id == id => {
                        Some(Err(SimError::InteractionFailed(id)))
                    }
                    _ => None,
                },
            )
            .await?
    }

    /// Follow-up messages in order (the n-th call returns the n-th
    /// follow-up; the original answer is not a follow-up).
    pub async fn followup(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        let id = self.id;
        let wanted = self.followups.fetch_add(1, Ordering::Relaxed);
        let cursor = AtomicUsize::new(0);
        let mut seen = 0;
        self.sim
            .next_from(
                &cursor,
                timeout,
                &format!("follow-up {wanted} to interaction {id}"),
                |w, a| match a {
                    Action::MessageCreated(m) if m.interaction_id == Some(id) => {
                        // Follow-ups are kind 0; the original answer is kind 20.
                        let is_original = w.messages.get(&m.id).is_some_and(|r| r.kind == 20);
                        if is_original {
                            return None;
                        }
                        seen += 1;
                        (seen == wanted + 1).then(|| m.clone())
                    }
                    _ => None,
                },
            )
            .await
    }

    /// Where the interaction stands now.
    pub fn state(&self) -> InteractionState {
        self.sim.core().world.lock().interactions[&self.id].state
    }

    /// The channel it was run in.
    pub fn channel_id(&self) -> u64 {
        self.channel_id
    }
}

/// The registered command called `name` (guild first, then global).
fn find_command(w: &World, guild_id: Option<u64>, name: &str) -> Option<Value> {
    let named = |c: &&Value| c.get("name").and_then(Value::as_str) == Some(name);
    guild_id
        .and_then(|g| w.guild_commands.get(&g))
        .and_then(|l| l.iter().find(named))
        .or_else(|| w.global_commands.iter().find(named))
        .cloned()
}

/// Build and dispatch INTERACTION_CREATE for a slash command.
fn create_interaction(
    w: &mut World,
    guild_id: u64,
    channel_id: u64,
    user_id: u64,
    command: &str,
    options: &[(String, OptionValue)],
) -> Result<u64, SimError> {
    let mut words = command.split_whitespace();
    let name = words.next().unwrap_or_default();
    let path: Vec<&str> = words.collect();
    let cmd = find_command(w, Some(guild_id), name)
        .ok_or_else(|| SimError::Setup(format!("/{name} is not registered")))?;

    // Walk subcommand group / subcommand as registered.
    let mut level = cmd.get("options").cloned().unwrap_or(json!([]));
    let mut chain: Vec<(String, u8)> = Vec::new();
    for word in &path {
        let opt = level
            .as_array()
            .and_then(|l| {
                l.iter()
                    .find(|o| o.get("name").and_then(Value::as_str) == Some(word))
            })
            .cloned()
            .ok_or_else(|| SimError::Setup(format!("/{name} has no subcommand {word}")))?;
        let kind = opt.get("type").and_then(Value::as_u64).unwrap_or(1) as u8;
        chain.push(((*word).to_owned(), kind));
        level = opt.get("options").cloned().unwrap_or(json!([]));
    }

    let mut resolved = json!({});
    // Borrowed, not cloned: a load run creates hundreds of interactions a second in
    // guilds of 1,000 members, and copying the guild each time cost the simulator as
    // much CPU as all of its messages.
    let guild = w.guilds.get(&guild_id);
    let mut leaf = Vec::new();
    for (key, value) in options {
        let registered = level
            .as_array()
            .and_then(|l| {
                l.iter()
                    .find(|o| o.get("name").and_then(Value::as_str) == Some(key))
            })
            .ok_or_else(|| SimError::Setup(format!("/{command} has no option {key}")))?;
        let kind = registered
            .get("type")
            .and_then(Value::as_u64)
            .map_or(value.option_type(), |k| k as u8);
        leaf.push(json!({"name": key, "type": kind, "value": value.json()}));
        match value {
            OptionValue::User(id) => {
                if let Some(u) = w.user_json(*id) {
                    resolved["users"][id.to_string()] = u;
                }
                if let Some(g) = guild
                    && let Some(m) = g.members.get(id)
                {
                    let mut mj = m.json(&w.users[id]);
                    if let Some(o) = mj.as_object_mut() {
                        o.remove("user");
                    }
                    mj["permissions"] = json!(g.permissions_of(*id).to_string());
                    resolved["members"][id.to_string()] = mj;
                }
            }
            OptionValue::Channel(id) => {
                if let Some(mut c) = w.channel_json(*id) {
                    c["permissions"] = json!(bits::ALL.to_string());
                    resolved["channels"][id.to_string()] = c;
                }
            }
            OptionValue::Role(id) => {
                if let Some(r) = guild.and_then(|g| g.role(*id)) {
                    resolved["roles"][id.to_string()] = r.json();
                }
            }
            _ => {}
        }
    }
    // Nest the leaf options under the subcommand chain.
    let mut opts = Value::Array(leaf);
    for (word, kind) in chain.iter().rev() {
        opts = json!([{"name": word, "type": kind, "options": opts}]);
    }

    let id = w.ids.next();
    let token = format!("sim-interaction-{id}-{:016x}", rand::random::<u64>());
    let g = guild.ok_or_else(|| SimError::Setup("unknown guild".into()))?;
    let member_rec = g
        .members
        .get(&user_id)
        .ok_or_else(|| SimError::Setup("the user is not a member".into()))?;
    let mut member = member_rec.json(&w.users[&user_id]);
    member["permissions"] = json!(g.permissions_of(user_id).to_string());
    let mut data = json!({
        "id": cmd.get("id").cloned().unwrap_or(json!("0")),
        "name": name,
        "type": 1,
        "options": opts,
        "guild_id": guild_id.to_string(),
    });
    if resolved.as_object().is_some_and(|o| !o.is_empty()) {
        data["resolved"] = resolved;
    }
    let d = json!({
        "id": id.to_string(),
        "application_id": w.app_id.to_string(),
        "type": 2,
        "token": token,
        "version": 1,
        "guild_id": guild_id.to_string(),
        "guild": {"id": guild_id.to_string(), "locale": "en-US", "features": []},
        "channel_id": channel_id.to_string(),
        "channel": w.channel_json(channel_id),
        "member": member,
        "data": data,
        "app_permissions": g.permissions_of(w.bot.id).to_string(),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id.to_string()},
        "context": 0,
        "attachment_size_limit": 26_214_400,
    });
    w.interactions.insert(
        id,
        InteractionRec {
            id,
            token: token.clone(),
            guild_id: Some(guild_id),
            channel_id,
            user_id,
            command: command.to_owned(),
            created: Instant::now(),
            state: InteractionState::Pending,
            original_message: None,
            responded_after: None,
            deferred_flags: 0,
            original_deleted: false,
        },
    );
    w.interaction_tokens.insert(token, id);
    w.dispatch_guild(guild_id, "INTERACTION_CREATE", 0, &d, None);
    Ok(id)
}

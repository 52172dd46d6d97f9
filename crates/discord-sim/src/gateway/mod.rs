//! The gateway: one task per WebSocket connection.
//!
//! A connection starts with HELLO and becomes attached to a session by
//! IDENTIFY or RESUME. From then on the session layer ([`crate::session`],
//! driven under the world lock) pushes frames through an unbounded channel,
//! and this task compresses and writes them, batching whatever is queued
//! before each flush so a busy session is not limited by one syscall per
//! event.

// The frame encoding and the session layer live below the world, which
// writes into sessions; they stay reachable under their old paths here.
pub use crate::{frame, session};

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::compression::{Compressor, Mode};
use crate::config::intents;
use crate::core::Core;
use crate::session::{Conn, Out, Session};

/// Gateway close codes, as Discord uses them.
pub mod close {
    pub const UNKNOWN_ERROR: u16 = 4000;
    pub const UNKNOWN_OPCODE: u16 = 4001;
    pub const DECODE_ERROR: u16 = 4002;
    pub const NOT_AUTHENTICATED: u16 = 4003;
    pub const AUTHENTICATION_FAILED: u16 = 4004;
    pub const ALREADY_AUTHENTICATED: u16 = 4005;
    pub const RATE_LIMITED: u16 = 4008;
    pub const SESSION_TIMED_OUT: u16 = 4009;
    pub const INVALID_SHARD: u16 = 4010;
    pub const SHARDING_REQUIRED: u16 = 4011;
    pub const INVALID_API_VERSION: u16 = 4012;
    pub const INVALID_INTENTS: u16 = 4013;
    pub const DISALLOWED_INTENTS: u16 = 4014;
}

/// Gateway commands a connection may send per minute before 4008.
const COMMANDS_PER_MINUTE: u32 = 120;
/// How long to wait for the client's close echo.
const CLOSE_ECHO_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames written before a flush, at most.
const WRITE_BATCH: usize = 256;

/// `GET /?v=10&encoding=json[&compress=...]`: upgrade to the gateway.
pub async fn handler(
    State(core): State<Arc<Core>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| async move { Connection::run(core, socket, query).await })
}

struct Connection {
    core: Arc<Core>,
    id: u64,
    /// Not split: one task reads and writes, and splitting would add a
    /// lock to every frame written.
    ws: WebSocket,
    compressor: Compressor,
    /// Our receiving end; the sender lives in the session once attached.
    rx: mpsc::UnboundedReceiver<Out>,
    /// The sender, until IDENTIFY/RESUME hands it to a session.
    tx: Option<mpsc::UnboundedSender<Out>>,
    session_id: Option<String>,
    heartbeat_deadline: tokio::time::Instant,
    window_start: Instant,
    commands_in_window: u32,
    /// A control message taken from `rx` while batching frames.
    deferred: Option<Out>,
}

impl Connection {
    async fn run(core: Arc<Core>, socket: WebSocket, query: HashMap<String, String>) {
        let mode = Mode::parse(query.get("compress").map(String::as_str));
        let (tx, rx) = mpsc::unbounded_channel();
        let timeout = core.config().heartbeat_timeout;
        let mut conn = Connection {
            id: core.next_conn.fetch_add(1, Ordering::Relaxed),
            core,
            ws: socket,
            compressor: Compressor::new(mode.unwrap_or_default()),
            rx,
            tx: Some(tx),
            session_id: None,
            heartbeat_deadline: tokio::time::Instant::now() + timeout,
            window_start: Instant::now(),
            commands_in_window: 0,
            deferred: None,
        };
        let mut epoch = conn.core.epoch.subscribe();
        epoch.borrow_and_update();

        // Query problems are reported the way Discord does: close codes.
        if query.get("v").is_some_and(|v| v != "10") {
            return conn
                .close(close::INVALID_API_VERSION, "Invalid API version.")
                .await;
        }
        if query.get("encoding").is_some_and(|e| e != "json") || mode.is_err() {
            return conn
                .close(close::DECODE_ERROR, "Error while decoding payload.")
                .await;
        }
        let hello = frame::hello(conn.core.config().heartbeat_interval.as_millis());
        if conn.write(hello.into()).await.is_err() || conn.ws.flush().await.is_err() {
            return;
        }

        loop {
            let deferred = conn.deferred.take();
            let (ws, rx) = (&mut conn.ws, &mut conn.rx);
            tokio::select! {
                _ = epoch.changed() => {
                    // The simulator is stopping: vanish like a crashed server.
                    conn.detach();
                    return;
                }
                _ = tokio::time::sleep_until(conn.heartbeat_deadline) => {
                    conn.detach();
                    return conn.close(close::SESSION_TIMED_OUT, "Session timed out.").await;
                }
                out = async { match deferred { Some(d) => Some(d), None => rx.recv().await } } => match out {
                    Some(Out::Frame(f)) => {
                        if conn.write_batch(f).await.is_err() {
                            conn.detach();
                            return;
                        }
                    }
                    Some(Out::Close(code, reason)) => {
                        conn.detach();
                        return conn.close(code, reason).await;
                    }
                    // Dropped on purpose, or the session moved to another
                    // connection (RESUME elsewhere) or was invalidated.
                    Some(Out::Drop) | None => {
                        conn.detach();
                        return;
                    }
                },
                msg = ws.recv() => {
                    let text = match msg {
                        None | Some(Err(_)) => {
                            conn.detach();
                            return;
                        }
                        Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                        Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                            Ok(t) => t,
                            Err(_) => {
                                return conn.close(close::DECODE_ERROR, "Error while decoding payload.").await;
                            }
                        },
                        Some(Ok(Message::Close(frame))) => {
                            return conn.client_closed(frame).await;
                        }
                        Some(Ok(_)) => continue,
                    };
                    if let ControlFlow::Break((code, reason)) = conn.handle(&text) {
                        conn.detach();
                        return conn.close(code, reason).await;
                    }
                }
            }
        }
    }

    /// Compress (if negotiated) and queue one frame.
    async fn write(&mut self, frame: Utf8Bytes) -> Result<(), axum::Error> {
        let msg = match self.compressor.compress(frame.as_str()) {
            Some(bytes) => Message::Binary(bytes.into()),
            // The logged frame itself: a reference-count bump, no copy.
            None => Message::Text(frame),
        };
        self.ws.feed(msg).await
    }

    /// Write `first` and everything else already queued, then flush once.
    async fn write_batch(&mut self, first: Utf8Bytes) -> Result<(), axum::Error> {
        self.write(first).await?;
        let mut pending_close = None;
        for _ in 0..WRITE_BATCH {
            match self.rx.try_recv() {
                Ok(Out::Frame(f)) => self.write(f).await?,
                Ok(other) => {
                    pending_close = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        self.ws.flush().await?;
        // A control message met while batching is handled next turn, after
        // the frames queued before it.
        self.deferred = pending_close;
        Ok(())
    }

    /// Send a close frame and wait for the client's echo (or the end).
    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        if self.ws.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_ECHO_TIMEOUT, async {
            while let Some(Ok(_)) = self.ws.recv().await {}
        })
        .await;
    }

    /// The client sent a close frame. The WebSocket layer queues the echo;
    /// reading on until the stream ends makes sure it is written. A close
    /// with 1000/1001 ends the session, as on Discord; others keep it
    /// resumable.
    async fn client_closed(&mut self, frame: Option<CloseFrame>) {
        let code = frame.map_or(1005, |f| f.code);
        if matches!(code, 1000 | 1001) {
            if let Some(sid) = self.session_id.take() {
                self.core.world.lock().sessions.by_id.remove(&sid);
            }
        } else {
            self.detach();
        }
        let _ = self.ws.flush().await;
        let _ = tokio::time::timeout(CLOSE_ECHO_TIMEOUT, async {
            while let Some(Ok(_)) = self.ws.recv().await {}
        })
        .await;
    }

    /// Leave the session resumable without a connection.
    fn detach(&mut self) {
        if let Some(sid) = &self.session_id {
            let mut world = self.core.world.lock();
            if let Some(s) = world.sessions.by_id.get_mut(sid) {
                s.detach(Some(self.id));
            }
        }
    }

    /// Handle one client payload.
    fn handle(&mut self, text: &str) -> ControlFlow<(u16, &'static str)> {
        const DECODE: (u16, &str) = (close::DECODE_ERROR, "Error while decoding payload.");
        let Ok(payload) = serde_json::from_str::<Value>(text) else {
            return ControlFlow::Break(DECODE);
        };
        let Some(op) = payload.get("op").and_then(Value::as_u64) else {
            return ControlFlow::Break(DECODE);
        };
        let d = payload.get("d").cloned().unwrap_or(Value::Null);

        if self.window_start.elapsed() >= Duration::from_secs(60) {
            self.window_start = Instant::now();
            self.commands_in_window = 0;
        }
        self.commands_in_window += 1;
        if self.commands_in_window > COMMANDS_PER_MINUTE {
            return ControlFlow::Break((close::RATE_LIMITED, "You are being rate limited."));
        }

        match op {
            1 => {
                self.heartbeat_deadline =
                    tokio::time::Instant::now() + self.core.config().heartbeat_timeout;
                self.ack();
                ControlFlow::Continue(())
            }
            2 if self.session_id.is_some() => {
                ControlFlow::Break((close::ALREADY_AUTHENTICATED, "Already authenticated."))
            }
            2 => self.identify(&d),
            6 if self.session_id.is_some() => {
                ControlFlow::Break((close::ALREADY_AUTHENTICATED, "Already authenticated."))
            }
            6 => self.resume(&d),
            3 | 4 | 8 | 31 if self.session_id.is_none() => {
                ControlFlow::Break((close::NOT_AUTHENTICATED, "Not authenticated."))
            }
            8 => {
                self.request_guild_members(&d);
                ControlFlow::Continue(())
            }
            // Presence, voice state, soundboard: accepted, nothing to simulate.
            3 | 4 | 31 => ControlFlow::Continue(()),
            _ => ControlFlow::Break((close::UNKNOWN_OPCODE, "Unknown opcode.")),
        }
    }

    /// HEARTBEAT_ACK, possibly delayed by fault injection.
    fn ack(&mut self) {
        let delay = self.core.ack_delay_ms.load(Ordering::Relaxed);
        let ack = Utf8Bytes::from(frame::heartbeat_ack());
        let tx = self.sender();
        if delay == 0 {
            let _ = tx.send(Out::Frame(ack));
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let _ = tx.send(Out::Frame(ack));
            });
        }
    }

    /// A sender to this connection (held by the session once attached).
    fn sender(&self) -> mpsc::UnboundedSender<Out> {
        if let Some(tx) = &self.tx {
            return tx.clone();
        }
        let world = self.core.world.lock();
        self.session_id
            .as_ref()
            .and_then(|sid| world.sessions.by_id.get(sid))
            .and_then(|s| s.conn.as_ref())
            .filter(|c| c.id == self.id)
            .map(|c| c.tx.clone())
            // Session gone: a sender nobody reads is harmless.
            .unwrap_or_else(|| mpsc::unbounded_channel().0)
    }

    fn token_ok(&self, token: Option<&str>) -> bool {
        let want = &self.core.config().token;
        token.is_some_and(|t| t.strip_prefix("Bot ").unwrap_or(t) == want)
    }

    fn identify(&mut self, d: &Value) -> ControlFlow<(u16, &'static str)> {
        let config = self.core.config();
        if !self.token_ok(d.get("token").and_then(Value::as_str)) {
            return ControlFlow::Break((close::AUTHENTICATION_FAILED, "Authentication failed."));
        }
        if d.get("properties").is_none_or(|p| !p.is_object()) {
            return ControlFlow::Break((close::DECODE_ERROR, "Error while decoding payload."));
        }
        let Some(intents) = d.get("intents").and_then(Value::as_u64) else {
            return ControlFlow::Break((close::INVALID_INTENTS, "Invalid intent(s)."));
        };
        if intents & !intents::ALL_VALID != 0 {
            return ControlFlow::Break((close::INVALID_INTENTS, "Invalid intent(s)."));
        }
        if intents & intents::PRIVILEGED & !config.privileged_intents != 0 {
            return ControlFlow::Break((close::DISALLOWED_INTENTS, "Disallowed intent(s)."));
        }
        let (shard_id, shard_total) = match d.get("shard") {
            None | Some(Value::Null) => (0, 1),
            Some(Value::Array(a)) if a.len() == 2 => match (a[0].as_u64(), a[1].as_u64()) {
                (Some(id), Some(total)) if total >= 1 && id < total && total <= 4096 => {
                    (id as u32, total as u32)
                }
                _ => return ControlFlow::Break((close::INVALID_SHARD, "Invalid shard.")),
            },
            Some(_) => return ControlFlow::Break((close::INVALID_SHARD, "Invalid shard.")),
        };
        if config.enforce_shard_total && shard_total != config.shards && shard_total != 1 {
            return ControlFlow::Break((close::INVALID_SHARD, "Invalid shard."));
        }

        let mut world = self.core.world.lock();
        let on_shard: Vec<u64> = world
            .guilds
            .keys()
            .copied()
            .filter(|g| (g >> 22) % u64::from(shard_total) == u64::from(shard_id))
            .collect();
        if on_shard.len() > config.max_guilds_per_shard {
            return ControlFlow::Break((close::SHARDING_REQUIRED, "Sharding required."));
        }
        // At most one identify per bucket per window (max_concurrency buckets).
        let bucket = shard_id % config.max_concurrency.max(1);
        let now = Instant::now();
        if let Some(last) = world.sessions.last_identify.get(&bucket)
            && now.duration_since(*last) < config.identify_interval
        {
            return ControlFlow::Break((close::RATE_LIMITED, "You are being rate limited."));
        }
        world.sessions.last_identify.insert(bucket, now);

        let session_id = format!("{:032x}", rand::random::<u128>());
        let tx = self
            .tx
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().0);
        let mut session = Session {
            id: session_id.clone(),
            shard_id,
            shard_total,
            intents,
            seq: 0,
            log: Default::default(),
            conn: Some(Conn { id: self.id, tx }),
            detached_at: None,
            attachments: 1,
        };
        let ready = json!({
            "v": 10,
            "user": world.current_user_json(),
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": self.core.gateway_url(),
            "guilds": on_shard.iter().map(|g| json!({"id": g.to_string(), "unavailable": true})).collect::<Vec<_>>(),
            "shard": [shard_id, shard_total],
            "application": {"id": world.app_id.to_string(), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "user_settings": {},
        });
        let limit = config.replay_limit;
        session.push("READY", &ready.to_string(), limit);
        // GUILD_CREATE needs the GUILDS intent.
        if intents & intents::GUILDS != 0 {
            for g in &on_shard {
                if let Some(d) = world.guild_create_json(*g) {
                    session.push("GUILD_CREATE", &d.to_string(), limit);
                }
            }
        }
        world.sessions.by_id.insert(session_id.clone(), session);
        drop(world);
        self.session_id = Some(session_id);
        self.core.notify();
        ControlFlow::Continue(())
    }

    fn resume(&mut self, d: &Value) -> ControlFlow<(u16, &'static str)> {
        if !self.token_ok(d.get("token").and_then(Value::as_str)) {
            return ControlFlow::Break((close::AUTHENTICATION_FAILED, "Authentication failed."));
        }
        let (Some(sid), Some(seq)) = (
            d.get("session_id").and_then(Value::as_str),
            d.get("seq").and_then(Value::as_u64),
        ) else {
            return ControlFlow::Break((close::DECODE_ERROR, "Error while decoding payload."));
        };
        let ttl = self.core.config().session_ttl;
        let limit = self.core.config().replay_limit;
        let mut world = self.core.world.lock();
        let expired = world.sessions.by_id.get(sid).is_none_or(|s| {
            s.detached_at
                .is_some_and(|t| s.conn.is_none() && t.elapsed() > ttl)
        });
        let replay = if expired {
            world.sessions.by_id.remove(sid);
            None
        } else {
            world
                .sessions
                .by_id
                .get(sid)
                .and_then(|s| s.replay_after(seq))
        };
        let Some(replay) = replay else {
            drop(world);
            if let Some(tx) = &self.tx {
                let _ = tx.send(Out::Frame(frame::invalid_session(false).into()));
            }
            return ControlFlow::Continue(());
        };
        let tx = self
            .tx
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().0);
        let Some(session) = world.sessions.by_id.get_mut(sid) else {
            return ControlFlow::Continue(());
        };
        // A connection still attached to this session is superseded: its
        // channel closes when we replace the sender, and it drops.
        session.conn = Some(Conn { id: self.id, tx });
        session.detached_at = None;
        session.attachments += 1;
        for f in replay {
            session.send(Out::Frame(f));
        }
        session.push("RESUMED", "{}", limit);
        drop(world);
        self.session_id = Some(sid.to_owned());
        self.core.notify();
        ControlFlow::Continue(())
    }

    /// REQUEST_GUILD_MEMBERS: one GUILD_MEMBERS_CHUNK with every member.
    fn request_guild_members(&mut self, d: &Value) {
        let Some(guild_id) = d
            .get("guild_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
        else {
            return;
        };
        let Some(sid) = self.session_id.clone() else {
            return;
        };
        let mut world = self.core.world.lock();
        let Some(g) = world.guilds.get(&guild_id) else {
            return;
        };
        let members: Vec<Value> = g
            .members
            .values()
            .filter_map(|m| world.users.get(&m.user_id).map(|u| m.json(u)))
            .collect();
        let mut chunk = json!({
            "guild_id": guild_id.to_string(),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        });
        if let Some(n) = d.get("nonce") {
            chunk["nonce"] = n.clone();
        }
        let limit = world.config.replay_limit;
        if let Some(s) = world.sessions.by_id.get_mut(&sid) {
            s.push("GUILD_MEMBERS_CHUNK", &chunk.to_string(), limit);
        }
    }
}

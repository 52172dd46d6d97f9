//! What a client's gateway payloads ask for: HEARTBEAT, IDENTIFY, RESUME and
//! REQUEST_GUILD_MEMBERS, with Discord's close codes for the ones it refuses.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use serde_json::{Value, json};

use super::{Closing, Connection, DECODE_FAILED, close};
use crate::config::{SimConfig, intents};
use crate::frame;
use crate::session::{Conn, Entry, Out, Session};
use crate::state::World;

/// Gateway commands a connection may send per minute before 4008.
const COMMANDS_PER_MINUTE: u32 = 120;

const AUTHENTICATION_FAILED: Closing = (close::AUTHENTICATION_FAILED, "Authentication failed.");
const ALREADY_AUTHENTICATED: Closing = (close::ALREADY_AUTHENTICATED, "Already authenticated.");
const INVALID_INTENTS: Closing = (close::INVALID_INTENTS, "Invalid intent(s).");
const INVALID_SHARD: Closing = (close::INVALID_SHARD, "Invalid shard.");
const RATE_LIMITED: Closing = (close::RATE_LIMITED, "You are being rate limited.");

/// What an IDENTIFY asks for, once checked.
struct Identify {
    intents: u64,
    shard_id: u32,
    shard_total: u32,
}

impl Connection {
    /// Handle one client payload.
    pub(super) fn handle(&mut self, text: &str) -> ControlFlow<Closing> {
        let Ok(payload) = serde_json::from_str::<Value>(text) else {
            return ControlFlow::Break(DECODE_FAILED);
        };
        let Some(op) = payload.get("op").and_then(Value::as_u64) else {
            return ControlFlow::Break(DECODE_FAILED);
        };
        let d = payload.get("d").cloned().unwrap_or(Value::Null);

        if self.window_start.elapsed() >= Duration::from_secs(60) {
            self.window_start = Instant::now();
            self.commands_in_window = 0;
        }
        self.commands_in_window += 1;
        if self.commands_in_window > COMMANDS_PER_MINUTE {
            return ControlFlow::Break(RATE_LIMITED);
        }

        match op {
            1 => {
                self.heartbeat_deadline =
                    tokio::time::Instant::now() + self.core.config().heartbeat_timeout;
                self.ack();
                ControlFlow::Continue(())
            }
            2 | 6 if self.session_id.is_some() => ControlFlow::Break(ALREADY_AUTHENTICATED),
            2 => self.identify(&d),
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

    fn token_ok(&self, token: Option<&str>) -> bool {
        let want = &self.core.config().token;
        token.is_some_and(|t| t.strip_prefix("Bot ").unwrap_or(t) == want)
    }

    /// IDENTIFY: a new session with READY, then GUILD_CREATE for each guild
    /// on its shard.
    fn identify(&mut self, d: &Value) -> ControlFlow<Closing> {
        // A handle of our own on the core: the world stays locked while
        // `take_sender` borrows this connection mutably.
        let core = Arc::clone(&self.core);
        let config = core.config();
        let who = match self.check_identify(d, config) {
            Ok(who) => who,
            Err(closing) => return ControlFlow::Break(closing),
        };
        let mut world = core.world.lock();
        let on_shard: Vec<u64> = world
            .guilds
            .keys()
            .copied()
            .filter(|g| (g >> 22) % u64::from(who.shard_total) == u64::from(who.shard_id))
            .collect();
        if on_shard.len() > config.max_guilds_per_shard {
            return ControlFlow::Break((close::SHARDING_REQUIRED, "Sharding required."));
        }
        // At most one identify per bucket per window (max_concurrency buckets).
        // Discord answers one too many with INVALID_SESSION, not a close: the
        // client is to wait, reconnect and identify again.
        let bucket = who.shard_id % config.max_concurrency.max(1);
        let now = Instant::now();
        if let Some(last) = world.sessions.last_identify.get(&bucket)
            && now.duration_since(*last) < config.identify_interval
        {
            world.sessions.counts.identifies_too_fast += 1;
            drop(world);
            if let Some(tx) = &self.tx {
                let _ = tx.send(Out::Frame(frame::invalid_session(false).into()));
            }
            core.notify();
            return ControlFlow::Continue(());
        }
        world.sessions.last_identify.insert(bucket, now);
        world.sessions.counts.identifies += 1;

        let session_id = format!("{:032x}", rand::random::<u128>());
        let mut session = Session {
            id: session_id.clone(),
            shard_id: who.shard_id,
            shard_total: who.shard_total,
            intents: who.intents,
            seq: 0,
            log: Default::default(),
            conn: Some(Conn {
                id: self.id,
                tx: self.take_sender(),
            }),
            detached_at: None,
            attachments: 1,
        };
        let ready = ready_json(&world, &session, &on_shard, core.resume_url());
        let limit = config.replay_limit;
        session.push("READY", &ready.to_string(), limit);
        // GUILD_CREATE needs the GUILDS intent.
        if who.intents & intents::GUILDS != 0 {
            for g in &on_shard {
                if let Some(d) = world.guild_create_json(*g) {
                    session.push("GUILD_CREATE", &d.to_string(), limit);
                }
            }
        }
        world.sessions.by_id.insert(session_id.clone(), session);
        drop(world);
        self.session_id = Some(session_id);
        core.notify();
        ControlFlow::Continue(())
    }

    /// The checks an IDENTIFY passes before it touches the world: token,
    /// properties, intents (valid, and privileged ones enabled) and shard.
    fn check_identify(&self, d: &Value, config: &SimConfig) -> Result<Identify, Closing> {
        if !self.token_ok(d.get("token").and_then(Value::as_str)) {
            return Err(AUTHENTICATION_FAILED);
        }
        if d.get("properties").is_none_or(|p| !p.is_object()) {
            return Err(DECODE_FAILED);
        }
        let Some(intents) = d.get("intents").and_then(Value::as_u64) else {
            return Err(INVALID_INTENTS);
        };
        if intents & !intents::ALL_VALID != 0 {
            return Err(INVALID_INTENTS);
        }
        if intents & intents::PRIVILEGED & !config.privileged_intents != 0 {
            return Err((close::DISALLOWED_INTENTS, "Disallowed intent(s)."));
        }
        let (shard_id, shard_total) = match d.get("shard") {
            None | Some(Value::Null) => (0, 1),
            Some(Value::Array(a)) if a.len() == 2 => match (a[0].as_u64(), a[1].as_u64()) {
                (Some(id), Some(total)) if total >= 1 && id < total && total <= 4096 => {
                    (id as u32, total as u32)
                }
                _ => return Err(INVALID_SHARD),
            },
            Some(_) => return Err(INVALID_SHARD),
        };
        if config.enforce_shard_total && shard_total != config.shards && shard_total != 1 {
            return Err(INVALID_SHARD);
        }
        Ok(Identify {
            intents,
            shard_id,
            shard_total,
        })
    }

    fn resume(&mut self, d: &Value) -> ControlFlow<Closing> {
        if !self.token_ok(d.get("token").and_then(Value::as_str)) {
            return ControlFlow::Break(AUTHENTICATION_FAILED);
        }
        let (Some(sid), Some(seq)) = (
            d.get("session_id").and_then(Value::as_str),
            d.get("seq").and_then(Value::as_u64),
        ) else {
            return ControlFlow::Break(DECODE_FAILED);
        };
        let core = Arc::clone(&self.core);
        let ttl = core.config().session_ttl;
        let limit = core.config().replay_limit;
        let mut world = core.world.lock();
        let counts = &mut world.sessions.counts;
        match self.entry {
            Entry::ResumeUrl => counts.resumes_at_resume_url += 1,
            Entry::Gateway => counts.resumes_elsewhere += 1,
        }
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
        let tx = self.take_sender();
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
        core.notify();
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

/// READY for a new `session`: the bot as the current user, and the guilds
/// on its shard, unavailable until their GUILD_CREATE.
fn ready_json(world: &World, session: &Session, on_shard: &[u64], resume_url: String) -> Value {
    json!({
        "v": 10,
        "user": world.current_user_json(),
        "session_id": session.id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "guilds": on_shard.iter().map(|g| json!({"id": g.to_string(), "unavailable": true})).collect::<Vec<_>>(),
        "shard": [session.shard_id, session.shard_total],
        "application": {"id": world.app_id.to_string(), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": [],
        "auth": {},
        "user_settings": {},
    })
}

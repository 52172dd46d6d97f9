//! Gateway sessions: sequence numbers, the per-session replay log, and the
//! link to the connection currently serving the session.
//!
//! The world (`state`) owns the sessions and writes dispatches into them
//! under its lock, so this layer sits below both the world and the
//! connection tasks in `gateway`: it does no I/O, it only hands frames to
//! whichever connection is attached.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;

use crate::frame;

/// What the session layer asks a connection task to do.
#[derive(Debug)]
pub enum Out {
    /// Send a text frame (compressed by the connection if negotiated).
    Frame(Utf8Bytes),
    /// Send a close frame with this code, then wait for the echo.
    Close(u16, &'static str),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// The live connection serving a session.
#[derive(Debug)]
pub struct Conn {
    pub id: u64,
    pub tx: mpsc::UnboundedSender<Out>,
}

/// One identified gateway session.
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub shard_id: u32,
    pub shard_total: u32,
    pub intents: u64,
    pub seq: u64,
    /// `(seq, frame)` of recent dispatches, for RESUME.
    pub log: VecDeque<(u64, Utf8Bytes)>,
    pub conn: Option<Conn>,
    /// When the last connection went away (for session expiry).
    pub detached_at: Option<Instant>,
    /// How many connections have served this session (1 + resumes).
    pub attachments: u64,
}

impl Session {
    /// Whether events for `guild_id` belong on this session's shard.
    pub fn serves_guild(&self, guild_id: u64) -> bool {
        (guild_id >> 22) % u64::from(self.shard_total.max(1)) == u64::from(self.shard_id)
    }

    /// Whether events about `guild_id` belong on this session; `None` is
    /// for events outside any guild (DMs), which Discord sends to shard 0.
    pub fn serves(&self, guild_id: Option<u64>) -> bool {
        match guild_id {
            Some(g) => self.serves_guild(g),
            None => self.shard_id == 0,
        }
    }

    /// Assign the next sequence number, log the frame and send it if a
    /// connection is attached. `d` is the serialized payload.
    pub fn push(&mut self, t: &str, d: &str, replay_limit: usize) {
        self.seq += 1;
        let frame = Utf8Bytes::from(frame::dispatch(self.seq, t, d));
        self.log.push_back((self.seq, frame.clone()));
        while self.log.len() > replay_limit {
            self.log.pop_front();
        }
        self.send(Out::Frame(frame));
    }

    /// Send to the attached connection; forget it if it is gone.
    pub fn send(&mut self, out: Out) {
        if let Some(conn) = &self.conn
            && conn.tx.send(out).is_err()
        {
            self.detach(None);
        }
    }

    /// Forget the connection (only if it is `conn_id`, when given).
    pub fn detach(&mut self, conn_id: Option<u64>) {
        if conn_id.is_none() || self.conn.as_ref().map(|c| c.id) == conn_id {
            self.conn = None;
            self.detached_at = Some(Instant::now());
        }
    }

    /// Frames after `seq`, or `None` when some of them were already dropped
    /// from the log (the session can no longer be resumed faithfully).
    pub fn replay_after(&self, seq: u64) -> Option<Vec<Utf8Bytes>> {
        if seq > self.seq {
            return None;
        }
        let first_kept = self.log.front().map_or(self.seq + 1, |(s, _)| *s);
        if seq + 1 < first_kept {
            return None;
        }
        Some(
            self.log
                .iter()
                .filter(|(s, _)| *s > seq)
                .map(|(_, f)| f.clone())
                .collect(),
        )
    }
}

/// All sessions, by session ID.
#[derive(Debug, Default)]
pub struct Sessions {
    pub by_id: HashMap<String, Session>,
    /// Last identify per concurrency bucket (`shard_id % max_concurrency`).
    pub last_identify: HashMap<u32, Instant>,
    /// What clients asked of the gateway, for tests to assert on.
    pub counts: GatewayCounts,
}

/// How clients started and resumed sessions since the simulator started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatewayCounts {
    /// IDENTIFYs that started a session.
    pub identifies: u64,
    /// IDENTIFYs refused with INVALID_SESSION for coming too fast (within
    /// the identify window of their concurrency bucket).
    pub identifies_too_fast: u64,
    /// RESUMEs sent on a connection to READY's `resume_gateway_url`.
    pub resumes_at_resume_url: u64,
    /// RESUMEs sent on a connection to the gateway URL itself: Discord asks
    /// for `resume_gateway_url`, and a bot that ignores it is disconnected
    /// more often there.
    pub resumes_elsewhere: u64,
}

/// Which URL a gateway connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The URL of `GET /gateway/bot` (what a bot is configured with).
    Gateway,
    /// READY's `resume_gateway_url`.
    ResumeUrl,
}

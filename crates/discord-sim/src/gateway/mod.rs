//! The gateway: one task per WebSocket connection.
//!
//! A connection starts with HELLO and becomes attached to a session by
//! IDENTIFY or RESUME. From then on the session layer ([`crate::session`],
//! driven under the world lock) pushes frames through an unbounded channel,
//! and this task compresses and writes them, batching whatever is queued
//! before each flush so a busy session is not limited by one syscall per
//! event.
//!
//! This file is the connection's life: its loop, writes and closes. What the
//! client's payloads ask for (heartbeats, IDENTIFY, RESUME, member requests)
//! is in `commands.rs`.

mod commands;

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
use tokio::sync::mpsc;
use tokio::sync::watch;

use crate::compression::{Compressor, Mode};
use crate::core::Core;
use crate::session::{Entry, Out};

/// Gateway close codes, as Discord uses them.
pub mod close {
    pub const UNKNOWN_ERROR: u16 = 4000;
    pub const UNKNOWN_OPCODE: u16 = 4001;
    pub const DECODE_ERROR: u16 = 4002;
    pub const NOT_AUTHENTICATED: u16 = 4003;
    pub const AUTHENTICATION_FAILED: u16 = 4004;
    pub const ALREADY_AUTHENTICATED: u16 = 4005;
    pub const INVALID_SEQ: u16 = 4007;
    pub const RATE_LIMITED: u16 = 4008;
    pub const SESSION_TIMED_OUT: u16 = 4009;
    pub const INVALID_SHARD: u16 = 4010;
    pub const SHARDING_REQUIRED: u16 = 4011;
    pub const INVALID_API_VERSION: u16 = 4012;
    pub const INVALID_INTENTS: u16 = 4013;
    pub const DISALLOWED_INTENTS: u16 = 4014;
}

/// How long to wait for the client's close echo.
const CLOSE_ECHO_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames written before a flush, at most.
const WRITE_BATCH: usize = 256;

/// A close code and the reason Discord gives with it.
type Closing = (u16, &'static str);

const DECODE_FAILED: Closing = (close::DECODE_ERROR, "Error while decoding payload.");

/// `GET /?v=10&encoding=json[&compress=...]`: upgrade to the gateway.
pub async fn handler(
    State(core): State<Arc<Core>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(core, query, ws, Entry::Gateway)
}

/// The same at READY's `resume_gateway_url` (`/resume/?v=10...`): the same
/// gateway, but RESUMEs here are counted apart from those at the gateway URL.
pub async fn resume_handler(
    State(core): State<Arc<Core>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(core, query, ws, Entry::ResumeUrl)
}

fn upgrade(
    core: Arc<Core>,
    query: HashMap<String, String>,
    ws: WebSocketUpgrade,
    entry: Entry,
) -> Response {
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| async move { Connection::run(core, socket, query, entry).await })
}

/// Whether closing with `code` ends the session, so that a RESUME of it gets
/// INVALID_SESSION: Discord's "reconnect and start a new session" codes.
pub fn close_ends_session(code: u16) -> bool {
    matches!(code, close::INVALID_SEQ | close::SESSION_TIMED_OUT)
}

struct Connection {
    core: Arc<Core>,
    id: u64,
    /// The URL the client connected to.
    entry: Entry,
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

/// What the connection does after one turn of its loop.
enum Next {
    Continue,
    /// End without a close frame, as a crashed server or a dropped TCP
    /// connection does.
    Vanish,
    /// Send a close frame and wait for the echo.
    Close(Closing),
    /// The client sent a close frame.
    ClientClosed(Option<CloseFrame>),
}

impl Connection {
    async fn run(core: Arc<Core>, socket: WebSocket, query: HashMap<String, String>, entry: Entry) {
        let mode = Mode::parse(query.get("compress").map(String::as_str));
        let mut conn = Connection::new(core, socket, mode.unwrap_or_default(), entry);
        let mut epoch = conn.core.epoch.subscribe();
        epoch.borrow_and_update();

        // Query problems are reported the way Discord does: close codes.
        if query.get("v").is_some_and(|v| v != "10") {
            return conn
                .close((close::INVALID_API_VERSION, "Invalid API version."))
                .await;
        }
        if query.get("encoding").is_some_and(|e| e != "json") || mode.is_err() {
            return conn.close(DECODE_FAILED).await;
        }
        let hello = frame::hello(conn.core.config().heartbeat_interval.as_millis());
        if conn.write(hello.into()).await.is_err() || conn.ws.flush().await.is_err() {
            return;
        }
        conn.serve(epoch).await;
    }

    fn new(core: Arc<Core>, ws: WebSocket, mode: Mode, entry: Entry) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let timeout = core.config().heartbeat_timeout;
        Self {
            id: core.next_conn.fetch_add(1, Ordering::Relaxed),
            core,
            entry,
            ws,
            compressor: Compressor::new(mode),
            rx,
            tx: Some(tx),
            session_id: None,
            heartbeat_deadline: tokio::time::Instant::now() + timeout,
            window_start: Instant::now(),
            commands_in_window: 0,
            deferred: None,
        }
    }

    /// Until the connection ends: write what the session sends, handle
    /// what the client sends, and watch the heartbeat deadline and the
    /// simulator's stop.
    async fn serve(&mut self, mut epoch: watch::Receiver<u64>) {
        loop {
            let deferred = self.deferred.take();
            let (ws, rx) = (&mut self.ws, &mut self.rx);
            let next = tokio::select! {
                _ = epoch.changed() => {
                    // The simulator is stopping: vanish like a crashed server.
                    self.detach();
                    Next::Vanish
                }
                _ = tokio::time::sleep_until(self.heartbeat_deadline) => {
                    self.closing((close::SESSION_TIMED_OUT, "Session timed out."))
                }
                out = async { match deferred { Some(d) => Some(d), None => rx.recv().await } } => {
                    self.deliver(out).await
                }
                msg = ws.recv() => self.receive(msg),
            };
            match next {
                Next::Continue => {}
                Next::Vanish => return,
                Next::Close(closing) => return self.close(closing).await,
                Next::ClientClosed(frame) => return self.client_closed(frame).await,
            }
        }
    }

    /// Act on what the session layer sent (`None`: the session dropped its
    /// sender).
    async fn deliver(&mut self, out: Option<Out>) -> Next {
        match out {
            Some(Out::Frame(f)) => {
                if self.write_batch(f).await.is_err() {
                    self.detach();
                    return Next::Vanish;
                }
                Next::Continue
            }
            Some(Out::Close(code, reason)) => self.closing((code, reason)),
            // Dropped on purpose, or the session moved to another
            // connection (RESUME elsewhere) or was invalidated.
            Some(Out::Drop) | None => {
                self.detach();
                Next::Vanish
            }
        }
    }

    /// Act on what the client sent (`None`: the stream ended).
    fn receive(&mut self, msg: Option<Result<Message, axum::Error>>) -> Next {
        let text = match msg {
            None | Some(Err(_)) => {
                self.detach();
                return Next::Vanish;
            }
            Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
            Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                Ok(t) => t,
                // No detach: the session lets the connection go when its
                // next frame finds the channel closed.
                Err(_) => return Next::Close(DECODE_FAILED),
            },
            Some(Ok(Message::Close(frame))) => return Next::ClientClosed(frame),
            Some(Ok(_)) => return Next::Continue,
        };
        match self.handle(&text) {
            ControlFlow::Continue(()) => Next::Continue,
            ControlFlow::Break(closing) => self.closing(closing),
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
    async fn close(&mut self, (code, reason): Closing) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        if self.ws.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        self.read_to_end().await;
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
        self.read_to_end().await;
    }

    /// Read and discard until the client ends the stream, or
    /// [`CLOSE_ECHO_TIMEOUT`].
    async fn read_to_end(&mut self) {
        let _ = tokio::time::timeout(CLOSE_ECHO_TIMEOUT, async {
            while let Some(Ok(_)) = self.ws.recv().await {}
        })
        .await;
    }

    /// Close with `closing`: the session ends with the connection when the
    /// code says to start a new one (4007, 4009), otherwise it stays
    /// resumable.
    fn closing(&mut self, closing: Closing) -> Next {
        if close_ends_session(closing.0) {
            self.end_session();
        } else {
            self.detach();
        }
        Next::Close(closing)
    }

    /// Forget the session this connection serves (if it still does).
    fn end_session(&mut self) {
        if let Some(sid) = self.session_id.take() {
            let mut world = self.core.world.lock();
            let ours = world
                .sessions
                .by_id
                .get(&sid)
                .is_some_and(|s| s.conn.as_ref().is_some_and(|c| c.id == self.id));
            if ours {
                world.sessions.by_id.remove(&sid);
            }
        }
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

    /// The sender for the session this connection attaches to: ours, or
    /// (already attached) a fresh one whose messages go nowhere.
    fn take_sender(&mut self) -> mpsc::UnboundedSender<Out> {
        self.tx
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().0)
    }
}

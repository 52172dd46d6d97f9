//! The state every part of a running simulator shares: the world, scripted
//! REST faults, change notifications and the gateway's knobs.
//!
//! It sits below the transports so that the dependencies point one way:
//! `gateway` and `rest` serve requests against a [`Core`], `server` wires
//! them to a listener, and the scenario API drives the same [`Core`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::config::SimConfig;
use crate::faults::Faults;
use crate::ids::Snowflakes;
use crate::ratelimit::Limiter;
use crate::state::World;

/// The path of READY's `resume_gateway_url` (see [`Core::resume_url`]).
pub const RESUME_PATH: &str = "/resume";

/// State shared by the server, the connections and the scenario API.
pub struct Core {
    pub world: Mutex<World>,
    pub faults: Mutex<Faults>,
    /// REST rate-limit windows and the count of invalid requests.
    pub limiter: Mutex<Limiter>,
    /// Bumped after every change observers may wait for.
    pub changed: watch::Sender<u64>,
    /// Bumped to make every gateway connection vanish (stop/restart).
    pub epoch: watch::Sender<u64>,
    /// Delay before HEARTBEAT_ACKs, in milliseconds (fault injection).
    pub ack_delay_ms: AtomicU64,
    /// Delay before the CDN answers, in milliseconds (fault injection).
    pub cdn_delay_ms: AtomicU64,
    /// Requests the CDN was sent.
    pub cdn_requests: AtomicU64,
    pub next_conn: AtomicU64,
    pub port: AtomicU16,
    config: SimConfig,
}

impl Core {
    /// A fresh world for `config`, to be served on `port` (0 until bound).
    pub fn new(config: SimConfig, port: u16) -> Self {
        let ids = Arc::new(Snowflakes::default());
        Self {
            world: Mutex::new(World::new(config.clone(), ids)),
            faults: Mutex::new(Faults::default()),
            limiter: Mutex::new(Limiter::new(config.rate_limits.clone())),
            changed: watch::channel(0).0,
            epoch: watch::channel(0).0,
            ack_delay_ms: AtomicU64::new(0),
            cdn_delay_ms: AtomicU64::new(0),
            cdn_requests: AtomicU64::new(0),
            next_conn: AtomicU64::new(1),
            port: AtomicU16::new(port),
            config,
        }
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Wake everything waiting in the scenario API.
    pub fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// `ws://127.0.0.1:PORT`, the gateway URL (`GET /gateway/bot`'s `url`).
    pub fn gateway_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port.load(Ordering::Relaxed))
    }

    /// `ws://127.0.0.1:PORT/resume`, READY's `resume_gateway_url`. Discord's
    /// is another host than the gateway's; a path of its own on the same
    /// port is enough to tell which one a client resumes on.
    pub fn resume_url(&self) -> String {
        format!("{}{RESUME_PATH}", self.gateway_url())
    }
}

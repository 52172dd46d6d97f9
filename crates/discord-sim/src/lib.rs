//! # discord-sim
//!
//! Discord's gateway (WebSocket) and REST API (`/api/v10`) on 127.0.0.1, so
//! an unchanged bot — any twilight 0.18 bot — runs against it end to end.
//!
//! * [`SimServer`] is the server: one port for both the gateway (`/`, and
//!   `/resume` for READY's `resume_gateway_url`) and REST, all state in memory.
//! * [`Sim`] is the scenario API for tests: build guilds, channels, roles and
//!   members, make members talk and run slash commands, then await what the
//!   bot did (messages, embeds, mentions, DMs, role changes, timeouts, kicks,
//!   bans), and inject faults (disconnects, op 7, op 9, 4009 time-outs,
//!   delayed ACKs, 429s, 5xx, restarts).
//! * [`load`] plays many guilds and members at a target rate and measures.
//!
//! Point a twilight bot at it with
//! `twilight_http::Client::builder().proxy(sim.http_addr(), true)` and
//! `ConfigBuilder::new(token, intents).proxy_url(sim.gateway_url())`.
//!
//! ## Layers
//!
//! Each module uses only those listed before it:
//!
//! 1. [`ratelimit`], [`config`], [`ids`], [`model`], [`permissions`],
//!    [`compression`], [`frame`], [`faults`]: plain data and encodings;
//! 2. [`session`]: gateway sessions and their replay logs;
//! 3. [`state`]: the world, which owns the sessions and dispatches into them;
//! 4. [`core`](mod@crate::core): the world plus the shared knobs of a running simulator;
//! 5. [`gateway`] and [`rest`]: the two transports, each serving a `Core`;
//! 6. [`server`]: both on one listener;
//! 7. [`scenario`], then [`load`] and [`bench`](mod@bench) on top of it; [`spec`]
//!    reads Discord's description for the fidelity checks.

pub mod bench;
pub mod compression;
pub mod config;
pub mod core;
pub mod faults;
pub mod frame;
pub mod gateway;
pub mod ids;
pub mod load;
pub mod model;
pub mod permissions;
pub mod ratelimit;
pub mod rest;
pub mod scenario;
pub mod server;
pub mod session;
pub mod spec;
pub mod state;

pub use config::{SimConfig, intents};
pub use model::Attachment;
pub use scenario::{
    AsUser, Ban, Channel, DEFAULT_BOT_PERMISSIONS, Guild, Inbox, Interaction, InteractionResponse,
    Member, OptionValue, Role, SessionInfo, Sim, SimError, User,
};
pub use server::SimServer;
pub use session::GatewayCounts;
pub use state::{Action, AuditEntry, InteractionState, RequestRec, SentMessage};

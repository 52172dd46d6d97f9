//! The simulated world: guilds, channels, roles, members, users, messages,
//! DMs, interactions, commands, gateway sessions, and the log of everything
//! the bot did.
//!
//! One mutex guards it all. Every state change and the gateway dispatch it
//! causes happen under that lock, so the order of events on a session always
//! matches the order of changes, which is what makes RESUME replay exact.
//!
//! [`World`] is defined here; its records are in `records.rs`, the log of
//! what the bot did in `actions.rs`, its Discord JSON views in `json.rs`,
//! gateway dispatch in `dispatch.rs`, world building in `build.rs`, and
//! moderation (bans, kicks, timeouts and the audit log, whoever acts) in
//! `moderation.rs`.

mod actions;
mod build;
mod dispatch;
mod json;
mod moderation;
mod records;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::config::SimConfig;
use crate::ids::Snowflakes;
use crate::model::{ChannelRec, MessageRec, UserRec};
use crate::session::Sessions;

pub use actions::{Action, RequestRec, SentMessage};
pub use moderation::{
    AuditEntry, audit_action, change, roles_change, timeout_change, timeout_too_long,
};
pub use records::{GuildRec, InteractionRec, InteractionState};

/// Everything the simulator knows.
pub struct World {
    pub config: SimConfig,
    pub ids: Arc<Snowflakes>,
    pub bot: UserRec,
    pub app_id: u64,
    pub users: HashMap<u64, UserRec>,
    pub guilds: BTreeMap<u64, GuildRec>,
    pub channels: HashMap<u64, ChannelRec>,
    pub messages: HashMap<u64, MessageRec>,
    pub channel_messages: HashMap<u64, Vec<u64>>,
    /// DM channel per user.
    pub dm_channels: HashMap<u64, u64>,
    pub interactions: HashMap<u64, InteractionRec>,
    pub interaction_tokens: HashMap<String, u64>,
    pub global_commands: Vec<Value>,
    pub guild_commands: HashMap<u64, Vec<Value>>,
    pub actions: Vec<Action>,
    pub requests: Vec<RequestRec>,
    pub sessions: Sessions,
    /// Total dispatches written to sessions (load statistics).
    pub dispatched: u64,
}

impl World {
    pub fn new(config: SimConfig, ids: Arc<Snowflakes>) -> Self {
        let bot_id = ids.next();
        let bot = UserRec {
            id: bot_id,
            name: config.bot_name.clone(),
            bot: true,
            blocks_dms: false,
            avatar: None,
        };
        let mut users = HashMap::new();
        users.insert(bot_id, bot.clone());
        Self {
            config,
            app_id: bot_id,
            bot,
            ids,
            users,
            guilds: BTreeMap::new(),
            channels: HashMap::new(),
            messages: HashMap::new(),
            channel_messages: HashMap::new(),
            dm_channels: HashMap::new(),
            interactions: HashMap::new(),
            interaction_tokens: HashMap::new(),
            global_commands: Vec::new(),
            guild_commands: HashMap::new(),
            actions: Vec::new(),
            requests: Vec::new(),
            sessions: Sessions::default(),
            dispatched: 0,
        }
    }

    /// Record something the bot did.
    pub fn record(&mut self, action: Action) {
        self.actions.push(action);
    }
}

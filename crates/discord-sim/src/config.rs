//! Simulator configuration.

use std::time::Duration;

use crate::ratelimit::RateLimits;

/// Gateway intents, as Discord numbers them.
pub mod intents {
    pub const GUILDS: u64 = 1 << 0;
    pub const GUILD_MEMBERS: u64 = 1 << 1;
    pub const GUILD_MODERATION: u64 = 1 << 2;
    pub const GUILD_PRESENCES: u64 = 1 << 8;
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const DIRECT_MESSAGES: u64 = 1 << 12;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
    /// The intents that must be enabled for the application before use.
    pub const PRIVILEGED: u64 = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT;
    /// Every bit Discord defines (0..=25, with gaps that are accepted anyway).
    pub const ALL_VALID: u64 = (1 << 26) - 1;
}

/// How the simulator behaves. `SimConfig::default()` is Discord-like; tests
/// usually shorten the timings with [`SimConfig::fast`], which still paces
/// identifies as Discord does (only the window is shorter).
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The bot token clients must present (`Bot <token>` on REST).
    pub token: String,
    /// The bot user's name.
    pub bot_name: String,
    /// Shard count advertised by `GET /gateway/bot`; IDENTIFY must use this
    /// total when `enforce_shard_total` is set.
    pub shards: u32,
    /// Reject IDENTIFY whose shard total differs from `shards` (close 4010).
    pub enforce_shard_total: bool,
    /// Guilds a single shard may hold before Discord demands sharding (4011).
    pub max_guilds_per_shard: usize,
    /// `session_start_limit.max_concurrency` in `GET /gateway/bot`.
    pub max_concurrency: u32,
    /// The identify rate-limit window (Discord: 5 s per concurrency bucket).
    /// An IDENTIFY in the same bucket within the window is refused with
    /// INVALID_SESSION (op 9, `d: false`), as Discord refuses it.
    pub identify_interval: Duration,
    /// Heartbeat interval announced in HELLO.
    pub heartbeat_interval: Duration,
    /// A connection that sends no heartbeat for this long is closed (4009),
    /// which ends its session.
    pub heartbeat_timeout: Duration,
    /// How long a disconnected session can still be resumed.
    pub session_ttl: Duration,
    /// Events kept per session for RESUME replay; older ones make RESUME fail.
    pub replay_limit: usize,
    /// Privileged intents enabled in the application's settings.
    pub privileged_intents: u64,
    /// Deadline for the first interaction callback.
    pub interaction_deadline: Duration,
    /// Keep messages members send (for `GET` routes and edits). Benchmarks
    /// turn it off so memory stays flat. The bot's own are always kept: it
    /// edits them, and a bench with commands would otherwise see its
    /// deferred answers refused.
    pub store_messages: bool,
    /// REST rate limits (Discord-like by default, in [`SimConfig::fast`] too:
    /// a bot tested here meets them as it would on Discord).
    pub rate_limits: RateLimits,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            token: "sim-token".into(),
            bot_name: "keeper".into(),
            shards: 1,
            enforce_shard_total: true,
            max_guilds_per_shard: 2500,
            max_concurrency: 1,
            identify_interval: Duration::from_secs(5),
            heartbeat_interval: Duration::from_millis(41_250),
            heartbeat_timeout: Duration::from_millis(41_250 * 2 + 5_000),
            session_ttl: Duration::from_secs(120),
            replay_limit: 100_000,
            privileged_intents: intents::PRIVILEGED,
            interaction_deadline: Duration::from_secs(3),
            store_messages: true,
            rate_limits: RateLimits::default(),
        }
    }
}

impl SimConfig {
    /// Timings suited to tests: heartbeats every second, and identifies paced
    /// as on Discord (`max_concurrency` 1, one IDENTIFY per window) but with a
    /// 1 s window instead of 5 s, so a bot that identifies too fast is refused
    /// without making every test wait Discord's 5 s.
    pub fn fast() -> Self {
        Self {
            max_concurrency: 1,
            identify_interval: FAST_IDENTIFY_INTERVAL,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(15),
            ..Self::default()
        }
    }

    /// The same, with identifies never paced: 16 may identify at once and
    /// again at once. Only for clients with no shared identify queue (a test
    /// that starts several raw sessions side by side); each use says why.
    pub fn unpaced(self) -> Self {
        Self {
            max_concurrency: 16,
            identify_interval: Duration::ZERO,
            ..self
        }
    }
}

/// The identify window of [`SimConfig::fast`]: shorter than Discord's 5 s to
/// keep tests quick, long enough that identifies sent together collide.
pub const FAST_IDENTIFY_INTERVAL: Duration = Duration::from_secs(1);

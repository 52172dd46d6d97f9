//! Snowflake IDs.
//!
//! IDs are real snowflakes (milliseconds since the Discord epoch in the top 42
//! bits) so that bots which derive timestamps from IDs see sensible values, and
//! so that `(guild_id >> 22) % shard_count` spreads consecutive guilds over
//! shards: every ID takes the next millisecond.

use std::sync::atomic::{AtomicU64, Ordering};

/// Discord's epoch, 2015-01-01T00:00:00Z, in Unix milliseconds.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// A source of unique, increasing snowflakes.
#[derive(Debug)]
pub struct Snowflakes {
    next_ms: AtomicU64,
}

impl Default for Snowflakes {
    fn default() -> Self {
        let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
        Self {
            next_ms: AtomicU64::new(now.saturating_sub(DISCORD_EPOCH_MS)),
        }
    }
}

impl Snowflakes {
    /// The next ID: one millisecond after the previous one.
    pub fn next(&self) -> u64 {
        let ms = self.next_ms.fetch_add(1, Ordering::Relaxed);
        (ms << 22) | (ms & 0xfff)
    }
}

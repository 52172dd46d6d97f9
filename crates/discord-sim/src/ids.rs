//! Snowflake IDs, laid out as Discord's: milliseconds since the Discord epoch in
//! the top 42 bits, then 5 bits of worker, 5 of process and a 12-bit increment.
//!
//! An ID's timestamp is the moment it was made, as on Discord: bots derive
//! times from IDs (a message's creation, an interaction's age against its 3 s
//! answer window), so IDs must not run ahead of the clock, however many are
//! made a millisecond (up to 4,096; the next borrows the next millisecond).
//! Guilds are the exception: their IDs come from another worker, each a
//! millisecond after the previous one, so that `(guild_id >> 22) % shards`
//! spreads guilds made in one burst over every shard.

use std::sync::atomic::{AtomicU64, Ordering};

/// Discord's epoch, 2015-01-01T00:00:00Z, in Unix milliseconds.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// The worker bits of spread IDs (guilds), so they never equal another ID.
const SPREAD_WORKER: u64 = 1 << 17;
/// The worker bits of backdated IDs (made "earlier"), likewise.
const BACKDATED_WORKER: u64 = 2 << 17;
/// Spread IDs keep their order modulo this many milliseconds (every power of
/// two up to it is a shard count they spread evenly over).
const SPREAD_CYCLE: u64 = 64;
const INCREMENT_BITS: u32 = 12;
const MAX_INCREMENT: u64 = (1 << INCREMENT_BITS) - 1;

/// A source of unique, increasing snowflakes.
#[derive(Debug, Default)]
pub struct Snowflakes {
    /// The last ID's (milliseconds << 12 | increment).
    last: AtomicU64,
    /// The last spread ID's milliseconds.
    spread: AtomicU64,
    /// Increments of backdated IDs, so two made in one millisecond differ.
    backdated: AtomicU64,
}

/// When `id` was made, as Discord's API tells it (a message's `timestamp` is
/// its ID's moment: milliseconds, the microseconds zero).
pub fn created_at(id: u64) -> chrono::DateTime<chrono::Utc> {
    let ms = (id >> 22) + DISCORD_EPOCH_MS;
    chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default()
}

fn now_ms() -> u64 {
    let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
    now.saturating_sub(DISCORD_EPOCH_MS)
}

impl Snowflakes {
    /// The next ID: made now, after every earlier one.
    pub fn next(&self) -> u64 {
        let now = now_ms();
        let mut taken = 0;
        let _ = self
            .last
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                let (ms, increment) = (last >> INCREMENT_BITS, last & MAX_INCREMENT);
                let next = if now > ms {
                    now << INCREMENT_BITS
                } else if increment < MAX_INCREMENT {
                    last + 1
                } else {
                    (ms + 1) << INCREMENT_BITS
                };
                taken = next;
                Some(next)
            });
        let (ms, increment) = (taken >> INCREMENT_BITS, taken & MAX_INCREMENT);
        (ms << 22) | increment
    }

    /// An ID a millisecond after the previous spread ID, or, when the clock
    /// has passed that, the first millisecond from now that is the same modulo
    /// [`SPREAD_CYCLE`]: consecutive ones land on consecutive shards for any
    /// shard count dividing it, however slowly they are made (a busy machine
    /// takes more than a millisecond between two guilds), at most
    /// `SPREAD_CYCLE` ms ahead of the clock.
    pub fn next_spread(&self) -> u64 {
        let now = now_ms();
        let mut taken = 0;
        let _ = self
            .spread
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                let next = last + 1;
                taken = match now.checked_sub(next) {
                    Some(behind) if behind > 0 => {
                        next + behind.div_ceil(SPREAD_CYCLE) * SPREAD_CYCLE
                    }
                    _ => next,
                };
                Some(taken)
            });
        (taken << 22) | SPREAD_WORKER
    }
}

impl Snowflakes {
    /// An ID made `ago` before now: what a bot sees of an event Discord held
    /// back (gateway lag) before delivering it.
    pub fn made_ago(&self, ago: std::time::Duration) -> u64 {
        let ms = now_ms().saturating_sub(ago.as_millis() as u64);
        let increment = self.backdated.fetch_add(1, Ordering::Relaxed) & MAX_INCREMENT;
        (ms << 22) | BACKDATED_WORKER | increment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_of(id: u64) -> u64 {
        id >> 22
    }

    #[test]
    fn ids_are_unique_increasing_and_do_not_run_ahead_of_the_clock() {
        let ids = Snowflakes::default();
        let made: Vec<u64> = (0..100_000).map(|_| ids.next()).collect();
        assert!(made.windows(2).all(|w| w[0] < w[1]));
        // 100,000 IDs at once borrow at most ~25 ms (4,096 a millisecond), where
        // one millisecond an ID would have put the last 100 s ahead.
        let ahead = ms_of(*made.last().unwrap()).saturating_sub(now_ms());
        assert!(
            ahead < 1_000,
            "the last ID is {ahead} ms ahead of the clock"
        );
    }

    #[test]
    fn spread_ids_take_a_millisecond_each_and_never_collide() {
        let ids = Snowflakes::default();
        let guilds: Vec<u64> = (0..8).map(|_| ids.next_spread()).collect();
        let shards: std::collections::BTreeSet<u64> =
            guilds.iter().map(|g| ms_of(*g) % 4).collect();
        assert_eq!(shards.len(), 4, "consecutive guilds cover every shard");
        let others: Vec<u64> = (0..10_000).map(|_| ids.next()).collect();
        assert!(guilds.iter().all(|g| !others.contains(g)));
    }

    #[test]
    fn spread_ids_made_slowly_still_spread_evenly() {
        let ids = Snowflakes::default();
        let mut per_shard = [0; 8];
        for _ in 0..16 {
            let id = ids.next_spread();
            per_shard[(ms_of(id) % 8) as usize] += 1;
            assert!(
                ms_of(id) <= now_ms() + SPREAD_CYCLE,
                "never far ahead of the clock"
            );
            // A busy machine: more than a millisecond between two guilds.
            std::thread::sleep(std::time::Duration::from_millis(4));
        }
        assert_eq!(per_shard, [2; 8]);
    }

    #[test]
    fn an_ids_moment_is_when_it_was_made() {
        let before = chrono::Utc::now().timestamp_millis();
        let made = created_at(Snowflakes::default().next()).timestamp_millis();
        let after = chrono::Utc::now().timestamp_millis();
        assert!((before..=after).contains(&made), "{before} {made} {after}");
    }

    #[test]
    fn backdated_ids_tell_their_age() {
        let ids = Snowflakes::default();
        let id = ids.made_ago(std::time::Duration::from_millis(2_500));
        let age = now_ms() - ms_of(id);
        assert!((2_500..2_600).contains(&age), "{age}");
        assert_ne!(id, ids.made_ago(std::time::Duration::from_millis(2_500)));
    }
}

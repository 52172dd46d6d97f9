//! Who earns XP for a message: a member earns an amount in [min, max] at most
//! once per cooldown per guild, as MEE6 taught people to expect. Kept in memory:
//! each guild lives on one shard of one process, so one map sees every message
//! of the guild. The map prunes itself, so it holds only members active within
//! the longest cooldown.
//!
//! Decisions replay identically: after a restart, the map is seeded from the
//! store with every member still cooling down ([`Cooldowns::seed`]; the store
//! keeps when each last earned XP), and a message's amount is drawn from its own
//! ID ([`roll_xp`]), so a message Discord replays after a crash earns exactly
//! what it earned (or would have) in the run that crashed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use keeper_store::LastAward;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

/// How often (in message time) the map drops members whose cooldown is long over.
const PRUNE_EVERY: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Debug, Default)]
pub struct Cooldowns {
    last_award: HashMap<(Id<GuildMarker>, Id<UserMarker>), DateTime<Utc>>,
    pruned_at: Option<DateTime<Utc>>,
}

impl Cooldowns {
    /// Whether the member earns XP for a message sent at `now`; if so, the
    /// cooldown starts again from `now`.
    pub fn try_award(
        &mut self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        now: DateTime<Utc>,
        cooldown_secs: i32,
    ) -> bool {
        match self.pruned_at {
            Some(pruned) if now < pruned + PRUNE_EVERY => {}
            _ => {
                self.prune(now);
                self.pruned_at = Some(now);
            }
        }
        let cooldown = chrono::Duration::seconds(i64::from(cooldown_secs.max(0)));
        match self.last_award.get(&(guild, user)) {
            Some(&last) if now < last + cooldown => false,
            _ => {
                self.last_award.insert((guild, user), now);
                true
            }
        }
    }

    /// Forget members whose cooldown is long over (the longest allowed cooldown is
    /// one day), so the map holds only recently active members.
    fn prune(&mut self, now: DateTime<Utc>) {
        let horizon = now - chrono::Duration::days(1);
        self.last_award.retain(|_, last| *last > horizon);
    }

    /// When the member last earned XP, as far as the map knows.
    pub fn last(&self, guild: Id<GuildMarker>, user: Id<UserMarker>) -> Option<DateTime<Utc>> {
        self.last_award.get(&(guild, user)).copied()
    }

    /// Forget one member (their XP was reset by a moderator).
    pub fn forget(&mut self, guild: Id<GuildMarker>, user: Id<UserMarker>) {
        self.last_award.remove(&(guild, user));
    }

    /// The member's last award moved to `at` if later, as the store moves it when
    /// a moderator corrects their XP.
    pub fn corrected(&mut self, guild: Id<GuildMarker>, user: Id<UserMarker>, at: DateTime<Utc>) {
        let last = self.last_award.entry((guild, user)).or_insert(at);
        *last = (*last).max(at);
    }

    /// Take in what the store knows of members still cooling down.
    pub fn seed(&mut self, awards: impl IntoIterator<Item = LastAward>) {
        for award in awards {
            self.corrected(award.guild_id, award.user_id, award.at);
        }
    }
}

/// The XP a message earns: an amount in `[min, max]` (both inclusive; `min` when
/// the range is empty) drawn from the message's ID, evenly over the range, and
/// the same every time the message is seen.
pub fn roll_xp(message_id: u64, min: i32, max: i32) -> i64 {
    let min = i64::from(min.max(0));
    let max = i64::from(max);
    if max <= min {
        return min;
    }
    let span = (max - min + 1) as u64;
    min + (mix(message_id) % span) as i64
}

/// SplitMix64's finaliser: consecutive IDs (one millisecond apart, or one apart
/// within a millisecond) spread over all 64 bits.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn once_per_cooldown_per_member_and_guild() {
        let mut c = Cooldowns::default();
        let (g, u) = (Id::new(1), Id::new(2));
        assert!(c.try_award(g, u, at(0), 60));
        assert!(!c.try_award(g, u, at(30), 60));
        assert!(!c.try_award(g, u, at(59), 60));
        assert!(c.try_award(g, u, at(60), 60));
        assert!(
            c.try_award(Id::new(3), u, at(61), 60),
            "another guild has its own cooldown"
        );
        assert!(c.try_award(g, Id::new(4), at(61), 60), "another member too");
    }

    #[test]
    fn zero_cooldown_awards_every_message() {
        let mut c = Cooldowns::default();
        for i in 0..5 {
            assert!(c.try_award(Id::new(1), Id::new(2), at(0), 0), "message {i}");
        }
    }

    #[test]
    fn prune_keeps_recent_members_only() {
        let mut c = Cooldowns::default();
        c.try_award(Id::new(1), Id::new(2), at(0), 60);
        c.try_award(Id::new(1), Id::new(3), at(86_000), 60);
        c.prune(at(86_500));
        assert_eq!(c.last_award.len(), 1);
        c.forget(Id::new(1), Id::new(3));
        assert!(c.last_award.is_empty());
    }

    #[test]
    fn the_map_prunes_itself_every_ten_minutes() {
        let mut c = Cooldowns::default();
        let members = |c: &Cooldowns| {
            let mut kept: Vec<u64> = c.last_award.keys().map(|(_, u)| u.get()).collect();
            kept.sort_unstable();
            kept
        };
        let day = 86_400;
        c.try_award(Id::new(1), Id::new(2), at(0), 60);
        c.try_award(Id::new(1), Id::new(3), at(1), 60);
        // A day later: this message prunes; member 2 (idle a whole day) goes.
        c.try_award(Id::new(1), Id::new(4), at(day), 60);
        assert_eq!(members(&c), [3, 4]);
        // Member 3 is now idle for more than a day too, but the last prune was
        // under ten minutes ago...
        c.try_award(Id::new(1), Id::new(5), at(day + 599), 60);
        assert_eq!(members(&c), [3, 4, 5]);
        // ...and ten minutes after it, the next message prunes again.
        c.try_award(Id::new(1), Id::new(6), at(day + 600), 60);
        assert_eq!(members(&c), [4, 5, 6]);
    }

    #[test]
    fn rolls_stay_in_range_cover_it_evenly_and_repeat() {
        let mut seen = [0u32; 11];
        // Consecutive snowflakes, as a busy channel makes them.
        let first = 1_300_000_000_000_000_000u64;
        for id in first..first + 11_000 {
            let xp = roll_xp(id, 15, 25);
            assert!((15..=25).contains(&xp));
            seen[(xp - 15) as usize] += 1;
            assert_eq!(roll_xp(id, 15, 25), xp, "the same message, the same XP");
        }
        assert!(seen.iter().all(|&n| (800..1_200).contains(&n)), "{seen:?}");
        assert_eq!(roll_xp(first, 10, 10), 10);
        assert_eq!(roll_xp(first, 0, 0), 0);
        assert_eq!(roll_xp(first, 7, 3), 7, "an empty range gives min");
    }

    #[test]
    fn a_seeded_map_decides_as_the_live_one_did() {
        let (g, u) = (Id::new(1), Id::new(2));
        let mut live = Cooldowns::default();
        assert!(live.try_award(g, u, at(0), 60));
        // Restarted: the store knows the award at 0 s.
        let mut seeded = Cooldowns::default();
        seeded.seed([LastAward {
            guild_id: g,
            user_id: u,
            at: at(0),
        }]);
        for secs in [30, 59, 60, 61, 130] {
            assert_eq!(
                seeded.try_award(g, u, at(secs), 60),
                live.try_award(g, u, at(secs), 60),
                "at {secs} s"
            );
        }
        assert_eq!(seeded.last(g, u), Some(at(130)));
        // A correction moves the last award forward only.
        seeded.corrected(g, u, at(100));
        assert_eq!(seeded.last(g, u), Some(at(130)));
        seeded.corrected(g, u, at(200));
        assert!(!seeded.try_award(g, u, at(230), 60));
    }
}

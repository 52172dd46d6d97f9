//! Who earns XP for a message: a member earns a random amount in [min, max] at
//! most once per cooldown per guild, as MEE6 taught people to expect. Kept in
//! memory: each guild lives on one shard of one process, so one map sees every
//! message of the guild. After a restart the map is empty and a member may earn
//! once early, which is the harmless direction. The map prunes itself, so it
//! holds only members active within the longest cooldown.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::Rng;
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

    /// Forget one member (their XP was reset by a moderator).
    pub fn forget(&mut self, guild: Id<GuildMarker>, user: Id<UserMarker>) {
        self.last_award.remove(&(guild, user));
    }
}

/// A random XP amount in `[min, max]` (both inclusive); `min` when the range is empty.
pub fn roll_xp(rng: &mut impl Rng, min: i32, max: i32) -> i64 {
    if max <= min {
        return i64::from(min.max(0));
    }
    i64::from(rng.random_range(min..=max))
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
    fn rolls_stay_in_range_and_cover_it() {
        let mut rng = rand::rng();
        let mut seen = [false; 11];
        for _ in 0..2_000 {
            let xp = roll_xp(&mut rng, 15, 25);
            assert!((15..=25).contains(&xp));
            seen[(xp - 15) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(roll_xp(&mut rng, 10, 10), 10);
        assert_eq!(roll_xp(&mut rng, 0, 0), 0);
    }
}

//! Members' names and avatars for the web leaderboard, taken from the messages
//! Keeper already reads and written at most once a day per member.
//!
//! A member's profile is offered when one of their messages earns XP (at most
//! once per cooldown, so the shard loop's cost stays a lookup) and no profile
//! of theirs was offered in the day before, by Discord's clock. The offers
//! wait here and are written in one statement by the flush loop, after the
//! awards; the store leaves a row that says the same as it was. So a member
//! who chats all day costs one upsert a day, usually one that writes nothing,
//! and a new name shows on the page within a day of the member speaking.
//!
//! This memory is lost with the process: after a restart each member is
//! offered once more (the store then writes only what changed).

use std::{collections::HashMap, sync::Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use keeper_store::{MemberProfile, profiles::bounded_name};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::avatars::valid_hash;

/// How long a member's offered profile stands before another is taken.
pub const REFRESH: TimeDelta = TimeDelta::days(1);

/// The most profiles waiting to be written: a database down for long holds
/// awards, which matter; names past this many wait for the member's next day.
const MAX_PENDING: usize = 100_000;

/// Which name Discord shows for a member in a guild: their nickname there,
/// else their global display name, else their username. Blank ones are
/// skipped; `None` when all are.
pub fn display_name<'a>(
    nick: Option<&'a str>,
    global_name: Option<&'a str>,
    username: &'a str,
) -> Option<&'a str> {
    [nick, global_name, Some(username)]
        .into_iter()
        .flatten()
        .find(|name| !name.trim().is_empty())
}

/// A CDN hash as Discord writes it (hex, `a_` before an animated one); any
/// other text is not stored, so nothing odd ever reaches a URL.
pub fn avatar_hash(hash: Option<&str>) -> Option<String> {
    hash.filter(|h| valid_hash(h)).map(str::to_owned)
}

#[derive(Default)]
struct State {
    /// When each member's profile was last offered (the message's time).
    offered: HashMap<(Id<GuildMarker>, Id<UserMarker>), DateTime<Utc>>,
    pending: Vec<MemberProfile>,
    /// The latest message time seen, and when the map was last pruned.
    newest: Option<DateTime<Utc>>,
    pruned: Option<DateTime<Utc>>,
}

impl State {
    /// Forget offers older than a day: they no longer hold anything back.
    /// Done hourly (by message time), so the map holds a day's speakers.
    fn prune(&mut self, now: DateTime<Utc>) {
        if self.pruned.is_some_and(|at| now - at < TimeDelta::hours(1)) {
            return;
        }
        self.offered.retain(|_, at| now - *at < REFRESH);
        self.pruned = Some(now);
    }
}

/// The offers waiting to be written, and who was offered lately.
#[derive(Default)]
pub struct Profiles {
    state: Mutex<State>,
}

impl Profiles {
    /// A member's message earned XP: take their profile unless one was taken
    /// within [`REFRESH`] of `at`. Whether it was taken.
    pub fn seen(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        name: &str,
        avatar: Option<String>,
        at: DateTime<Utc>,
    ) -> bool {
        let mut state = self.state.lock().expect("profiles lock");
        let newest = state.newest.map_or(at, |n| n.max(at));
        state.newest = Some(newest);
        state.prune(newest);
        // An older message (a replay) than the last offer counts as within.
        if let Some(last) = state.offered.get(&(guild, user))
            && at - *last < REFRESH
        {
            return false;
        }
        if state.pending.len() >= MAX_PENDING {
            return false;
        }
        state.offered.insert((guild, user), at);
        state.pending.push(MemberProfile {
            guild_id: guild,
            user_id: user,
            display_name: bounded_name(name).to_owned(),
            avatar,
            seen_at: at,
        });
        true
    }

    /// Everything waiting, for one write.
    pub fn take(&self) -> Vec<MemberProfile> {
        std::mem::take(&mut self.state.lock().expect("profiles lock").pending)
    }

    /// A write failed: its profiles wait for the next one (before any taken
    /// since, which are newer), as many as fit.
    pub fn put_back(&self, mut profiles: Vec<MemberProfile>) {
        let mut state = self.state.lock().expect("profiles lock");
        let newer = std::mem::take(&mut state.pending);
        profiles.extend(newer);
        let excess = profiles.len().saturating_sub(MAX_PENDING);
        profiles.drain(..excess);
        state.pending = profiles;
    }

    /// The user's data was deleted (`/mydata delete`): what was taken of
    /// them goes unwritten, and their next message is taken again.
    pub fn forget_user(&self, user: Id<UserMarker>) {
        let mut state = self.state.lock().expect("profiles lock");
        state.offered.retain(|(_, u), _| *u != user);
        state.pending.retain(|p| p.user_id != user);
    }

    /// Profiles waiting to be written.
    pub fn pending(&self) -> usize {
        self.state.lock().expect("profiles lock").pending.len()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + hours * 3_600, 0).unwrap()
    }

    #[test]
    fn the_name_discord_shows() {
        assert_eq!(
            display_name(Some("Nick"), Some("Global"), "user"),
            Some("Nick")
        );
        assert_eq!(display_name(None, Some("Global"), "user"), Some("Global"));
        assert_eq!(display_name(Some(" "), None, "user"), Some("user"));
        assert_eq!(display_name(None, Some(""), "user"), Some("user"));
        assert_eq!(display_name(None, None, "  "), None);
    }

    #[test]
    fn only_hashes_are_kept() {
        let hash = "0123456789abcdef0123456789abcdef";
        assert_eq!(avatar_hash(Some(hash)).as_deref(), Some(hash));
        let animated = format!("a_{hash}");
        assert_eq!(avatar_hash(Some(&animated)), Some(animated.clone()));
        for bad in ["", "a_", "../x", "abc.png", "ABCDEFG", "<script>"] {
            assert_eq!(avatar_hash(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(avatar_hash(None), None);
    }

    #[test]
    fn a_member_is_taken_once_a_day() {
        let profiles = Profiles::default();
        let (g, u) = (Id::new(1), Id::new(2));
        assert!(profiles.seen(g, u, "Ann", None, at(0)));
        assert!(!profiles.seen(g, u, "Ann", None, at(1)));
        assert!(!profiles.seen(g, u, "Annie", None, at(23)));
        // Another member, and the same member in another guild, are their own.
        assert!(profiles.seen(g, Id::new(3), "Bo", None, at(1)));
        assert!(profiles.seen(Id::new(9), u, "Ann", None, at(1)));
        // A day after the last offer, the new name is taken.
        assert!(profiles.seen(g, u, "Annie", None, at(24)));
        let taken = profiles.take();
        let names: Vec<&str> = taken.iter().map(|p| p.display_name.as_str()).collect();
        assert_eq!(names, ["Ann", "Bo", "Ann", "Annie"]);
        assert_eq!(taken[3].seen_at, at(24));
        assert_eq!(profiles.pending(), 0);

        // Forgotten (their data deleted): taken again at once, in every guild.
        assert!(profiles.seen(g, Id::new(3), "Bo", None, at(25)));
        profiles.forget_user(Id::new(3));
        assert_eq!(profiles.pending(), 0);
        assert!(profiles.seen(g, Id::new(3), "Bo", None, at(25)));
        assert!(!profiles.seen(g, u, "Ann", None, at(25)));
    }

    #[test]
    fn old_offers_are_forgotten_and_failed_writes_wait() {
        let profiles = Profiles::default();
        for user in 1..=50 {
            profiles.seen(Id::new(1), Id::new(user), "x", None, at(0));
        }
        // Two days on, the map holds only who spoke since.
        profiles.seen(Id::new(1), Id::new(99), "y", None, at(48));
        assert_eq!(profiles.state.lock().unwrap().offered.len(), 1);

        let first = profiles.take();
        assert_eq!(first.len(), 51);
        profiles.seen(Id::new(1), Id::new(100), "z", None, at(49));
        profiles.put_back(first);
        let again = profiles.take();
        assert_eq!(again.len(), 52);
        assert_eq!(again.last().unwrap().display_name, "z", "newer after older");
    }
}

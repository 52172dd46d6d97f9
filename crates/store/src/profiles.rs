//! Pure rules of members' profiles (their names and avatars, for the web
//! leaderboard), shared by the backends so that they store and search alike.

use crate::MemberProfile;

/// The longest display name kept, in characters: Discord's own limit is 32;
/// the bound only keeps a malformed payload from storing a novel.
pub const MAX_NAME_CHARS: usize = 100;

/// `name` as the search compares it: lower case by Unicode's rules, so that
/// "ÉLODIE" is found by "élodie" on every backend (SQLite's `lower()` folds
/// ASCII only, PostgreSQL's follows the server's locale).
pub fn fold_name(name: &str) -> String {
    name.to_lowercase()
}

/// A display name cut to [`MAX_NAME_CHARS`].
pub fn bounded_name(name: &str) -> &str {
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((at, _)) => &name[..at],
        None => name,
    }
}

/// One profile per member, the one seen last (of two seen at the same
/// instant, the later in the slice), in key order: an upsert touches a row
/// once per statement, and PostgreSQL takes the rows' locks in this order
/// whoever writes.
pub fn latest(profiles: &[MemberProfile]) -> Vec<&MemberProfile> {
    let mut sorted: Vec<(usize, &MemberProfile)> = profiles.iter().enumerate().collect();
    sorted.sort_by_key(|(i, p)| (p.guild_id, p.user_id, p.seen_at, *i));
    let mut out: Vec<&MemberProfile> = Vec::with_capacity(sorted.len());
    for (_, p) in sorted {
        match out.last_mut() {
            Some(last) if (last.guild_id, last.user_id) == (p.guild_id, p.user_id) => *last = p,
            _ => out.push(p),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use twilight_model::id::Id;

    use super::*;

    fn profile(guild: u64, user: u64, name: &str, secs: i64) -> MemberProfile {
        MemberProfile {
            guild_id: Id::new(guild),
            user_id: Id::new(user),
            display_name: name.to_owned(),
            avatar: None,
            seen_at: Utc.timestamp_opt(secs, 0).unwrap(),
        }
    }

    #[test]
    fn folding_follows_unicode() {
        assert_eq!(fold_name("ÉLODIE Ωmega ДИМА"), "élodie ωmega дима");
        assert_eq!(fold_name("ascii"), "ascii");
    }

    #[test]
    fn names_are_cut_on_a_character() {
        let long = "é".repeat(150);
        assert_eq!(bounded_name(&long).chars().count(), MAX_NAME_CHARS);
        assert_eq!(bounded_name("short"), "short");
    }

    #[test]
    fn the_last_seen_profile_of_each_member_wins_in_key_order() {
        let batch = [
            profile(2, 1, "b-old", 10),
            profile(1, 5, "a", 10),
            profile(2, 1, "b-new", 20),
            profile(1, 5, "a-same-instant-later", 10),
            profile(1, 3, "c", 5),
        ];
        let names: Vec<&str> = latest(&batch)
            .iter()
            .map(|p| p.display_name.as_str())
            .collect();
        assert_eq!(names, ["c", "a-same-instant-later", "b-new"]);
    }
}

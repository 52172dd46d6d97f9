//! MEE6's public leaderboard pages, as its API gives them
//! (`https://mee6.xyz/api/plugins/levels/leaderboard/<guild>?page=N`):
//! `{"players": [{"id", "xp", "level", "message_count", ...}], "guild": {"id", ...}, ...}`.
//! One page or a folder of them, all of one guild.

use serde_json::Value;

use super::{collect::Collector, ids::snowflake_value};

/// Player fields Keeper has no use for.
const IGNORED: &[&str] = &[
    "detailedxp",
    "guildid",
    "ismonetizesubscriber",
    "monetizexpboost",
    "globalname",
    "username",
    "discriminator",
    "avatar",
];

/// Read one page into `c`; the guild it is of (`--guild` when the page does
/// not say, and it must agree when it does).
pub fn read_page(
    root: &Value,
    file: &str,
    only: Option<u64>,
    c: &mut Collector,
) -> Result<u64, String> {
    let Some(players) = root.get("players").and_then(Value::as_array) else {
        return Err(format!(
            "{file}: not a MEE6 leaderboard page (no \"players\" list)"
        ));
    };
    let named = match root.get("guild").and_then(|g| g.get("id")) {
        Some(id) => Some(
            snowflake_value(id, c.now).map_err(|why| format!("{file}: the page's guild: {why}"))?,
        ),
        None => None,
    };
    let guild = match (named, only) {
        (Some(named), Some(only)) if named != only => {
            return Err(format!(
                "{file}: the page is of guild {named}, but --guild says {only}"
            ));
        }
        (Some(guild), _) | (None, Some(guild)) => guild,
        (None, None) => {
            return Err(format!(
                "{file}: the page does not name its guild; give --guild ID"
            ));
        }
    };
    if root
        .get("role_rewards")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
    {
        c.note("MEE6's role rewards are not imported: set them with /levels reward add.");
    }
    for (i, player) in players.iter().enumerate() {
        let at = format!("{file}: players[{i}]");
        let Value::Object(fields) = player else {
            c.skip(&at, "bad shape", "not a player object");
            continue;
        };
        let Some(id) = fields.get("id") else {
            c.skip(&at, "bad id", "a player without an \"id\"");
            continue;
        };
        let user = match snowflake_value(id, c.now) {
            Ok(user) => user,
            Err(why) => {
                c.skip(&at, "bad id", why);
                continue;
            }
        };
        if let Some(member) = c.read_member(user, fields, &at, IGNORED) {
            c.member(guild, member, Some(&at));
        }
    }
    Ok(guild)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    fn page(guild: Option<&str>, players: Value) -> Value {
        let mut page = json!({ "players": players, "page": 0, "role_rewards": [{"rank": 5}] });
        if let Some(guild) = guild {
            page["guild"] = json!({ "id": guild, "name": "Test" });
        }
        page
    }

    #[test]
    fn players_with_mee6s_fields() {
        let mut c = Collector::new(now());
        let players = json!([
            {"id": "222222222222222222", "xp": 1234, "level": 5, "message_count": 99,
             "username": "a", "avatar": "x", "detailed_xp": [1, 2, 3], "guild_id": "1"},
            {"id": "333333333333333333", "xp": 10, "level": 0, "message_count": 1}
        ]);
        let guild = read_page(
            &page(Some("111111111111111111"), players),
            "p0.json",
            None,
            &mut c,
        )
        .unwrap();
        assert_eq!(guild, 111_111_111_111_111_111);
        let parsed = c.finish();
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        let members = &parsed.guilds[0].members;
        assert_eq!((members[0].xp, members[0].messages), (1234, 99));
        assert_eq!(members.len(), 2);
        assert_eq!(
            parsed.notes.len(),
            1,
            "role rewards are named as not imported"
        );
    }

    #[test]
    fn the_guild_comes_from_the_page_or_from_guild() {
        let players = json!([{"id": "222222222222222222", "xp": 1}]);
        let mut c = Collector::new(now());
        let err = read_page(&page(None, players.clone()), "p.json", None, &mut c).unwrap_err();
        assert!(err.contains("--guild"), "{err}");
        assert_eq!(
            read_page(&page(None, players.clone()), "p.json", Some(5), &mut c),
            Ok(5)
        );
        let err = read_page(
            &page(Some("111111111111111111"), players),
            "p.json",
            Some(5),
            &mut c,
        )
        .unwrap_err();
        assert!(err.contains("--guild says 5"), "{err}");
        let err = read_page(&json!({"players": 3}), "p.json", Some(5), &mut c).unwrap_err();
        assert!(err.contains("not a MEE6 leaderboard page"), "{err}");
    }

    #[test]
    fn bad_players_are_skipped_one_by_one() {
        let mut c = Collector::new(now());
        let players = json!([
            7,
            {"xp": 1},
            {"id": 1234567890123456800u64, "xp": 1},
            {"id": "222222222222222222", "xp": -1},
            {"id": "333333333333333333", "xp": 5},
        ]);
        read_page(
            &page(Some("111111111111111111"), players),
            "p.json",
            None,
            &mut c,
        )
        .unwrap();
        let parsed = c.finish();
        let kinds: Vec<&str> = parsed.skipped.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec!["bad shape", "bad id", "bad id", "bad XP"]);
        assert!(parsed.skipped[2].why.contains("2^53"));
        assert_eq!(parsed.guilds[0].members.len(), 1);
    }
}

//! A `data.json` as tutorial bots write it (docs/IMPORTING.md lists the shapes):
//! guilds keyed by id with their settings and members, members keyed
//! `"<guild>:<user>"`, or, with `--guild`, members keyed by user id.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::collect::{Collector, normal, quoted};

/// Keys that make an object a guild's.
const GUILD_KEYS: &[&str] = &[
    "prefix",
    "welcomechannel",
    "welcomechannelid",
    "welcome",
    "joinchannel",
    "welcomemessage",
    "welcomemsg",
    "welcometext",
    "joinmessage",
    "modlog",
    "modlogs",
    "modlogchannel",
    "modlogchannelid",
    "logchannel",
    "logchannelid",
    "logs",
    "logschannel",
    "users",
    "members",
    "levels",
    "leveling",
    "ranks",
    "settings",
    "config",
    "configuration",
    "warnings",
    "warns",
];
/// Keys of a member whose value is a number (or numeric text).
const MEMBER_NUMBERS: &[&str] = &[
    "xp",
    "exp",
    "experience",
    "points",
    "totalxp",
    "level",
    "lvl",
    "messages",
    "messagecount",
    "msgs",
    "messagessent",
    "warnings",
    "warns",
    "warningcount",
    "infractions",
];

/// Read `root` into `c`. `only`: `--guild`, the one guild to import (and the
/// guild of members listed without one).
pub fn read(root: &Value, only: Option<u64>, c: &mut Collector) -> Result<(), String> {
    let Value::Object(top) = root else {
        return Err(
            "the file is not a JSON object of guilds or members (docs/IMPORTING.md shows the \
             shapes Keeper reads)"
                .into(),
        );
    };
    for (key, value) in top {
        let at = quoted(key);
        match normal(key).as_str() {
            "guilds" | "servers" => match value {
                Value::Object(guilds) => {
                    for (key, value) in guilds {
                        entry(key, value, &format!("{at}.{}", quoted(key)), only, c);
                    }
                }
                _ => c.skip(&at, "bad shape", "not an object of guilds"),
            },
            "users" | "members" => match only {
                Some(guild) => members(guild, value, &at, c),
                None => c.skip(&at, "no guild", "members without a guild: give --guild ID"),
            },
            _ => entry(key, value, &at, only, c),
        }
    }
    Ok(())
}

/// One top-level entry: a guild by id, or a member by `guild:user` (or by user
/// id, with `--guild`).
fn entry(key: &str, value: &Value, at: &str, only: Option<u64>, c: &mut Collector) {
    if let Some((guild, user)) = key.split_once([':', '-', '_', '/']) {
        let (Some(guild), Some(user)) = (c.key_id(guild, at), c.key_id(user, at)) else {
            return;
        };
        if only.is_some_and(|only| only != guild) {
            c.skip(at, "other guild", format!("guild {guild} is not --guild"));
            return;
        }
        member(guild, user, value, at, c);
        return;
    }
    let Some(id) = c.key_id(key, at) else { return };
    let Value::Object(object) = value else {
        match only {
            // `{"<user>": 120}`: a bare number is that member's XP.
            Some(guild) if value.is_number() || value.is_string() => {
                member(guild, id, value, at, c)
            }
            _ => c.skip(at, "bad shape", "not an object of a guild's data"),
        }
        return;
    };
    let is_guild = object.iter().any(|(k, v)| is_guild_field(k, v))
        && !object.iter().any(|(k, v)| is_member_number(k, v));
    if is_guild {
        if only.is_some_and(|only| only != id) {
            c.skip(at, "other guild", format!("guild {id} is not --guild"));
            return;
        }
        guild(id, object, at, c);
    } else if let Some(guild) = only {
        member(guild, id, value, at, c);
    } else if object.is_empty() {
        c.skip(at, "no data", "an empty object");
    } else {
        c.skip(
            at,
            "no guild",
            "a member without a guild: key it \"<guild>:<user>\" or give --guild ID",
        );
    }
}

fn is_guild_field(key: &str, value: &Value) -> bool {
    let key = normal(key);
    // A member's warnings are a count or a list; a guild's, an object by user.
    GUILD_KEYS.contains(&key.as_str())
        && (!matches!(key.as_str(), "warnings" | "warns") || value.is_object())
}

fn is_member_number(key: &str, value: &Value) -> bool {
    MEMBER_NUMBERS.contains(&normal(key).as_str())
        && (value.is_number()
            || value
                .as_str()
                .is_some_and(|s| s.trim().parse::<i64>().is_ok()))
}

/// A guild's object: its settings and members.
fn guild(id: u64, object: &Map<String, Value>, at: &str, c: &mut Collector) {
    for (key, value) in object {
        let here = format!("{at}.{}", quoted(key));
        match normal(key).as_str() {
            "prefix" => {
                if let Some(prefix) = c.text(value, &here, 10) {
                    c.settings(id).prefix = Some(prefix);
                }
            }
            "welcomechannel" | "welcomechannelid" | "welcome" | "joinchannel" => {
                let channel = c.channel(value, &here);
                if channel.is_some() {
                    c.settings(id).welcome_channel = channel;
                }
            }
            "welcomemessage" | "welcomemsg" | "welcometext" | "joinmessage" => {
                if let Some(message) = c.text(value, &here, 2_000) {
                    c.settings(id).welcome_message = Some(message);
                }
            }
            "modlog" | "modlogs" | "modlogchannel" | "modlogchannelid" | "logchannel"
            | "logchannelid" | "logs" | "logschannel" => {
                let channel = c.channel(value, &here);
                if channel.is_some() {
                    c.settings(id).modlog_channel = channel;
                }
            }
            "users" | "members" | "levels" | "leveling" | "ranks" | "xp" => {
                members(id, value, &here, c)
            }
            "settings" | "config" | "configuration" => match value {
                Value::Object(settings) => guild(id, settings, &here, c),
                _ => c.skip(&here, "bad shape", "not an object of settings"),
            },
            // `{"<user>": 2}` or `{"<user>": ["spam", ...]}`.
            "warnings" | "warns" => match value {
                Value::Object(by_user) => {
                    for (user, warnings) in by_user {
                        let at = format!("{here}.{}", quoted(user));
                        let Some(user) = c.key_id(user, &at) else {
                            continue;
                        };
                        let mut fields = Map::new();
                        fields.insert("warnings".into(), warnings.clone());
                        if let Some(member) = c.read_member(user, &fields, &at, &[]) {
                            c.member(id, member, None);
                        }
                    }
                }
                _ => c.skip(&here, "bad shape", "not an object of warnings by user"),
            },
            "name" | "guildname" | "id" | "guildid" | "icon" | "owner" | "ownerid" => {}
            _ => c.skip(
                &here,
                "unknown key",
                "not a guild field Keeper knows; ignored",
            ),
        }
    }
}

/// A guild's members: an object by user id, or a list of objects with an id.
fn members(guild: u64, value: &Value, at: &str, c: &mut Collector) {
    match value {
        Value::Object(by_user) => {
            for (user, value) in by_user {
                let here = format!("{at}.{}", quoted(user));
                if let Some(user) = c.key_id(user, &here) {
                    member(guild, user, value, &here, c);
                }
            }
        }
        Value::Array(list) => {
            for (i, value) in list.iter().enumerate() {
                let here = format!("{at}[{i}]");
                let Value::Object(fields) = value else {
                    c.skip(&here, "bad shape", "not a member object");
                    continue;
                };
                let id = ["id", "user_id", "userId", "user", "userID"]
                    .iter()
                    .find_map(|k| fields.get(*k));
                let Some(id) = id else {
                    c.skip(&here, "bad id", "a member without an \"id\"");
                    continue;
                };
                match super::ids::snowflake_value(id, c.now) {
                    Ok(user) => member(guild, user, value, &here, c),
                    Err(why) => c.skip(&here, "bad id", why),
                }
            }
        }
        _ => c.skip(at, "bad shape", "not an object or list of members"),
    }
}

/// One member's value: an object of fields, or a bare number (their XP).
fn member(guild: u64, user: u64, value: &Value, at: &str, c: &mut Collector) {
    let fields = match value {
        Value::Object(fields) => Cow::Borrowed(fields),
        Value::Number(_) | Value::String(_) => {
            let mut fields = Map::new();
            fields.insert("xp".into(), value.clone());
            Cow::Owned(fields)
        }
        _ => {
            c.skip(at, "bad shape", "not a member object");
            return;
        }
    };
    if let Some(member) = c.read_member(user, &fields, at, &[]) {
        c.member(guild, member, Some(at));
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use keeper_store::import::ImportGuild;
    use serde_json::json;

    use super::*;
    use crate::import_json::collect::Parsed;

    const G: u64 = 111_111_111_111_111_111;
    const U: u64 = 222_222_222_222_222_222;
    const V: u64 = 333_333_333_333_333_333;

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    fn parse(root: Value, only: Option<u64>) -> Parsed {
        let mut c = Collector::new(now());
        read(&root, only, &mut c).unwrap();
        c.finish()
    }

    fn guild(parsed: &Parsed, id: u64) -> &ImportGuild {
        parsed
            .guilds
            .iter()
            .find(|g| g.guild_id.get() == id)
            .unwrap_or_else(|| panic!("guild {id} in {parsed:?}"))
    }

    fn xp_of(parsed: &Parsed, g: u64, u: u64) -> (i64, i64, usize) {
        let m = guild(parsed, g)
            .members
            .iter()
            .find(|m| m.user_id.get() == u)
            .unwrap_or_else(|| panic!("user {u} in {parsed:?}"));
        (m.xp, m.messages, m.warnings.len())
    }

    #[test]
    fn guilds_keyed_by_id_with_settings_and_users() {
        let parsed = parse(
            json!({
                G.to_string(): {
                    "prefix": "?",
                    "welcome_channel": "444444444444444444",
                    "welcomeMessage": "Hi {user}",
                    "modLogChannel": 555_555_555_555_555_555u64,
                    "users": {
                        U.to_string(): {"xp": 120, "warnings": 2},
                        V.to_string(): {"level": 3, "messages": 40},
                    }
                }
            }),
            None,
        );
        let g = guild(&parsed, G);
        assert_eq!(g.settings.prefix.as_deref(), Some("?"));
        assert_eq!(
            g.settings.welcome_channel.unwrap().get(),
            444_444_444_444_444_444
        );
        assert_eq!(g.settings.welcome_message.as_deref(), Some("Hi {user}"));
        assert_eq!(
            g.settings.modlog_channel.unwrap().get(),
            555_555_555_555_555_555
        );
        assert_eq!(xp_of(&parsed, G, U), (120, 0, 2));
        // A level alone becomes the XP that level needs.
        assert_eq!(xp_of(&parsed, G, V), (475, 40, 0));
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
    }

    #[test]
    fn members_keyed_guild_colon_user_and_ids_as_numbers() {
        let parsed = parse(
            json!({
                format!("{G}:{U}"): {"xp": 10},
                format!("{G}:{V}"): {"exp": "20", "warns": ["spam", {"reason": "flood", "moderator": U.to_string(), "date": "2025-01-02T03:04:05Z"}]},
            }),
            None,
        );
        assert_eq!(xp_of(&parsed, G, U), (10, 0, 0));
        assert_eq!(xp_of(&parsed, G, V), (20, 0, 2));
        let v = &guild(&parsed, G)
            .members
            .iter()
            .find(|m| m.user_id.get() == V)
            .unwrap()
            .warnings;
        assert_eq!(v[0].reason.as_deref(), Some("spam"));
        assert_eq!(v[1].reason.as_deref(), Some("flood"));
        assert_eq!(v[1].moderator_id.unwrap().get(), U);
        assert_eq!(
            v[1].created_at.unwrap().to_rfc3339(),
            "2025-01-02T03:04:05+00:00"
        );
    }

    #[test]
    fn with_guild_members_keyed_by_user_and_bare_xp() {
        let parsed = parse(
            json!({ U.to_string(): {"xp": 5}, V.to_string(): 7, "users": {"444444444444444444": {"points": 9}} }),
            Some(G),
        );
        assert_eq!(xp_of(&parsed, G, U), (5, 0, 0));
        assert_eq!(xp_of(&parsed, G, V), (7, 0, 0));
        assert_eq!(xp_of(&parsed, G, 444_444_444_444_444_444), (9, 0, 0));
    }

    #[test]
    fn a_list_of_users_and_a_guilds_warnings_by_user() {
        let parsed = parse(
            json!({ "guilds": { G.to_string(): {
                "members": [{"id": U.to_string(), "xp": 50}, {"userId": V, "xp": 60}],
                "warnings": { U.to_string(): 3 },
            }}}),
            None,
        );
        assert_eq!(
            xp_of(&parsed, G, U),
            (50, 0, 3),
            "warnings merged into the member"
        );
        assert_eq!(xp_of(&parsed, G, V), (60, 0, 0));
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
    }

    #[test]
    fn what_cant_be_used_is_skipped_with_where_and_why() {
        let parsed = parse(
            json!({
                G.to_string(): {
                    "prefix": "much-too-long-a-prefix",
                    "colour": "red",
                    "users": {
                        "abc": {"xp": 1},
                        U.to_string(): {"xp": -5},
                        V.to_string(): {"xp": 1.5},
                        "444444444444444444": {"xp": 1e300},
                        "555555555555555555": {"xp": 10, "favourite": "cats"},
                        "666666666666666666": {},
                        "777777777777777777": {"warnings": 5000},
                    }
                },
                format!("{G}:{U}"): {"xp": 3},
                "1234567890123456800": {"xp": 1},
                "999999999999999999": {"xp": 1},
            }),
            None,
        );
        let kinds: Vec<(&str, &str)> = parsed
            .skipped
            .iter()
            .map(|s| (s.kind, s.at.as_str()))
            .collect();
        for expected in [
            ("bad setting", "\"111111111111111111\".\"prefix\""),
            ("unknown key", "\"111111111111111111\".\"colour\""),
            ("bad id", "\"111111111111111111\".\"users\".\"abc\""),
            (
                "bad XP",
                "\"111111111111111111\".\"users\".\"222222222222222222\".\"xp\"",
            ),
            (
                "bad XP",
                "\"111111111111111111\".\"users\".\"333333333333333333\".\"xp\"",
            ),
            (
                "bad XP",
                "\"111111111111111111\".\"users\".\"444444444444444444\".\"xp\"",
            ),
            (
                "unknown key",
                "\"111111111111111111\".\"users\".\"555555555555555555\".\"favourite\"",
            ),
            (
                "no data",
                "\"111111111111111111\".\"users\".\"666666666666666666\"",
            ),
            (
                "bad warnings",
                "\"111111111111111111\".\"users\".\"777777777777777777\".\"warnings\"",
            ),
            ("no guild", "\"1234567890123456800\""),
            ("no guild", "\"999999999999999999\""),
        ] {
            assert!(kinds.contains(&expected), "{expected:?} not in {kinds:#?}");
        }
        // The member with an unknown key is still imported; the bad ones not.
        let g = guild(&parsed, G);
        assert_eq!(g.settings.prefix, None);
        let users: Vec<u64> = g.members.iter().map(|m| m.user_id.get()).collect();
        assert_eq!(users, vec![555_555_555_555_555_555, U]);
        // U was only in "G:U" with 3 XP: the -5 entry was skipped.
        assert_eq!(xp_of(&parsed, G, U), (3, 0, 0));
    }

    #[test]
    fn duplicates_merge_and_are_reported() {
        let parsed = parse(
            json!({
                G.to_string(): { "users": { U.to_string(): {"xp": 10, "warnings": 1} } },
                format!("{G}:{U}"): {"xp": 30},
            }),
            None,
        );
        assert_eq!(xp_of(&parsed, G, U), (30, 0, 1));
        assert_eq!(parsed.skipped.len(), 1);
        assert_eq!(parsed.skipped[0].kind, "duplicate");
    }

    #[test]
    fn only_the_guild_asked_for() {
        let parsed = parse(
            json!({
                G.to_string(): { "users": { U.to_string(): {"xp": 10} } },
                "444444444444444444": { "users": { U.to_string(): {"xp": 10} } },
            }),
            Some(G),
        );
        assert_eq!(parsed.guilds.len(), 1);
        assert_eq!(parsed.skipped[0].kind, "other guild");
    }

    #[test]
    fn a_level_in_the_file_that_disagrees_with_the_xp_is_counted() {
        let parsed = parse(
            json!({ format!("{G}:{U}"): {"xp": 100, "level": 1}, format!("{G}:{V}"): {"xp": 100, "level": 7} }),
            None,
        );
        assert_eq!(parsed.levels_differing, 1);
    }

    #[test]
    fn not_an_object_is_one_error() {
        let mut c = Collector::new(now());
        let err = read(&json!([1, 2]), None, &mut c).unwrap_err();
        assert!(err.contains("not a JSON object"), "{err}");
    }
}

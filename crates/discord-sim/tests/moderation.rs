//! Moderation as Discord does it (issue #13): bans, kicks, timeouts and the
//! audit log over REST, with their gateway events and intents, and Discord's
//! permission and hierarchy refusals; DMs a user may close; message edits;
//! and the same moderation done by a moderator from Discord's own UI through
//! the scenario API.

mod common;

use chrono::{Duration as Days, SecondsFormat, Utc};
use common::WAIT;
use common::http::{Reply, json as call, request_with};
use common::ws::{RawGateway, Recv};
use discord_sim::permissions::bits;
use discord_sim::{Action, Ban, DEFAULT_BOT_PERMISSIONS, Guild, Sim, SimConfig, intents};
use serde_json::{Value, json};

/// The bot's REST calls, raw.
struct Api {
    addr: String,
    token: String,
}

impl Api {
    fn new(sim: &Sim) -> Self {
        Self {
            addr: sim.http_addr(),
            token: sim.token(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        call(&self.addr, method, path, Some(&self.token), body.as_ref()).await
    }

    /// `PUT /guilds/{guild}/bans/{user}` with `body`.
    async fn ban(&self, guild: u64, user: u64, body: Value) -> Reply {
        let path = format!("/guilds/{guild}/bans/{user}");
        self.call("PUT", &path, Some(body)).await
    }

    /// `PATCH` member `path` with `communication_disabled_until: until`.
    async fn time_out(&self, path: &str, until: impl Into<Value>) -> Reply {
        let body = json!({"communication_disabled_until": until.into()});
        self.call("PATCH", path, Some(body)).await
    }

    /// A call with `X-Audit-Log-Reason: reason` (percent-encoded, as clients
    /// send it).
    async fn because(&self, method: &str, path: &str, reason: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let ct = (!bytes.is_empty()).then_some("application/json");
        let encoded = reason.replace('%', "%25").replace(' ', "%20");
        let headers = [("X-Audit-Log-Reason", encoded.as_str())];
        let t = Some(self.token.as_str());
        request_with(&self.addr, method, path, t, ct, &headers, &bytes).await
    }
}

/// `(status, Discord's code)` of an answer.
fn answer(r: &Reply) -> (u16, Value) {
    (r.status, r.json()["code"].clone())
}

/// The first `_errors` code of a 50035 for `field`.
fn form_error(r: &Reply, field: &str) -> String {
    assert_eq!(answer(r), (400, json!(50035)), "{}", r.json());
    r.json()["errors"][field]["_errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A raw session with `intents` on the only shard, past GUILD_CREATE.
async fn session(sim: &Sim, intents: u64) -> RawGateway {
    RawGateway::in_a_guild(sim, intents).await.0
}

/// What a moderation bot asks for: guilds, members, bans and the audit log.
const MODERATION: u64 = intents::GUILDS | intents::GUILD_MEMBERS | intents::GUILD_MODERATION;

/// Leave a marker (a new channel, CHANNEL_CREATE under GUILDS) after what a
/// test did, so that what a session did not receive can be told.
fn mark(guild: &Guild) {
    guild.text_channel("marker");
}

/// The dispatches a session receives until the marker, in order.
async fn until_marker(gw: &mut RawGateway) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        match gw.recv().await {
            Recv::Frame(v) if v["t"] == "CHANNEL_CREATE" && v["d"]["name"] == "marker" => {
                return seen;
            }
            Recv::Frame(v) if v["op"] == 0 => seen.push(v),
            Recv::Frame(_) => {}
            other => panic!("waiting for the marker, got {other:?}"),
        }
    }
}

/// The event types among `seen`, but role and channel updates.
fn types(seen: &[Value]) -> Vec<String> {
    seen.iter()
        .filter_map(|v| v["t"].as_str())
        .filter(|t| !t.starts_with("GUILD_ROLE") && !t.starts_with("CHANNEL"))
        .map(str::to_owned)
        .collect()
}

/// The `d` of the only event `t` among `seen`.
fn the<'a>(seen: &'a [Value], t: &str) -> &'a Value {
    let found: Vec<&Value> = seen.iter().filter(|v| v["t"] == t).collect();
    assert_eq!(found.len(), 1, "one {t} in {seen:?}");
    &found[0]["d"]
}

fn id(n: u64) -> Value {
    json!(n.to_string())
}

#[tokio::test]
async fn bans_remove_the_member_and_reach_only_moderation_sessions() {
    // Unpaced: two raw sessions side by side, identified one after the other.
    let sim = Sim::with_config(SimConfig::fast().unpaced()).await;
    let guild = sim.guild("Test").await;
    let bob = guild.member("bob");
    let carol = sim.user("carol");
    let api = Api::new(&sim);
    let g = guild.id();
    let mut moderation = session(&sim, MODERATION).await;
    let mut members = session(&sim, intents::GUILDS | intents::GUILD_MEMBERS).await;

    let ban = format!("/guilds/{g}/bans/{}", bob.id());
    let body = json!({"delete_message_seconds": 604_800});
    let r = api.because("PUT", &ban, "spam links", Some(body)).await;
    assert_eq!(r.status, 204, "{}", r.json());
    assert!(bob.is_banned() && !bob.is_member());
    mark(&guild);
    let seen = until_marker(&mut moderation).await;
    assert_eq!(
        types(&seen),
        [
            "GUILD_MEMBER_REMOVE",
            "GUILD_BAN_ADD",
            "GUILD_AUDIT_LOG_ENTRY_CREATE"
        ]
    );
    let added = the(&seen, "GUILD_BAN_ADD");
    assert_eq!(
        (&added["guild_id"], &added["user"]["id"]),
        (&id(g), &id(bob.id()))
    );
    let entry = the(&seen, "GUILD_AUDIT_LOG_ENTRY_CREATE");
    assert_eq!(entry["action_type"], 22);
    assert_eq!(entry["user_id"], id(sim.bot_id()));
    assert_eq!(entry["target_id"], id(bob.id()));
    assert_eq!(entry["reason"], "spam links");
    assert_eq!(entry["guild_id"], id(g));
    assert_eq!(
        types(&until_marker(&mut members).await),
        ["GUILD_MEMBER_REMOVE"]
    );

    let r = api.call("GET", &ban, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["user"]["id"], id(bob.id()));
    assert_eq!(r.json()["reason"], "spam links");

    // A user who is no member can be banned too; the list is by user ID.
    let r = api.ban(g, carol.id(), json!({})).await;
    assert_eq!(r.status, 204);
    mark(&guild);
    let seen = until_marker(&mut moderation).await;
    assert_eq!(
        types(&seen),
        ["GUILD_BAN_ADD", "GUILD_AUDIT_LOG_ENTRY_CREATE"]
    );
    assert!(types(&until_marker(&mut members).await).is_empty());
    let (first, second) = (bob.id().min(carol.id()), bob.id().max(carol.id()));
    let listed = |r: &Reply| -> Vec<Value> {
        r.json()
            .as_array()
            .expect("a list")
            .iter()
            .map(|b| b["user"]["id"].clone())
            .collect()
    };
    let bans = format!("/guilds/{g}/bans");
    let r = api.call("GET", &bans, None).await;
    assert_eq!(listed(&r), [id(first), id(second)]);
    let r = api.call("GET", &format!("{bans}?limit=1"), None).await;
    assert_eq!(listed(&r), [id(first)]);
    let r = api
        .call("GET", &format!("{bans}?after={first}"), None)
        .await;
    assert_eq!(listed(&r), [id(second)]);
    let r = api
        .call("GET", &format!("{bans}?before={second}"), None)
        .await;
    assert_eq!(listed(&r), [id(first)]);
    let expected = [bob.id(), carol.id()].map(|u| Ban {
        user_id: u,
        reason: (u == bob.id()).then(|| "spam links".to_owned()),
    });
    let mut expected = expected.to_vec();
    expected.sort_by_key(|b| b.user_id);
    assert_eq!(guild.bans(), expected);

    // Unban: GUILD_BAN_REMOVE and an entry, to moderation sessions only.
    let r = api.because("DELETE", &ban, "appeal", None).await;
    assert_eq!(r.status, 204);
    assert!(!bob.is_banned() && !guild.is_banned(&bob));
    mark(&guild);
    let seen = until_marker(&mut moderation).await;
    assert_eq!(
        types(&seen),
        ["GUILD_BAN_REMOVE", "GUILD_AUDIT_LOG_ENTRY_CREATE"]
    );
    let entry = the(&seen, "GUILD_AUDIT_LOG_ENTRY_CREATE");
    assert_eq!(
        (entry["action_type"].clone(), entry["reason"].clone()),
        (json!(23), json!("appeal"))
    );
    assert!(types(&until_marker(&mut members).await).is_empty());
    assert_eq!(
        answer(&api.call("DELETE", &ban, None).await),
        (404, json!(10026))
    );
    assert_eq!(
        answer(&api.call("GET", &ban, None).await),
        (404, json!(10026))
    );

    let actions = sim.actions();
    assert!(actions.contains(&Action::Banned {
        guild_id: g,
        user_id: bob.id(),
        reason: Some("spam links".into()),
        delete_message_seconds: 604_800,
    }));
    assert!(actions.contains(&Action::Unbanned {
        guild_id: g,
        user_id: bob.id()
    }));
}

#[tokio::test]
async fn ban_bodies_and_list_queries_are_validated_like_discord() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let bob = guild.member("bob");
    let api = Api::new(&sim);
    let g = guild.id();
    let ban = format!("/guilds/{g}/bans/{}", bob.id());
    for (body, field, code) in [
        (
            json!({"delete_message_seconds": 604_801}),
            "delete_message_seconds",
            "NUMBER_TYPE_MAX",
        ),
        (
            json!({"delete_message_seconds": -1}),
            "delete_message_seconds",
            "NUMBER_TYPE_MIN",
        ),
        (
            json!({"delete_message_seconds": "soon"}),
            "delete_message_seconds",
            "NUMBER_TYPE_COERCE",
        ),
        (
            json!({"delete_message_seconds": 1.5}),
            "delete_message_seconds",
            "NUMBER_TYPE_COERCE",
        ),
        (
            json!({"delete_message_days": 8}),
            "delete_message_days",
            "NUMBER_TYPE_MAX",
        ),
    ] {
        let r = api.call("PUT", &ban, Some(body.clone())).await;
        assert_eq!(form_error(&r, field), code, "{body}");
    }
    assert!(bob.is_member() && !bob.is_banned());
    assert!(guild.audit_log().is_empty());
    let r = api.call("PUT", &ban, Some(json!([]))).await;
    assert_eq!(answer(&r), (400, json!(50035)));
    let r = api.ban(g, 5, json!({})).await;
    assert_eq!(answer(&r), (404, json!(10013)));
    let r = api.ban(5, 5, json!({})).await;
    assert_eq!(answer(&r), (404, json!(10004)));

    // The deprecated days still work, as seconds; banning again changes nothing.
    let r = api
        .call("PUT", &ban, Some(json!({"delete_message_days": 7})))
        .await;
    assert_eq!(r.status, 204);
    let r = api.because("PUT", &ban, "again", Some(json!({}))).await;
    assert_eq!(r.status, 204);
    assert_eq!(guild.audit_log().len(), 1);
    assert_eq!(guild.bans()[0].reason, None);
    assert!(sim.actions().iter().any(|a| matches!(
        a,
        Action::Banned {
            delete_message_seconds: 604_800,
            ..
        }
    )));

    let bans = format!("/guilds/{g}/bans");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=many", "limit"),
        ("before=abc", "before"),
        ("after=-1", "after"),
    ] {
        let r = api.call("GET", &format!("{bans}?{query}"), None).await;
        assert!(!form_error(&r, field).is_empty(), "{query}");
    }
    assert_eq!(
        api.call("GET", &format!("{bans}?limit=1000"), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn discord_refuses_what_the_bot_may_not_do() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let peer_role = guild.role("peer", 0);
    let below_role = guild.role("below", bits::ADMINISTRATOR);
    guild.set_role_position(&guild.bot_role(), 5);
    guild.set_role_position(&peer_role, 5);
    guild.set_role_position(&below_role, 4);
    let peer = guild.member("peer").with_role(&peer_role);
    let admin = guild.member("admin").with_role(&below_role);
    let owner = guild.owner();
    let api = Api::new(&sim);
    let g = guild.id();
    let until = (Utc::now() + Days::minutes(10)).to_rfc3339();
    let timeout = json!({"communication_disabled_until": until});

    // Not strictly above (the same position), or the owner: 50013 for all three.
    for target in [peer.id(), owner.id()] {
        let r = api.ban(g, target, json!({})).await;
        assert_eq!(answer(&r), (403, json!(50013)), "ban {target}");
        let member = format!("/guilds/{g}/members/{target}");
        assert_eq!(
            answer(&api.call("DELETE", &member, None).await),
            (403, json!(50013))
        );
        let r = api.call("PATCH", &member, Some(timeout.clone())).await;
        assert_eq!(answer(&r), (403, json!(50013)), "timeout {target}");
    }
    // An administrator below the bot can't be timed out, but can be kicked.
    let admin_path = format!("/guilds/{g}/members/{}", admin.id());
    let r = api.call("PATCH", &admin_path, Some(timeout.clone())).await;
    assert_eq!(answer(&r), (403, json!(50013)));
    assert_eq!(admin.timed_out_until(), None);
    assert!(peer.is_member() && !peer.is_banned() && peer.timed_out_until().is_none());
    assert!(guild.audit_log().is_empty());
    assert_eq!(api.call("DELETE", &admin_path, None).await.status, 204);

    // No member: 10007 where one is needed.
    let ghost = sim.user("ghost");
    let ghost_path = format!("/guilds/{g}/members/{}", ghost.id());
    assert_eq!(
        answer(&api.call("DELETE", &ghost_path, None).await),
        (404, json!(10007))
    );
    let r = api.call("PATCH", &ghost_path, Some(timeout.clone())).await;
    assert_eq!(answer(&r), (404, json!(10007)));

    // Without the permission, even on a plain member.
    let plain = guild.member("plain");
    let plain_path = format!("/guilds/{g}/members/{}", plain.id());
    let ban_path = format!("/guilds/{g}/bans/{}", plain.id());
    guild.set_bot_permissions(DEFAULT_BOT_PERMISSIONS & !bits::BAN_MEMBERS);
    let r = api.call("PUT", &ban_path, Some(json!({}))).await;
    assert_eq!(answer(&r), (403, json!(50013)));
    for (method, path) in [
        ("GET", format!("/guilds/{g}/bans")),
        ("GET", ban_path.clone()),
        ("DELETE", ban_path.clone()),
    ] {
        let r = api.call(method, &path, None).await;
        assert_eq!(answer(&r), (403, json!(50013)), "{method} {path}");
    }
    guild.set_bot_permissions(DEFAULT_BOT_PERMISSIONS & !bits::KICK_MEMBERS);
    assert_eq!(
        answer(&api.call("DELETE", &plain_path, None).await),
        (403, json!(50013))
    );
    guild.set_bot_permissions(DEFAULT_BOT_PERMISSIONS & !bits::MODERATE_MEMBERS);
    let r = api.call("PATCH", &plain_path, Some(timeout.clone())).await;
    assert_eq!(answer(&r), (403, json!(50013)));
    assert!(plain.is_member() && !plain.is_banned() && plain.timed_out_until().is_none());
    // With them back, the same calls work.
    guild.set_bot_permissions(DEFAULT_BOT_PERMISSIONS);
    assert_eq!(
        api.call("PATCH", &plain_path, Some(timeout)).await.status,
        200
    );
    assert_eq!(
        api.call("PUT", &ban_path, Some(json!({}))).await.status,
        204
    );
    let refused = sim
        .actions()
        .iter()
        .filter(|a| matches!(a, Action::Rejected { code: 50013, .. }))
        .count();
    assert_eq!(refused, 13);
}

#[tokio::test]
async fn timeouts_are_told_stored_in_discords_format_and_at_most_28_days() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let bob = guild.member("bob");
    let api = Api::new(&sim);
    let g = guild.id();
    let mut gw = session(&sim, MODERATION).await;
    let path = format!("/guilds/{g}/members/{}", bob.id());

    // Given with a `Z`, answered and told as Discord writes times.
    let when = Utc::now() + Days::minutes(10);
    let given = when.to_rfc3339_opts(SecondsFormat::Secs, true);
    let r = api
        .because(
            "PATCH",
            &path,
            "cool down",
            Some(json!({"communication_disabled_until": given})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let stored = r.json()["communication_disabled_until"]
        .as_str()
        .expect("a timeout")
        .to_owned();
    assert!(
        stored.ends_with("+00:00") && stored.contains('.'),
        "{stored}"
    );
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&stored)
            .expect("a time")
            .timestamp(),
        when.timestamp()
    );
    assert_eq!(bob.timed_out_until().as_deref(), Some(stored.as_str()));
    assert!(bob.is_timed_out());
    mark(&guild);
    let seen = until_marker(&mut gw).await;
    assert_eq!(
        types(&seen),
        ["GUILD_MEMBER_UPDATE", "GUILD_AUDIT_LOG_ENTRY_CREATE"]
    );
    assert_eq!(
        the(&seen, "GUILD_MEMBER_UPDATE")["communication_disabled_until"],
        stored
    );
    let entry = the(&seen, "GUILD_AUDIT_LOG_ENTRY_CREATE");
    assert_eq!(entry["action_type"], 24);
    assert_eq!(entry["reason"], "cool down");
    assert_eq!(
        entry["changes"],
        json!([{"key": "communication_disabled_until", "new_value": stored}])
    );

    // More than 28 days ahead: Discord's 50035, nothing changed.
    for bad in [
        (Utc::now() + Days::days(28) + Days::minutes(1)).to_rfc3339(),
        (Utc::now() + Days::days(60)).to_rfc3339(),
    ] {
        let r = api.time_out(&path, bad).await;
        assert_eq!(
            form_error(&r, "communication_disabled_until"),
            "INVALID_COMMUNICATION_DISABLED_TIMESTAMP"
        );
        assert_eq!(
            r.json()["errors"]["communication_disabled_until"]["_errors"][0]["message"],
            "Invalid communication disabled timestamp"
        );
    }
    let r = api.time_out(&path, "next week").await;
    assert_eq!(
        form_error(&r, "communication_disabled_until"),
        "DATE_TIME_TYPE_PARSE"
    );
    assert_eq!(bob.timed_out_until().as_deref(), Some(stored.as_str()));
    assert_eq!(guild.audit_log().len(), 1);
    // Just under 28 days is fine.
    let longest = (Utc::now() + Days::days(28) - Days::minutes(1)).to_rfc3339();
    let r = api.time_out(&path, longest).await;
    assert_eq!(r.status, 200);

    // The same again changes nothing: no entry.
    let entries = guild.audit_log().len();
    let same = bob.timed_out_until().expect("timed out");
    assert_eq!(api.time_out(&path, same).await.status, 200);
    assert_eq!(guild.audit_log().len(), entries);

    // null lifts it: the change's old value only.
    let before = bob.timed_out_until().expect("timed out");
    let r = api.time_out(&path, Value::Null).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["communication_disabled_until"], Value::Null);
    assert_eq!(bob.timed_out_until(), None);
    assert!(!bob.is_timed_out());
    let log = guild.audit_log();
    let lifted = log.last().expect("an entry");
    assert_eq!(
        lifted.change("communication_disabled_until"),
        Some(&json!({"key": "communication_disabled_until", "old_value": before}))
    );
    assert_eq!(lifted.reason, None);
    assert!(matches!(
        bob.next_change(WAIT).await,
        Ok(Action::TimedOut { until: Some(_), .. })
    ));
}

#[tokio::test]
async fn kicks_remove_the_member_with_an_entry() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let bob = guild.member("bob");
    let api = Api::new(&sim);
    let mut gw = session(&sim, MODERATION).await;
    let path = format!("/guilds/{}/members/{}", guild.id(), bob.id());
    let r = api.because("DELETE", &path, "bye now", None).await;
    assert_eq!(r.status, 204);
    assert!(!bob.is_member() && !bob.is_banned());
    mark(&guild);
    let seen = until_marker(&mut gw).await;
    assert_eq!(
        types(&seen),
        ["GUILD_MEMBER_REMOVE", "GUILD_AUDIT_LOG_ENTRY_CREATE"]
    );
    assert_eq!(
        the(&seen, "GUILD_MEMBER_REMOVE")["user"]["id"],
        id(bob.id())
    );
    let entry = the(&seen, "GUILD_AUDIT_LOG_ENTRY_CREATE");
    assert_eq!(
        (entry["action_type"].clone(), entry["reason"].clone()),
        (json!(20), json!("bye now"))
    );
    assert_eq!(
        answer(&api.call("DELETE", &path, None).await),
        (404, json!(10007))
    );
    assert_eq!(
        bob.next_change(WAIT).await,
        Ok(Action::Kicked {
            guild_id: guild.id(),
            user_id: bob.id(),
            reason: Some("bye now".into())
        })
    );
}

#[tokio::test]
async fn the_audit_log_is_filtered_and_needs_view_audit_log() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let mods = guild.role("mods", bits::BAN_MEMBERS | bits::KICK_MEMBERS);
    let moderator = guild.member("moderator").with_role(&mods);
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|n| guild.member(n));
    let api = Api::new(&sim);
    let g = guild.id();
    let bot = sim.bot_id();

    let r = api
        .because(
            "PUT",
            &format!("/guilds/{g}/bans/{}", a.id()),
            "r1",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 204);
    guild.kick_by(&moderator, &b, Some("r2"));
    let until = (Utc::now() + Days::hours(1)).to_rfc3339();
    let r = api
        .time_out(&format!("/guilds/{g}/members/{}", c.id()), until)
        .await;
    assert_eq!(r.status, 200);
    guild.ban_by(&moderator, &d, None);
    let r = api
        .call("DELETE", &format!("/guilds/{g}/bans/{}", a.id()), None)
        .await;
    assert_eq!(r.status, 204);

    let log = guild.audit_log();
    let kinds: Vec<u8> = log.iter().map(|e| e.action_type).collect();
    assert_eq!(kinds, [22, 20, 24, 22, 23]);
    let who: Vec<u64> = log.iter().map(|e| e.user_id).collect();
    assert_eq!(who, [bot, moderator.id(), bot, moderator.id(), bot]);
    let ids: Vec<Value> = log.iter().rev().map(|e| id(e.id)).collect();

    let base = format!("/guilds/{g}/audit-logs");
    let entries = |r: &Reply| -> Vec<Value> {
        assert_eq!(r.status, 200, "{}", r.json());
        r.json()["audit_log_entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["id"].clone())
            .collect()
    };
    // Newest first, with the users they name.
    let all = api.call("GET", &base, None).await;
    assert_eq!(entries(&all), ids);
    let users: Vec<Value> = all.json()["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].clone())
        .collect();
    for u in [bot, moderator.id(), a.id(), b.id(), c.id(), d.id()] {
        assert!(users.contains(&id(u)), "{u} in {users:?}");
    }
    assert_eq!(all.json()["audit_log_entries"][4]["reason"], "r1");
    assert!(all.json()["audit_log_entries"][1].get("reason").is_none());
    let q = |query: String| format!("{base}?{query}");
    let r = api
        .call("GET", &q(format!("user_id={}", moderator.id())), None)
        .await;
    assert_eq!(entries(&r), [ids[1].clone(), ids[3].clone()]);
    let r = api.call("GET", &q("action_type=22".into()), None).await;
    assert_eq!(entries(&r), [ids[1].clone(), ids[4].clone()]);
    let r = api
        .call("GET", &q(format!("target_id={}", c.id())), None)
        .await;
    assert_eq!(entries(&r), [ids[2].clone()]);
    let r = api
        .call("GET", &q(format!("user_id={bot}&action_type=22")), None)
        .await;
    assert_eq!(entries(&r), [ids[4].clone()]);
    let r = api.call("GET", &q("limit=2".into()), None).await;
    assert_eq!(entries(&r), ids[..2]);
    let before = ids[2].as_str().expect("id");
    let r = api.call("GET", &q(format!("before={before}")), None).await;
    assert_eq!(entries(&r), ids[3..]);
    let after = ids[4].as_str().expect("id");
    let r = api
        .call("GET", &q(format!("after={after}&limit=2")), None)
        .await;
    assert_eq!(entries(&r), ids[2..4]);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("action_type=ban", "action_type"),
        ("user_id=me", "user_id"),
    ] {
        let r = api.call("GET", &q(query.into()), None).await;
        assert!(!form_error(&r, field).is_empty(), "{query}");
    }

    // What twilight makes of it.
    let http = common::bot::http(&sim);
    let parsed = http
        .audit_log(twilight_model::id::Id::new(g))
        .await
        .expect("audit log")
        .model()
        .await
        .expect("twilight parses the audit log");
    assert_eq!(parsed.entries.len(), 5);
    let timeout = parsed
        .entries
        .iter()
        .find(|e| e.target_id.map(|t| t.get()) == Some(c.id()))
        .expect("the timeout");
    assert!(matches!(
        timeout.changes.as_slice(),
        [
            twilight_model::guild::audit_log::AuditLogChange::CommunicationDisabledUntil {
                new: Some(_),
                old: None
            }
        ]
    ));

    guild.set_bot_permissions(DEFAULT_BOT_PERMISSIONS & !bits::VIEW_AUDIT_LOG);
    assert_eq!(
        answer(&api.call("GET", &base, None).await),
        (403, json!(50013))
    );
}

#[tokio::test]
async fn audit_log_events_need_guild_moderation_and_view_audit_log() {
    // Unpaced: two raw sessions side by side, identified one after the other.
    let sim = Sim::with_config(SimConfig::fast().unpaced()).await;
    let guild = sim.guild("Test").await;
    let [a, b] = ["a", "b"].map(|n| guild.member(n));
    let api = Api::new(&sim);
    let mut moderation = session(&sim, intents::GUILDS | intents::GUILD_MODERATION).await;
    let mut members = session(&sim, intents::GUILDS | intents::GUILD_MEMBERS).await;
    let kick = |m: u64| format!("/guilds/{}/members/{m}", guild.id());

    assert_eq!(api.call("DELETE", &kick(a.id()), None).await.status, 204);
    mark(&guild);
    assert_eq!(
        types(&until_marker(&mut moderation).await),
        ["GUILD_AUDIT_LOG_ENTRY_CREATE"]
    );
    assert_eq!(
        types(&until_marker(&mut members).await),
        ["GUILD_MEMBER_REMOVE"]
    );

    // Without VIEW_AUDIT_LOG the bot is told nothing of it, but it is written.
    guild.set_bot_permissions(DEFAULT_BOT_PERMISSIONS & !bits::VIEW_AUDIT_LOG);
    assert_eq!(api.call("DELETE", &kick(b.id()), None).await.status, 204);
    mark(&guild);
    assert!(types(&until_marker(&mut moderation).await).is_empty());
    assert_eq!(guild.audit_log().len(), 2);
}

#[tokio::test]
async fn moderators_act_from_discords_ui_with_the_same_events_and_entries() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let mods = guild.role(
        "mods",
        bits::BAN_MEMBERS | bits::KICK_MEMBERS | bits::MODERATE_MEMBERS,
    );
    let moderator = guild.member("moderator").with_role(&mods);
    let [bob, carol, dave, erin] = ["bob", "carol", "dave", "erin"].map(|n| guild.member(n));
    let api = Api::new(&sim);
    let mut gw = session(&sim, MODERATION).await;
    let m = id(moderator.id());

    guild.ban_by(&moderator, &bob, Some("raid"));
    // The same done by the bot over REST, to compare.
    let r = api
        .because(
            "PUT",
            &format!("/guilds/{}/bans/{}", guild.id(), erin.id()),
            "raid",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 204);
    mark(&guild);
    let seen = until_marker(&mut gw).await;
    let by_ui = &seen[..3];
    let by_rest = &seen[3..];
    assert_eq!(types(by_ui), types(by_rest));
    assert_eq!(
        types(by_ui),
        [
            "GUILD_MEMBER_REMOVE",
            "GUILD_BAN_ADD",
            "GUILD_AUDIT_LOG_ENTRY_CREATE"
        ]
    );
    let (ui, rest) = (&by_ui[2]["d"], &by_rest[2]["d"]);
    assert_eq!(ui["user_id"], m);
    assert_eq!(rest["user_id"], id(sim.bot_id()));
    let keys =
        |v: &Value| -> Vec<String> { v.as_object().expect("an entry").keys().cloned().collect() };
    assert_eq!(keys(ui), keys(rest));
    assert_eq!(
        (ui["action_type"].clone(), ui["reason"].clone()),
        (json!(22), json!("raid"))
    );
    assert!(guild.is_banned(&bob) && !bob.is_member());
    assert!(guild.bans().contains(&Ban {
        user_id: bob.id(),
        reason: Some("raid".into())
    }));

    guild.unban_by(&moderator, &bob, None);
    let until = Utc::now() + Days::hours(2);
    guild.timeout_by(&moderator, &carol, until, Some("calm down"));
    let stored = carol.timed_out_until().expect("timed out");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&stored)
            .expect("a time")
            .timestamp_micros(),
        until.timestamp_micros()
    );
    guild.untimeout_by(&moderator, &carol, None);
    assert_eq!(carol.timed_out_until(), None);
    guild.kick_by(&moderator, &dave, Some("bye"));
    assert!(!dave.is_member() && !guild.is_banned(&dave));
    mark(&guild);
    let seen = until_marker(&mut gw).await;
    assert_eq!(
        types(&seen),
        [
            "GUILD_BAN_REMOVE",
            "GUILD_AUDIT_LOG_ENTRY_CREATE",
            "GUILD_MEMBER_UPDATE",
            "GUILD_AUDIT_LOG_ENTRY_CREATE",
            "GUILD_MEMBER_UPDATE",
            "GUILD_AUDIT_LOG_ENTRY_CREATE",
            "GUILD_MEMBER_REMOVE",
            "GUILD_AUDIT_LOG_ENTRY_CREATE",
        ]
    );
    assert_eq!(seen[2]["d"]["communication_disabled_until"], stored);
    assert_eq!(seen[4]["d"]["communication_disabled_until"], Value::Null);
    let entries: Vec<&Value> = seen.iter().skip(1).step_by(2).map(|v| &v["d"]).collect();
    for (e, kind) in entries.iter().zip([23, 24, 24, 20]) {
        assert_eq!(
            (e["action_type"].clone(), e["user_id"].clone()),
            (json!(kind), m.clone())
        );
    }
    assert_eq!(entries[1]["changes"][0]["new_value"], stored);
    assert_eq!(entries[2]["changes"][0]["old_value"], stored);
    assert!(entries[0].get("reason").is_none());
    assert_eq!(entries[3]["reason"], "bye");

    // The moderator's acts are not the bot's.
    let bot_acted = sim.actions().iter().any(|a| match a {
        Action::Banned { user_id, .. } => *user_id != erin.id(),
        Action::Unbanned { .. } | Action::Kicked { .. } | Action::TimedOut { .. } => true,
        _ => false,
    });
    assert!(!bot_acted);
    assert_eq!(guild.audit_log().len(), 6);
}

#[tokio::test]
#[should_panic(expected = "Discord would refuse")]
async fn a_moderator_without_ban_members_cannot_ban() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let helper = guild
        .member("helper")
        .with_role(&guild.role("helpers", bits::KICK_MEMBERS));
    let bob = guild.member("bob");
    guild.ban_by(&helper, &bob, None);
}

#[tokio::test]
#[should_panic(expected = "Discord would refuse")]
async fn nobody_times_the_owner_out() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let admin = guild
        .member("admin")
        .with_role(&guild.role("admins", bits::ADMINISTRATOR));
    guild.timeout_by(&admin, &guild.owner(), Utc::now() + Days::hours(1), None);
}

#[tokio::test]
#[should_panic(expected = "28 days")]
async fn a_moderator_cannot_time_out_for_more_than_28_days() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let bob = guild.member("bob");
    guild.timeout_by(&guild.owner(), &bob, Utc::now() + Days::days(29), None);
}

#[tokio::test]
async fn dms_reach_the_inbox_unless_the_user_closed_them() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let alice = guild.member("alice");
    let api = Api::new(&sim);
    let r = api
        .call(
            "POST",
            "/users/@me/channels",
            Some(json!({"recipient_id": alice.id().to_string()})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["type"], 1);
    assert_eq!(r.json()["recipients"][0]["id"], id(alice.id()));
    let dm = format!(
        "/channels/{}/messages",
        r.json()["id"].as_str().expect("id")
    );
    let say = |text: &str| Some(json!({"content": text}));

    assert_eq!(api.call("POST", &dm, say("first")).await.status, 200);
    alice.close_dms();
    let r = api.call("POST", &dm, say("second")).await;
    assert_eq!(answer(&r), (403, json!(50007)));
    assert_eq!(r.json()["message"], "Cannot send messages to this user");
    // Opening the channel still works; posting does not.
    let r = api
        .call(
            "POST",
            "/users/@me/channels",
            Some(json!({"recipient_id": alice.id().to_string()})),
        )
        .await;
    assert_eq!(r.status, 200);
    alice.open_dms();
    assert_eq!(api.call("POST", &dm, say("third")).await.status, 200);
    let inbox: Vec<String> = alice.dms().into_iter().map(|m| m.content).collect();
    assert_eq!(inbox, ["first", "third"]);
    assert_eq!(alice.next_dm(WAIT).await.expect("a dm").content, "first");
    assert_eq!(alice.next_dm(WAIT).await.expect("a dm").content, "third");

    // Once banned, no guild is shared any more: 50007 too.
    guild.ban_by(&guild.owner(), &alice, None);
    assert_eq!(
        answer(&api.call("POST", &dm, say("you were banned")).await),
        (403, json!(50007))
    );
    assert_eq!(alice.dms().len(), 2);
}

#[tokio::test]
async fn edits_are_stored_counted_and_only_the_author_may_edit() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    let api = Api::new(&sim);
    let mut gw = session(
        &sim,
        intents::GUILDS | intents::GUILD_MESSAGES | intents::MESSAGE_CONTENT,
    )
    .await;
    let hers = alice.says(&general, "hello").await;
    let posts = format!("/channels/{}/messages", general.id());
    let case = json!({"title": "Case 1", "description": "warned", "fields": [{"name": "Reason", "value": "spam"}]});
    let r = api
        .call(
            "POST",
            &posts,
            Some(json!({"content": "logged", "embeds": [case]})),
        )
        .await;
    assert_eq!(r.status, 200);
    let mine: u64 = r.json()["id"].as_str().expect("id").parse().expect("id");
    let posted = general.message(mine).expect("stored");
    assert_eq!(posted.author_id, sim.bot_id());
    assert_eq!(posted.embeds[0]["title"], "Case 1");
    assert_eq!(posted.embeds[0]["type"], "rich");
    assert_eq!(posted.edits, 0);
    assert!(posted.embed_text().contains("spam"));

    let path = format!("{posts}/{mine}");
    let r = api
        .call("PATCH", &path, Some(json!({"content": "logged (edited)"})))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["edited_timestamp"].is_string());
    let once = general.message(mine).expect("stored");
    assert_eq!((once.content.as_str(), once.edits), ("logged (edited)", 1));
    assert_eq!(
        once.embeds, posted.embeds,
        "embeds untouched by a content edit"
    );
    let closed = json!({"title": "Case 1", "description": "closed"});
    let r = api
        .call("PATCH", &path, Some(json!({"embeds": [closed]})))
        .await;
    assert_eq!(r.status, 200);
    let twice = general.message(mine).expect("stored");
    assert_eq!(
        (twice.content.as_str(), twice.edits),
        ("logged (edited)", 2)
    );
    assert_eq!(twice.embeds[0]["description"], "closed");
    assert!(twice.embeds[0].get("fields").is_none());

    // Somebody else's message: 50005, unchanged.
    let r = api
        .call(
            "PATCH",
            &format!("{posts}/{hers}"),
            Some(json!({"content": "hijacked"})),
        )
        .await;
    assert_eq!(answer(&r), (403, json!(50005)));
    assert_eq!(
        r.json()["message"],
        "Cannot edit a message authored by another user"
    );
    let r = api
        .call(
            "PATCH",
            &format!("{posts}/5"),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_eq!(answer(&r), (404, json!(10008)));
    let all = general.messages();
    let summary: Vec<(u64, &str, u32)> = all
        .iter()
        .map(|m| (m.author_id, m.content.as_str(), m.edits))
        .collect();
    assert_eq!(
        summary,
        [
            (alice.id(), "hello", 0),
            (sim.bot_id(), "logged (edited)", 2)
        ]
    );
    assert!(general.message(hers).is_some_and(|m| m.embeds.is_empty()));

    // Connected sessions are told; the action log counts the edits too.
    mark(&guild);
    let seen = until_marker(&mut gw).await;
    let updates: Vec<&Value> = seen
        .iter()
        .filter(|v| v["t"] == "MESSAGE_UPDATE")
        .map(|v| &v["d"])
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["content"], "logged (edited)");
    assert_eq!(updates[1]["embeds"][0]["description"], "closed");
    let edits: Vec<u32> = sim
        .actions()
        .iter()
        .filter_map(|a| match a {
            Action::MessageEdited(m) => Some(m.edits),
            _ => None,
        })
        .collect();
    assert_eq!(edits, [1, 2]);
}

#[tokio::test]
async fn a_ban_deletes_the_users_recent_messages_as_discord_does() {
    use twilight_model::gateway::payload::incoming::{MessageDelete, MessageDeleteBulk};
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let offtopic = guild.text_channel("offtopic");
    let [spammer, bystander, quiet] = ["spammer", "bystander", "quiet"].map(|n| guild.member(n));
    let api = Api::new(&sim);
    let mut gw = session(&sim, MODERATION | intents::GUILD_MESSAGES).await;
    let first = spammer.says(&general, "buy").await;
    let second = spammer.says(&general, "buy now").await;
    let kept = bystander.says(&general, "no thanks").await;
    let third = spammer.says(&offtopic, "buy here too").await;
    let hers = quiet.says(&general, "hi").await;

    // Without delete_message_seconds, nothing goes.
    let g = guild.id();
    let r = api.ban(g, quiet.id(), json!({})).await;
    assert_eq!(r.status, 204);
    assert!(general.message(hers).is_some());

    let body = json!({"delete_message_seconds": 3_600});
    let r = api.ban(g, spammer.id(), body).await;
    assert_eq!(r.status, 204);
    let left: Vec<u64> = general.messages().iter().map(|m| m.id).collect();
    assert_eq!(left, [kept, hers]);
    assert!(offtopic.messages().is_empty());
    mark(&guild);
    let seen = until_marker(&mut gw).await;
    let seen: Vec<&Value> = seen
        .iter()
        .filter(|v| {
            v["t"]
                .as_str()
                .is_some_and(|t| t.starts_with("MESSAGE_DELETE"))
        })
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["t"], "MESSAGE_DELETE_BULK");
    let bulk: MessageDeleteBulk =
        serde_json::from_value(seen[0]["d"].clone()).expect("twilight parses it");
    let ids: Vec<u64> = bulk.ids.iter().map(|i| i.get()).collect();
    assert_eq!(
        (bulk.channel_id.get(), ids),
        (general.id(), vec![first, second])
    );
    assert_eq!(seen[1]["t"], "MESSAGE_DELETE");
    let one: MessageDelete =
        serde_json::from_value(seen[1]["d"].clone()).expect("twilight parses it");
    assert_eq!((one.channel_id.get(), one.id.get()), (offtopic.id(), third));
    assert_eq!(one.guild_id.map(|g| g.get()), Some(g));
}

#[tokio::test]
async fn role_changes_are_in_the_audit_log() {
    use twilight_model::guild::audit_log::AuditLogChange;
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let [regular, veteran] = ["Regular", "Veteran"].map(|n| guild.role(n, 0));
    let bob = guild.member("bob");
    let api = Api::new(&sim);
    let g = guild.id();
    let role_path = |r: u64| format!("/guilds/{g}/members/{}/roles/{r}", bob.id());
    let r = api
        .because("PUT", &role_path(regular.id()), "level 5", None)
        .await;
    assert_eq!(r.status, 204);
    // Giving it again changes nothing: no second entry.
    assert_eq!(
        api.call("PUT", &role_path(regular.id()), None).await.status,
        204
    );
    let member = format!("/guilds/{g}/members/{}", bob.id());
    let both = json!({"roles": [regular.id().to_string(), veteran.id().to_string()]});
    assert_eq!(api.call("PATCH", &member, Some(both)).await.status, 200);
    let r = api
        .because("DELETE", &role_path(regular.id()), "reset", None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        api.call("PATCH", &member, Some(json!({"roles": []})))
            .await
            .status,
        200
    );

    let log = guild.audit_log();
    let role = |r: &discord_sim::Role, name: &str| json!({"id": r.id().to_string(), "name": name});
    let summary: Vec<(u8, Vec<Value>, Option<String>)> = log
        .iter()
        .map(|e| (e.action_type, e.changes.clone(), e.reason.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                25,
                vec![json!({"key": "$add", "new_value": [role(&regular, "Regular")]})],
                Some("level 5".into())
            ),
            (
                25,
                vec![json!({"key": "$add", "new_value": [role(&veteran, "Veteran")]})],
                None
            ),
            (
                25,
                vec![json!({"key": "$remove", "new_value": [role(&regular, "Regular")]})],
                Some("reset".into())
            ),
            (
                25,
                vec![json!({"key": "$remove", "new_value": [role(&veteran, "Veteran")]})],
                None
            ),
        ]
    );
    assert!(
        log.iter()
            .all(|e| e.user_id == sim.bot_id() && e.target_id == bob.id())
    );

    // Giving and taking at once: one entry with both changes, as twilight reads it.
    let first = json!({"roles": [regular.id().to_string()]});
    assert_eq!(api.call("PATCH", &member, Some(first)).await.status, 200);
    let swap = json!({"roles": [veteran.id().to_string()]});
    assert_eq!(api.call("PATCH", &member, Some(swap)).await.status, 200);
    let http = common::bot::http(&sim);
    let parsed = http
        .audit_log(twilight_model::id::Id::new(g))
        .limit(1)
        .await
        .expect("audit log")
        .model()
        .await
        .expect("twilight parses it");
    let [entry] = parsed.entries.as_slice() else {
        panic!("one entry: {parsed:?}");
    };
    let ids = |roles: &[twilight_model::guild::audit_log::AffectedRole]| -> Vec<u64> {
        roles.iter().map(|r| r.id.get()).collect()
    };
    match entry.changes.as_slice() {
        [
            AuditLogChange::RoleAdded { new: added, .. },
            AuditLogChange::RoleRemoved { new: removed, .. },
        ] => {
            assert_eq!(ids(added), [veteran.id()]);
            assert_eq!(ids(removed), [regular.id()]);
        }
        other => panic!("{other:?}"),
    }
}

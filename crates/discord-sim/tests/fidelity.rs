//! Fidelity against Discord's published OpenAPI description: every route
//! the simulator serves exists there with that method, every response body
//! it sends validates against the documented schema, and so do the request
//! bodies a twilight bot sends.

mod common;

use std::collections::BTreeSet;

use common::WAIT;
use common::http::{Reply, json as call};
use common::ws::RawGateway;
use discord_sim::rest::ROUTES;
use discord_sim::spec::Spec;
use discord_sim::{Sim, permissions::bits};
use serde_json::json;

#[test]
fn every_served_route_exists_in_openapi() {
    let Some((_, root)) = openapi("every_served_route_exists_in_openapi") else {
        return;
    };
    let spec = Spec::new(&root);
    for (method, path) in ROUTES {
        assert!(
            spec.operation(method, path).is_some(),
            "{method} {path} is not in openapi.json"
        );
    }
}

#[tokio::test]
async fn every_response_body_matches_the_openapi_schemas() {
    let Some((_, root)) = openapi("every_response_body_matches_the_openapi_schemas") else {
        return;
    };
    let spec = Spec::new(&root);

    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let helpers = guild.role("helpers", bits::VIEW_CHANNEL);
    let alice = guild.member("alice");
    let bob = guild.member("bob");
    let addr = sim.http_addr();
    let t = sim.token();
    let (g, app) = (guild.id(), sim.application_id());
    let mut replies: Vec<Reply> = Vec::new();
    macro_rules! hit {
        ($method:expr, $path:expr, $auth:expr, $body:expr) => {{
            let r = call(&addr, $method, &$path, $auth, $body).await;
            assert!(
                r.status < 300,
                "{} {} -> {} {}",
                $method,
                $path,
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            let v = r.json();
            replies.push(r);
            v
        }};
    }
    let a = Some(t.as_str());
    hit!("GET", "/gateway", a, None);
    hit!("GET", "/gateway/bot", a, None);
    hit!("GET", "/users/@me", a, None);
    hit!("GET", format!("/users/{}", alice.id()), a, None);
    let dm = hit!(
        "POST",
        "/users/@me/channels",
        a,
        Some(&json!({"recipient_id": alice.id().to_string()}))
    );
    hit!("GET", "/applications/@me", a, None);
    let commands = json!([
        {"name": "rank", "description": "your rank"},
        {"name": "warn", "description": "warn", "options": [{"type": 6, "name": "user", "description": "who", "required": true}]},
    ]);
    hit!(
        "PUT",
        format!("/applications/{app}/commands"),
        a,
        Some(&commands)
    );
    hit!("GET", format!("/applications/{app}/commands"), a, None);
    hit!(
        "PUT",
        format!("/applications/{app}/guilds/{g}/commands"),
        a,
        Some(&commands)
    );
    hit!(
        "GET",
        format!("/applications/{app}/guilds/{g}/commands"),
        a,
        None
    );
    hit!("GET", format!("/channels/{}", general.id()), a, None);
    hit!(
        "GET",
        format!("/channels/{}", dm["id"].as_str().expect("dm")),
        a,
        None
    );
    let embed = json!({"title": "Level up", "description": "level 2", "color": 0x00ff00, "fields": [{"name": "XP", "value": "120", "inline": true}]});
    let m = hit!(
        "POST",
        format!("/channels/{}/messages", general.id()),
        a,
        Some(&json!({"content": format!("hi {}", alice.mention()), "embeds": [embed]}))
    );
    let mid = m["id"].as_str().expect("id").to_owned();
    hit!(
        "GET",
        format!("/channels/{}/messages", general.id()),
        a,
        None
    );
    hit!(
        "GET",
        format!("/channels/{}/messages/{mid}", general.id()),
        a,
        None
    );
    hit!(
        "PATCH",
        format!("/channels/{}/messages/{mid}", general.id()),
        a,
        Some(&json!({"content": "edited"}))
    );
    hit!(
        "DELETE",
        format!("/channels/{}/messages/{mid}", general.id()),
        a,
        None
    );
    hit!("GET", format!("/guilds/{g}"), a, None);
    hit!("GET", format!("/guilds/{g}/channels"), a, None);
    hit!("GET", format!("/guilds/{g}/roles"), a, None);
    hit!("GET", format!("/guilds/{g}/members"), a, None);
    hit!("GET", format!("/guilds/{g}/members/{}", bob.id()), a, None);
    let until = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    hit!(
        "PATCH",
        format!("/guilds/{g}/members/{}", bob.id()),
        a,
        Some(&json!({"communication_disabled_until": until, "nick": "bobby"}))
    );
    hit!(
        "PUT",
        format!("/guilds/{g}/members/{}/roles/{}", bob.id(), helpers.id()),
        a,
        None
    );
    hit!(
        "DELETE",
        format!("/guilds/{g}/members/{}/roles/{}", bob.id(), helpers.id()),
        a,
        None
    );
    hit!(
        "PUT",
        format!("/guilds/{g}/bans/{}", bob.id()),
        a,
        Some(&json!({}))
    );
    hit!("GET", format!("/guilds/{g}/bans/{}", bob.id()), a, None);
    hit!("GET", format!("/guilds/{g}/bans?limit=10"), a, None);
    hit!("DELETE", format!("/guilds/{g}/bans/{}", bob.id()), a, None);
    let carol = guild.member("carol");
    hit!(
        "DELETE",
        format!("/guilds/{g}/members/{}", carol.id()),
        a,
        None
    );
    let log = hit!("GET", format!("/guilds/{g}/audit-logs"), a, None);
    // Kick, ban, unban, the role given and taken, and the timeout are there.
    let kinds: Vec<u64> = log["audit_log_entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action_type"].as_u64())
        .collect();
    assert_eq!(kinds, [20, 23, 22, 25, 25, 24]);

    // Interaction routes.
    let run = alice.runs(&general, "rank", []).await;
    let token = sim.interaction_token(run.id()).expect("token");
    hit!(
        "POST",
        format!("/interactions/{}/{token}/callback", run.id()),
        None,
        Some(&json!({"type": 4, "data": {"content": "rank 1"}}))
    );
    hit!(
        "GET",
        format!("/webhooks/{app}/{token}/messages/@original"),
        None,
        None
    );
    hit!(
        "PATCH",
        format!("/webhooks/{app}/{token}/messages/@original"),
        None,
        Some(&json!({"content": "rank 2"}))
    );
    let f = hit!(
        "POST",
        format!("/webhooks/{app}/{token}"),
        None,
        Some(&json!({"content": "follow"}))
    );
    hit!(
        "DELETE",
        format!(
            "/webhooks/{app}/{token}/messages/{}",
            f["id"].as_str().expect("id")
        ),
        None,
        None
    );
    let run = alice.runs(&general, "rank", []).await;
    let token = sim.interaction_token(run.id()).expect("token");
    hit!(
        "POST",
        format!(
            "/interactions/{}/{token}/callback?with_response=true",
            run.id()
        ),
        None,
        Some(&json!({"type": 4, "data": {"content": "rank 1"}}))
    );

    // Error bodies too. (Not 50035's field errors: their `_errors` codes are
    // strings such as "BASE_TYPE_REQUIRED" in Discord's answers and in its
    // docs' example, where the OpenAPI `Error` schema says integer.)
    for (method, path) in [
        ("GET", "/users/1".to_string()),
        ("POST", format!("/channels/{}/messages", general.id())),
        ("GET", format!("/guilds/{g}/bans/{}", bob.id())),
        ("DELETE", format!("/guilds/{g}/members/{}", bob.id())),
        ("DELETE", format!("/guilds/{g}/bans/{}", carol.id())),
    ] {
        let r = call(&addr, method, &path, a, Some(&json!({}))).await;
        assert!(r.status >= 400);
        replies.push(r);
    }

    let requests = sim.requests();
    assert_eq!(requests.len(), replies.len());
    let mut errors = Vec::new();
    let mut served = BTreeSet::new();
    for (req, reply) in requests.iter().zip(&replies) {
        let route = req.route.trim_start_matches("/api/v10").to_owned();
        served.insert((req.method.clone(), route.clone()));
        let op = spec
            .operation(&req.method, &route)
            .unwrap_or_else(|| panic!("{} {route} not in openapi.json", req.method));
        if reply.body.is_empty() {
            continue;
        }
        let schema = spec
            .response_schema(op, reply.status)
            .unwrap_or_else(|| panic!("{} {route}: no schema for {}", req.method, reply.status));
        let before = errors.len();
        spec.validate(schema, &reply.json(), "$", &mut errors);
        if errors.len() > before {
            errors.insert(
                before,
                format!("--- {} {route} -> {}", req.method, reply.status),
            );
        }
        if let (Some(body), Some(schema)) = (&req.body, spec.request_schema(op)) {
            spec.validate(schema, body, "request", &mut errors);
        }
    }
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
    let all: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let missing: Vec<_> = all.difference(&served).collect();
    assert!(missing.is_empty(), "routes not exercised: {missing:?}");
    let _ = WAIT;
}

#[tokio::test]
async fn twilight_request_bodies_match_the_openapi_schemas() {
    let Some((_, root)) = openapi("twilight_request_bodies_match_the_openapi_schemas") else {
        return;
    };
    let spec = Spec::new(&root);
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let bob = guild.member("bob");
    let http = common::bot::http(&sim);
    use twilight_model::id::Id;
    let channel = Id::new(general.id());
    http.create_message(channel)
        .content("hello")
        .await
        .expect("create message");
    let until = twilight_model::util::Timestamp::from_secs(chrono::Utc::now().timestamp() + 600)
        .expect("ts");
    http.update_guild_member(Id::new(guild.id()), Id::new(bob.id()))
        .communication_disabled_until(Some(until))
        .await
        .expect("timeout");
    http.add_guild_member_role(
        Id::new(guild.id()),
        Id::new(bob.id()),
        Id::new(guild.role("r", 0).id()),
    )
    .await
    .expect("role");
    http.create_private_channel(Id::new(bob.id()))
        .await
        .expect("dm");
    http.create_ban(Id::new(guild.id()), Id::new(bob.id()))
        .delete_message_seconds(60)
        .await
        .expect("ban");
    use twilight_http::request::AuditLogReason;
    http.delete_ban(Id::new(guild.id()), Id::new(bob.id()))
        .reason("appeal")
        .await
        .expect("unban");
    let carol = guild.member("carol");
    http.remove_guild_member(Id::new(guild.id()), Id::new(carol.id()))
        .reason("bye")
        .await
        .expect("kick");
    let bans = http
        .bans(Id::new(guild.id()))
        .await
        .expect("bans")
        .models()
        .await
        .expect("twilight parses the bans");
    assert!(bans.is_empty());
    let log = http
        .audit_log(Id::new(guild.id()))
        .action_type(twilight_model::guild::audit_log::AuditLogEventType::MemberKick)
        .await
        .expect("audit log")
        .model()
        .await
        .expect("twilight parses the audit log");
    assert_eq!(log.entries.len(), 1);
    assert_eq!(log.entries[0].reason.as_deref(), Some("bye"));
    let mut errors = Vec::new();
    let requests = sim.requests();
    assert_eq!(requests.len(), 9);
    for req in &requests {
        assert!(
            req.status < 300,
            "{} {} -> {}",
            req.method,
            req.path,
            req.status
        );
        spec.check_request(req, &mut errors);
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Rate limits as Discord describes them: a limited route's answers carry the
/// `X-RateLimit-*` headers its OpenAPI description lists (each of the type it
/// gives), and a 429, for a bucket or for the global limit, has the documented
/// `RatelimitedResponse` body.
#[tokio::test]
async fn rate_limit_answers_match_the_openapi_description() {
    let Some((_, root)) = openapi("rate_limit_answers_match_the_openapi_description") else {
        return;
    };
    let spec = Spec::new(&root);
    let route = "/channels/{channel_id}/messages";
    let limits = discord_sim::ratelimit::RateLimits {
        global_per_second: Some(3),
        ..Default::default()
    }
    .route("POST", route, 1, std::time::Duration::from_secs(60));
    let sim = Sim::with_config(discord_sim::SimConfig {
        rate_limits: limits,
        ..discord_sim::SimConfig::fast()
    })
    .await;
    let general = sim.guild("Test").await.text_channel("general");
    let (addr, t) = (sim.http_addr(), sim.token());
    let path = format!("/channels/{}/messages", general.id());
    let body = json!({"content": "hi"});
    let served = call(&addr, "POST", &path, Some(&t), Some(&body)).await;
    let bucket = call(&addr, "POST", &path, Some(&t), Some(&body)).await;
    call(&addr, "GET", "/users/@me", Some(&t), None).await;
    call(&addr, "GET", "/users/@me", Some(&t), None).await;
    let global = call(&addr, "GET", "/users/@me", Some(&t), None).await;
    assert_eq!(
        (served.status, bucket.status, global.status),
        (200, 429, 429)
    );

    let op = spec.operation("POST", route).expect("create message");
    let mut errors = Vec::new();
    for (reply, status) in [(&served, "200"), (&bucket, "429")] {
        let response = deref(&root, &op["responses"][status]);
        let headers = response["headers"].as_object().expect("documented headers");
        assert!(!headers.is_empty());
        for (name, h) in headers {
            let kind = deref(&root, h)["schema"]["type"]
                .as_str()
                .unwrap_or("string");
            match reply.header(name) {
                None => errors.push(format!("{status}: no {name}")),
                Some(value) => {
                    let ok = match kind {
                        "integer" => value.parse::<u64>().is_ok(),
                        "number" => value.parse::<f64>().is_ok(),
                        _ => !value.is_empty(),
                    };
                    if !ok {
                        errors.push(format!("{status}: {name} = {value:?} is not a {kind}"));
                    }
                }
            }
        }
    }
    let schema = spec.response_schema(op, 429).expect("a 429 schema");
    for reply in [&bucket, &global] {
        spec.validate(schema, &reply.json(), "$", &mut errors);
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(bucket.json()["global"], false);
    assert_eq!(global.json()["global"], true);
}

/// Discord's spec folder and its `openapi.json`, for test `test`; `None`
/// when the spec is absent (see `spec::spec_dir`).
fn openapi(test: &str) -> Option<(std::path::PathBuf, serde_json::Value)> {
    let dir = discord_sim::spec::spec_dir(test)?;
    let root = discord_sim::spec::load_json(&dir, "openapi.json");
    Some((dir, root))
}

/// A reference to the schema `name` of Discord's description.
fn schema(name: &str) -> serde_json::Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// `v`, or what its `$ref` points at in `root`.
fn deref<'a>(root: &'a serde_json::Value, v: &'a serde_json::Value) -> &'a serde_json::Value {
    match v.get("$ref").and_then(serde_json::Value::as_str) {
        Some(r) => root.pointer(r.trim_start_matches('#')).expect("a $ref"),
        None => v,
    }
}

/// The guild and role events the simulator sends have Discord's shapes: GUILD_UPDATE
/// is the guild object `GET /guilds/{id}` documents, GUILD_ROLE_CREATE/UPDATE carry
/// `{guild_id, role}` with a documented role (a managed one with its `tags`), and
/// GUILD_ROLE_DELETE `{guild_id, role_id}`; each follows the change that caused it.
#[tokio::test]
async fn guild_and_role_events_match_the_openapi_schemas() {
    let Some((_, root)) = openapi("guild_and_role_events_match_the_openapi_schemas") else {
        return;
    };
    let spec = Spec::new(&root);
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let (mut gw, created) = RawGateway::in_a_guild(&sim, discord_sim::intents::GUILDS).await;
    let bot_role = &created["d"]["roles"][1];
    assert_eq!(bot_role["managed"], true, "a bot's own role is managed");
    assert_eq!(bot_role["tags"]["bot_id"], sim.bot_id().to_string());

    let mut errors = Vec::new();
    guild.rename("Renamed");
    let update = gw.next_dispatch("GUILD_UPDATE").await;
    assert_eq!(update["d"]["name"], "Renamed");
    spec.validate(
        &schema("GuildResponse"),
        &update["d"],
        "GUILD_UPDATE",
        &mut errors,
    );

    let mods = guild.role("Mods", bits::KICK_MEMBERS);
    let twitch = guild.integration_role("Twitch Subscriber", 0);
    for role in [mods, twitch] {
        let d = gw.next_dispatch("GUILD_ROLE_CREATE").await["d"].clone();
        assert_eq!(d["guild_id"], guild.id().to_string());
        assert_eq!(d["role"]["id"], role.id().to_string());
        assert_eq!(d["role"]["managed"], role == twitch);
        assert_eq!(
            d["role"]["tags"]["integration_id"].is_string(),
            role == twitch
        );
        spec.validate(
            &schema("GuildRoleResponse"),
            &d["role"],
            "GUILD_ROLE_CREATE",
            &mut errors,
        );
    }
    // Making Twitch's role moved the bot's and Mods up: Discord says so.
    let mods_id = mods.id().to_string();
    let mut moved = gw.next_dispatch("GUILD_ROLE_UPDATE").await["d"].clone();
    while moved["role"]["id"] != mods_id.as_str() {
        moved = gw.next_dispatch("GUILD_ROLE_UPDATE").await["d"].clone();
    }
    assert_eq!(moved["role"]["position"], 2);
    guild.set_role_permissions(&mods, bits::ADMINISTRATOR);
    let d = gw.next_dispatch("GUILD_ROLE_UPDATE").await["d"].clone();
    assert_eq!(d["role"]["id"], mods.id().to_string());
    assert_eq!(d["role"]["permissions"], bits::ADMINISTRATOR.to_string());
    spec.validate(
        &schema("GuildRoleResponse"),
        &d["role"],
        "GUILD_ROLE_UPDATE",
        &mut errors,
    );
    guild.set_role_position(&mods, 7);
    let d = gw.next_dispatch("GUILD_ROLE_UPDATE").await["d"].clone();
    assert_eq!(d["role"]["position"], 7);
    guild.delete_role(&mods);
    let d = gw.next_dispatch("GUILD_ROLE_DELETE").await["d"].clone();
    assert_eq!(
        d,
        json!({"guild_id": guild.id().to_string(), "role_id": mods.id().to_string()})
    );
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
}

/// The moderation events have Discord's shapes: GUILD_MEMBER_UPDATE carries a
/// documented member (with its timeout), GUILD_MEMBER_REMOVE, GUILD_BAN_ADD and
/// GUILD_BAN_REMOVE `{guild_id, user}` with a documented user, and
/// GUILD_AUDIT_LOG_ENTRY_CREATE a documented audit log entry with its
/// `guild_id`; a ban as `GET /guilds/{id}/bans/{user}` answers it has the keys
/// of Discord's example ban.
#[tokio::test]
async fn moderation_events_match_the_openapi_schemas() {
    let Some((dir, root)) = openapi("moderation_events_match_the_openapi_schemas") else {
        return;
    };
    let spec = Spec::new(&root);
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let bob = guild.member("bob");
    let wanted = discord_sim::intents::GUILDS
        | discord_sim::intents::GUILD_MEMBERS
        | discord_sim::intents::GUILD_MODERATION;
    let (mut gw, _) = RawGateway::in_a_guild(&sim, wanted).await;
    let (addr, t, g) = (sim.http_addr(), sim.token(), guild.id());
    let a = Some(t.as_str());
    let until = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let member = format!("/guilds/{g}/members/{}", bob.id());
    let ban = format!("/guilds/{g}/bans/{}", bob.id());
    let body = json!({"communication_disabled_until": until});
    assert_eq!(
        call(&addr, "PATCH", &member, a, Some(&body)).await.status,
        200
    );
    assert_eq!(
        call(&addr, "PUT", &ban, a, Some(&json!({}))).await.status,
        204
    );
    let got = call(&addr, "GET", &ban, a, None).await.json();
    assert_eq!(call(&addr, "DELETE", &ban, a, None).await.status, 204);

    let mut errors = Vec::new();
    let mut check = |t: &str, name: &str, v: &serde_json::Value| {
        spec.validate(&schema(name), v, t, &mut errors);
    };
    let without_guild_id = |d: &serde_json::Value| {
        let mut d = d.clone();
        let guild_id = d.as_object_mut().and_then(|o| o.remove("guild_id"));
        assert_eq!(guild_id, Some(json!(g.to_string())), "{d}");
        d
    };
    let d = gw.next_dispatch("GUILD_MEMBER_UPDATE").await["d"].clone();
    assert!(d["communication_disabled_until"].is_string());
    check(
        "GUILD_MEMBER_UPDATE",
        "GuildMemberResponse",
        &without_guild_id(&d),
    );
    let mut entries = Vec::new();
    for t in [
        "GUILD_AUDIT_LOG_ENTRY_CREATE",
        "GUILD_MEMBER_REMOVE",
        "GUILD_BAN_ADD",
        "GUILD_AUDIT_LOG_ENTRY_CREATE",
        "GUILD_BAN_REMOVE",
        "GUILD_AUDIT_LOG_ENTRY_CREATE",
    ] {
        let d = gw.next_dispatch(t).await["d"].clone();
        let d = without_guild_id(&d);
        if t == "GUILD_AUDIT_LOG_ENTRY_CREATE" {
            check(t, "AuditLogEntryResponse", &d);
            entries.push(d["action_type"].clone());
        } else {
            assert_eq!(d["user"]["id"], bob.id().to_string());
            check(t, "UserResponse", &d["user"]);
        }
    }
    assert_eq!(entries, [json!(24), json!(22), json!(23)]);
    check("GET ban", "GuildBanResponse", &got);
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );

    let examples = discord_sim::spec::load_json(&dir, "doc-examples.json");
    let example = examples
        .as_array()
        .and_then(|e| e.iter().find(|e| e["heading"] == "Example Ban"))
        .expect("Discord's example ban");
    let keys = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_object().expect("an object").keys().cloned().collect()
    };
    assert_eq!(keys(&got), keys(&example["payload"]));
}

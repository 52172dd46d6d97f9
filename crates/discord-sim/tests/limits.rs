//! Discord's strictness about who may do what, how often: REST rate limits
//! (per-route buckets counting down and resetting, shared buckets, the global
//! limit, 429s, the count of invalid requests) and channel permission
//! overwrites (where the bot may post).

mod common;

use std::time::Duration;

use common::http::{Reply, json as call};
use discord_sim::permissions::bits;
use discord_sim::ratelimit::RateLimits;
use discord_sim::{Sim, SimConfig};
use serde_json::json;
use twilight_model::id::Id;

const POST: &str = "/channels/{channel_id}/messages";

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.header(name)
        .unwrap_or_else(|| panic!("no {name} header on a {}", r.status))
}

async fn sim_with(limits: RateLimits) -> Sim {
    Sim::with_config(SimConfig {
        rate_limits: limits,
        ..SimConfig::fast()
    })
    .await
}

#[tokio::test]
async fn a_bucket_counts_down_refuses_with_429_and_resets() {
    let sim = sim_with(RateLimits::default().route("POST", POST, 3, Duration::from_secs(1))).await;
    let guild = sim.guild("Test").await;
    let (general, other) = (guild.text_channel("general"), guild.text_channel("other"));
    let (addr, t) = (sim.http_addr(), sim.token());
    let post = |channel: u64| {
        let (addr, t) = (addr.clone(), t.clone());
        async move {
            let path = format!("/channels/{channel}/messages");
            call(
                &addr,
                "POST",
                &path,
                Some(&t),
                Some(&json!({"content": "hi"})),
            )
            .await
        }
    };
    let mut bucket = None;
    for remaining in ["2", "1", "0"] {
        let r = post(general.id()).await;
        assert_eq!(r.status, 200);
        assert_eq!(header(&r, "x-ratelimit-limit"), "3");
        assert_eq!(header(&r, "x-ratelimit-remaining"), remaining);
        let after: f64 = header(&r, "x-ratelimit-reset-after").parse().unwrap();
        assert!(after > 0.0 && after <= 1.0, "reset-after {after}");
        let reset: f64 = header(&r, "x-ratelimit-reset").parse().unwrap();
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        assert!(reset > now - 1.0 && reset < now + 2.0, "reset {reset}");
        // Discord sends the scope only with a 429.
        assert!(r.header("x-ratelimit-scope").is_none());
        let hash = header(&r, "x-ratelimit-bucket").to_owned();
        assert_eq!(bucket.get_or_insert(hash.clone()), &hash, "one bucket");
    }
    let refused = post(general.id()).await;
    assert_eq!(refused.status, 429);
    let body = refused.json();
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    let retry = body["retry_after"]
        .as_f64()
        .expect("retry_after in seconds");
    assert!(retry > 0.0 && retry <= 1.0, "retry_after {retry}");
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_eq!(header(&refused, "x-ratelimit-scope"), "user");
    assert_eq!(header(&refused, "x-ratelimit-remaining"), "0");
    assert_eq!(
        Some(header(&refused, "x-ratelimit-bucket")),
        bucket.as_deref()
    );
    assert!(refused.header("x-ratelimit-global").is_none());
    assert_eq!(
        general.bot_messages().len(),
        3,
        "the refused request was not served"
    );
    // Another channel is another bucket (same hash: the hash leaves out the
    // channel, as Discord's does).
    let r = post(other.id()).await;
    assert_eq!((r.status, header(&r, "x-ratelimit-remaining")), (200, "2"));
    assert_eq!(Some(header(&r, "x-ratelimit-bucket")), bucket.as_deref());
    // After the window the channel may post again.
    tokio::time::sleep(Duration::from_secs_f64(retry)).await;
    let r = post(general.id()).await;
    assert_eq!((r.status, header(&r, "x-ratelimit-remaining")), (200, "2"));
    assert_eq!(sim.invalid_requests(), 1, "one 429");
}

#[tokio::test]
async fn routes_can_share_a_bucket() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let helpers = guild.role("helpers", bits::VIEW_CHANNEL);
    let bob = guild.member("bob");
    let (addr, t) = (sim.http_addr(), sim.token());
    let path = format!(
        "/guilds/{}/members/{}/roles/{}",
        guild.id(),
        bob.id(),
        helpers.id()
    );
    let add = call(&addr, "PUT", &path, Some(&t), None).await;
    let remove = call(&addr, "DELETE", &path, Some(&t), None).await;
    assert_eq!((add.status, remove.status), (204, 204));
    assert_eq!(
        header(&add, "x-ratelimit-bucket"),
        header(&remove, "x-ratelimit-bucket"),
        "adding and removing a role share a bucket"
    );
    let limit: u32 = header(&add, "x-ratelimit-limit").parse().unwrap();
    let (a, r): (u32, u32) = (
        header(&add, "x-ratelimit-remaining").parse().unwrap(),
        header(&remove, "x-ratelimit-remaining").parse().unwrap(),
    );
    assert_eq!((a, r), (limit - 1, limit - 2), "one count for both routes");
    let me = call(&addr, "GET", "/users/@me", Some(&t), None).await;
    assert_ne!(
        header(&me, "x-ratelimit-bucket"),
        header(&add, "x-ratelimit-bucket")
    );
}

#[tokio::test]
async fn the_global_limit_refuses_what_exceeds_it_but_not_interactions() {
    // Discord's is 50 a second (the default); 3 makes the test quick.
    let sim = sim_with(RateLimits {
        global_per_second: Some(3),
        ..RateLimits::default()
    })
    .await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    let (addr, t) = (sim.http_addr(), sim.token());
    let commands = format!("/applications/{}/commands", sim.application_id());
    let rank = json!([{"name": "rank", "description": "your rank"}]);
    let r = call(&addr, "PUT", &commands, Some(&t), Some(&rank)).await;
    assert_eq!(r.status, 200);
    for _ in 0..2 {
        let r = call(&addr, "GET", "/users/@me", Some(&t), None).await;
        assert_eq!(r.status, 200);
    }
    let refused = call(&addr, "GET", "/gateway/bot", Some(&t), None).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["global"], true);
    assert!(
        refused.json()["retry_after"]
            .as_f64()
            .is_some_and(|s| s > 0.0 && s <= 1.0)
    );
    assert_eq!(header(&refused, "x-ratelimit-global"), "true");
    assert_eq!(header(&refused, "x-ratelimit-scope"), "global");
    assert_eq!(header(&refused, "retry-after"), "1");
    // Interaction callbacks are not bound by the global limit.
    let run = alice.runs(&general, "rank", []).await;
    let token = sim.interaction_token(run.id()).expect("token");
    let r = call(
        &addr,
        "POST",
        &format!("/interactions/{}/{token}/callback", run.id()),
        None,
        Some(&json!({"type": 4, "data": {"content": "ok"}})),
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(sim.invalid_requests(), 1);
}

#[tokio::test]
async fn invalid_requests_count_401_403_and_429() {
    let sim = sim_with(RateLimits::default().route("POST", POST, 1, Duration::from_secs(60))).await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let locked = guild.text_channel("locked");
    locked.overwrite_role(&guild.bot_role(), 0, bits::SEND_MESSAGES);
    let (addr, t) = (sim.http_addr(), sim.token());
    let body = json!({"content": "hi"});
    let general_path = format!("/channels/{}/messages", general.id());
    let locked_path = format!("/channels/{}/messages", locked.id());
    assert_eq!(sim.invalid_requests(), 0);
    let (wrong, t) = (Some("wrong"), Some(t.as_str()));
    for (method, path, token, status) in [
        ("GET", "/users/@me", wrong, 401),
        ("POST", locked_path.as_str(), t, 403),
        ("POST", general_path.as_str(), t, 200),
        ("POST", general_path.as_str(), t, 429),
        ("GET", "/users/1", t, 404),
    ] {
        let body = (method == "POST").then_some(&body);
        let r = call(&addr, method, path, token, body).await;
        assert_eq!(r.status, status, "{method} {path}");
    }
    assert_eq!(sim.invalid_requests(), 3, "401, 403 and 429; not 404");
}

#[tokio::test]
async fn channel_overwrites_decide_where_the_bot_may_post() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let announcements = guild.text_channel("announcements");
    let hidden = guild.text_channel("hidden");
    let (addr, t) = (sim.http_addr(), sim.token());
    let body = json!({"content": "hi"});
    let post = |channel: u64| {
        let (addr, t, body) = (addr.clone(), t.clone(), body.clone());
        async move {
            let path = format!("/channels/{channel}/messages");
            let r = call(&addr, "POST", &path, Some(&t), Some(&body)).await;
            (r.status, r.json()["code"].as_u64())
        }
    };
    // @everyone may not speak in #announcements: the overwrite applies after
    // the guild-level permissions, the bot's role's Send Messages included.
    announcements.overwrite_role(&guild.everyone(), 0, bits::SEND_MESSAGES);
    assert_eq!(post(announcements.id()).await, (403, Some(50013)));
    // An overwrite for the bot's role allows it again...
    announcements.overwrite_role(&guild.bot_role(), bits::SEND_MESSAGES, 0);
    assert_eq!(post(announcements.id()).await, (200, None));
    // ...and the member's own overwrite comes last.
    announcements.overwrite_user(sim.bot_id(), 0, bits::SEND_MESSAGES);
    assert_eq!(post(announcements.id()).await, (403, Some(50013)));
    announcements.overwrite_user(sim.bot_id(), bits::SEND_MESSAGES, 0);
    assert_eq!(post(announcements.id()).await, (200, None));
    // A channel the bot can't see: Missing Access, to read it as well.
    hidden.overwrite_role(&guild.everyone(), 0, bits::VIEW_CHANNEL);
    assert_eq!(post(hidden.id()).await, (403, Some(50001)));
    let r = call(
        &addr,
        "GET",
        &format!("/channels/{}", hidden.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!((r.status, r.json()["code"].as_u64()), (403, Some(50001)));
    // The overwrites are in the channel's JSON, as Discord shows them.
    let r = call(
        &addr,
        "GET",
        &format!("/channels/{}", announcements.id()),
        Some(&t),
        None,
    )
    .await;
    let overwrites = r.json()["permission_overwrites"].clone();
    assert_eq!(overwrites.as_array().map(Vec::len), Some(3), "{overwrites}");
    assert!(overwrites.as_array().unwrap().iter().any(|o| o
        == &json!({"id": sim.bot_id().to_string(), "type": 1, "allow": bits::SEND_MESSAGES.to_string(), "deny": "0"})));
    // An administrator ignores overwrites.
    let admin = sim
        .guild_with_bot_permissions("Admin", bits::ADMINISTRATOR)
        .await;
    let locked = admin.text_channel("locked");
    locked.overwrite_role(
        &admin.everyone(),
        0,
        bits::VIEW_CHANNEL | bits::SEND_MESSAGES,
    );
    locked.overwrite_role(&admin.bot_role(), 0, bits::SEND_MESSAGES);
    assert_eq!(post(locked.id()).await, (200, None));
    assert_eq!(post(general.id()).await, (200, None));
}

/// A twilight client posting more than a bucket allows: every message gets
/// through (twilight waits out the 429 as the headers say).
#[tokio::test]
async fn twilight_gets_every_message_through_a_small_bucket() {
    let sim =
        sim_with(RateLimits::default().route("POST", POST, 2, Duration::from_millis(500))).await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let http = common::bot::http(&sim);
    let channel = Id::new(general.id());
    for i in 0..6 {
        http.create_message(channel)
            .content(&format!("message {i}"))
            .await
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
    }
    assert_eq!(general.bot_messages().len(), 6);
}

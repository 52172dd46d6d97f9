//! REST behaviour: auth, errors, validation, permissions and hierarchy,
//! DMs, attachments, allowed_mentions, interaction deadlines, scripted
//! faults, and rate-limit headers.

mod common;

use std::time::Duration;

use common::WAIT;
use common::http::{json as call, request};
use discord_sim::permissions::bits;
use discord_sim::{Action, InteractionState, Sim, SimConfig, SimError};
use serde_json::{Value, json};

fn cmd(name: &str, options: Value) -> Value {
    json!({"name": name, "description": "a command", "options": options})
}

#[tokio::test]
async fn auth_is_required_except_for_interaction_routes() {
    let sim = Sim::start().await;
    let addr = sim.http_addr();
    let r = call(&addr, "GET", "/users/@me", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], 0);
    let r = call(&addr, "GET", "/users/@me", Some("wrong"), None).await;
    assert_eq!(r.status, 401);
    let r = call(&addr, "GET", "/users/@me", Some(&sim.token()), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], sim.bot_id().to_string());
    // No auth on the callback route: an unknown interaction, not a 401.
    let r = call(
        &addr,
        "POST",
        "/interactions/1/abc/callback",
        None,
        Some(&json!({"type": 4})),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], 10062);
    // Unknown paths.
    let r = call(&addr, "GET", "/nope", Some(&sim.token()), None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn every_response_has_rate_limit_headers_and_faults_are_scripted() {
    let sim = Sim::start().await;
    let addr = sim.http_addr();
    let t = sim.token();
    let r = call(&addr, "GET", "/gateway/bot", Some(&t), None).await;
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
    ] {
        assert!(r.header(h).is_some(), "{h}");
    }
    sim.fail_next("GET", "/gateway/bot", 429);
    let r = call(&addr, "GET", "/gateway/bot", Some(&t), None).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    let body = r.json();
    assert!(body["retry_after"].is_number());
    assert_eq!(body["global"], false);
    sim.fail_times("GET", "/users/@me", 502, 2);
    assert_eq!(
        call(&addr, "GET", "/users/@me", Some(&t), None)
            .await
            .status,
        502
    );
    assert_eq!(
        call(&addr, "GET", "/users/@me", Some(&t), None)
            .await
            .status,
        502
    );
    assert_eq!(
        call(&addr, "GET", "/users/@me", Some(&t), None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&addr, "GET", "/gateway/bot", Some(&t), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn bad_bodies_and_unknown_objects_get_discord_errors() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let addr = sim.http_addr();
    let t = sim.token();
    let path = format!("/channels/{}/messages", general.id());
    let r = request(
        &addr,
        "POST",
        &path,
        Some(&t),
        Some("application/json"),
        b"{\"content\": ",
    )
    .await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!(50109)));
    let r = call(&addr, "POST", &path, Some(&t), Some(&json!({}))).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!(50006)));
    let r = call(
        &addr,
        "POST",
        &path,
        Some(&t),
        Some(&json!({"content": "x".repeat(2001)})),
    )
    .await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!(50035)));
    assert!(r.json()["errors"]["content"]["_errors"].is_array());
    let r = call(
        &addr,
        "POST",
        "/channels/123/messages",
        Some(&t),
        Some(&json!({"content": "x"})),
    )
    .await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!(10003)));
    let r = call(
        &addr,
        "POST",
        "/channels/abc/messages",
        Some(&t),
        Some(&json!({"content": "x"})),
    )
    .await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!(50035)));
    let r = call(
        &addr,
        "GET",
        &format!("/guilds/{}/members/5", guild.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!(10007)));
    let r = call(&addr, "GET", "/users/5", Some(&t), None).await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!(10013)));
    let r = call(
        &addr,
        "POST",
        "/users/@me/channels",
        Some(&t),
        Some(&json!({"recipient_id": "5"})),
    )
    .await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!(10013)));
    assert!(
        sim.actions()
            .iter()
            .any(|a| matches!(a, Action::Rejected { code: 10013, .. }))
    );
}

#[tokio::test]
async fn command_overwrite_is_validated_like_discord() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let addr = sim.http_addr();
    let t = sim.token();
    let path = format!(
        "/applications/{}/guilds/{}/commands",
        sim.application_id(),
        guild.id()
    );
    let bad = [
        json!([cmd("Warn", json!([]))]),
        json!([cmd(&"a".repeat(33), json!([]))]),
        json!([{"name": "warn", "description": ""}]),
        json!([{"name": "warn", "description": "d".repeat(101)}]),
        json!([cmd(
            "warn",
            Value::Array(
                (0..26)
                    .map(|i| json!({"type": 3, "name": format!("o{i}"), "description": "x"}))
                    .collect()
            )
        )]),
        json!([cmd(
            "warn",
            json!([{"type": 3, "name": "a", "description": "x"}, {"type": 3, "name": "b", "description": "x", "required": true}])
        )]),
        json!([cmd("warn", json!([])), cmd("warn", json!([]))]),
        json!({"name": "warn"}),
    ];
    for body in &bad {
        let r = call(&addr, "PUT", &path, Some(&t), Some(body)).await;
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (400, json!(50035)),
            "{body}"
        );
    }
    let good = json!([
        cmd(
            "warn",
            json!([{"type": 6, "name": "user", "description": "who", "required": true}, {"type": 3, "name": "reason", "description": "why"}])
        ),
        cmd(
            "config",
            json!([{"type": 2, "name": "xp", "description": "xp settings", "options": [
                {"type": 1, "name": "set", "description": "set it", "options": [{"type": 4, "name": "amount", "description": "how much", "required": true}]}
            ]}])
        ),
    ]);
    let r = call(&addr, "PUT", &path, Some(&t), Some(&good)).await;
    assert_eq!(r.status, 200);
    let list = r.json();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(list[0]["version"].is_string());
    let first_id = list[0]["id"].clone();
    // Overwriting keeps IDs of commands that stay.
    let r = call(&addr, "PUT", &path, Some(&t), Some(&good)).await;
    assert_eq!(r.json()[0]["id"], first_id);
}

#[tokio::test]
async fn moderation_checks_permissions_and_hierarchy() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let high = guild.role_above_bot("admins", bits::ADMINISTRATOR);
    let helpers = guild.role("helpers", bits::VIEW_CHANNEL);
    let bob = guild.member("bob");
    let boss = guild.member("boss").with_role(&high);
    let owner = guild.owner();
    let addr = sim.http_addr();
    let t = sim.token();
    let g = guild.id();

    // Timeout bob (given in Discord's own format, stored as given).
    let until = (chrono::Utc::now() + chrono::Duration::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let r = call(
        &addr,
        "PATCH",
        &format!("/guilds/{g}/members/{}", bob.id()),
        Some(&t),
        Some(&json!({"communication_disabled_until": until})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(bob.timed_out_until().as_deref(), Some(until.as_str()));
    assert!(matches!(
        bob.next_change(WAIT).await,
        Ok(Action::TimedOut { until: Some(_), .. })
    ));
    // Too long a timeout.
    let far = (chrono::Utc::now() + chrono::Duration::days(29)).to_rfc3339();
    let r = call(
        &addr,
        "PATCH",
        &format!("/guilds/{g}/members/{}", bob.id()),
        Some(&t),
        Some(&json!({"communication_disabled_until": far})),
    )
    .await;
    assert_eq!(r.json()["code"], 50035);
    // Above the bot, or the owner: 50013.
    for target in [boss.id(), owner.id()] {
        let r = call(
            &addr,
            "PATCH",
            &format!("/guilds/{g}/members/{target}"),
            Some(&t),
            Some(&json!({"communication_disabled_until": until})),
        )
        .await;
        assert_eq!((r.status, r.json()["code"].clone()), (403, json!(50013)));
        let r = call(
            &addr,
            "DELETE",
            &format!("/guilds/{g}/members/{target}"),
            Some(&t),
            None,
        )
        .await;
        assert_eq!(r.json()["code"], 50013);
    }
    // Roles: below the bot fine, above it refused.
    let r = call(
        &addr,
        "PUT",
        &format!("/guilds/{g}/members/{}/roles/{}", bob.id(), helpers.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(bob.has_role(&helpers));
    let r = call(
        &addr,
        "PUT",
        &format!("/guilds/{g}/members/{}/roles/{}", bob.id(), high.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.json()["code"], 50013);
    let r = call(
        &addr,
        "DELETE",
        &format!("/guilds/{g}/members/{}/roles/{}", bob.id(), helpers.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(!bob.has_role(&helpers));
    let r = call(
        &addr,
        "PUT",
        &format!("/guilds/{g}/members/{}/roles/77", bob.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.json()["code"], 10011);

    // Kick and ban, with the audit-log reason recorded.
    let carol = guild.member("carol");
    let r = call(
        &addr,
        "DELETE",
        &format!("/guilds/{g}/members/{}", carol.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(!carol.is_member());
    let r = call(
        &addr,
        "PUT",
        &format!("/guilds/{g}/bans/{}", bob.id()),
        Some(&t),
        Some(&json!({"delete_message_seconds": 3600})),
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(bob.is_banned() && !bob.is_member());
    let r = call(
        &addr,
        "GET",
        &format!("/guilds/{g}/bans/{}", bob.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.json()["user"]["id"], bob.id().to_string());
    let r = call(
        &addr,
        "DELETE",
        &format!("/guilds/{g}/bans/{}", bob.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(
        &addr,
        "DELETE",
        &format!("/guilds/{g}/bans/{}", bob.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.json()["code"], 10026);

    // A bot without the permission gets 50013 even on a lowly member.
    let weak = sim
        .guild_with_bot_permissions("Weak", bits::VIEW_CHANNEL | bits::SEND_MESSAGES)
        .await;
    let dave = weak.member("dave");
    let r = call(
        &addr,
        "DELETE",
        &format!("/guilds/{}/members/{}", weak.id(), dave.id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.json()["code"], 50013);
}

#[tokio::test]
async fn dms_attachments_and_allowed_mentions() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    let bob = guild.member("bob").blocking_dms();
    let addr = sim.http_addr();
    let t = sim.token();

    // DMs: open, send; a blocking user -> 50007.
    let r = call(
        &addr,
        "POST",
        "/users/@me/channels",
        Some(&t),
        Some(&json!({"recipient_id": alice.id().to_string()})),
    )
    .await;
    assert_eq!(r.status, 200);
    let dm = r.json()["id"].as_str().expect("dm id").to_owned();
    let r = call(
        &addr,
        "POST",
        &format!("/channels/{dm}/messages"),
        Some(&t),
        Some(&json!({"content": "you got a warning"})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        alice.next_dm(WAIT).await.expect("dm").content,
        "you got a warning"
    );
    assert_eq!(sim.dms_to(&alice).all().len(), 1);
    let r = call(
        &addr,
        "POST",
        "/users/@me/channels",
        Some(&t),
        Some(&json!({"recipient_id": bob.id().to_string()})),
    )
    .await;
    let bob_dm = r.json()["id"].as_str().expect("dm id").to_owned();
    let r = call(
        &addr,
        "POST",
        &format!("/channels/{bob_dm}/messages"),
        Some(&t),
        Some(&json!({"content": "hi"})),
    )
    .await;
    assert_eq!((r.status, r.json()["code"].clone()), (403, json!(50007)));

    // allowed_mentions: only alice pings although both are mentioned.
    let content = format!("{} and {}", alice.mention(), bob.mention());
    let body = json!({"content": content, "allowed_mentions": {"parse": [], "users": [alice.id().to_string()]}});
    let r = call(
        &addr,
        "POST",
        &format!("/channels/{}/messages", general.id()),
        Some(&t),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 200);
    let m = general.next_message(WAIT).await.expect("message");
    assert!(m.pings(alice.id()) && !m.pings(bob.id()));
    // Without allowed_mentions everything parsed pings; parse: [] pings nobody.
    let r = call(
        &addr,
        "POST",
        &format!("/channels/{}/messages", general.id()),
        Some(&t),
        Some(&json!({"content": content, "allowed_mentions": {"parse": []}})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        general
            .next_message(WAIT)
            .await
            .expect("message")
            .mentions
            .is_empty()
    );

    // Multipart with a file.
    let boundary = "XyZ";
    let payload =
        json!({"content": "report", "attachments": [{"id": 0, "filename": "report.txt"}]});
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"payload_json\"\r\nContent-Type: application/json\r\n\r\n{payload}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"report.txt\"\r\nContent-Type: text/plain\r\n\r\nline one\nline two\r\n--{boundary}--\r\n"
    );
    let r = request(
        &addr,
        "POST",
        &format!("/channels/{}/messages", general.id()),
        Some(&t),
        Some(&format!("multipart/form-data; boundary={boundary}")),
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["attachments"][0]["filename"], "report.txt");
    let m = general.next_message(WAIT).await.expect("message");
    assert_eq!(m.attachments[0].data, b"line one\nline two");
}

#[tokio::test]
async fn interactions_fail_after_the_deadline_and_refuse_double_callbacks() {
    let sim = Sim::with_config(SimConfig {
        interaction_deadline: Duration::from_millis(300),
        ..SimConfig::fast()
    })
    .await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    let addr = sim.http_addr();
    let t = sim.token();
    let path = format!(
        "/applications/{}/guilds/{}/commands",
        sim.application_id(),
        guild.id()
    );
    let r = call(
        &addr,
        "PUT",
        &path,
        Some(&t),
        Some(&json!([cmd("rank", json!([]))])),
    )
    .await;
    assert_eq!(r.status, 200);

    // Nobody answers: failed, and a late callback is refused.
    let late = alice.runs(&general, "rank", []).await;
    assert_eq!(
        late.response(WAIT).await,
        Err(SimError::InteractionFailed(late.id()))
    );
    assert_eq!(late.state(), InteractionState::Failed);
    let token = interaction_token(&sim, late.id());
    let r = call(
        &addr,
        "POST",
        &format!("/interactions/{}/{token}/callback", late.id()),
        None,
        Some(&json!({"type": 4, "data": {"content": "late"}})),
    )
    .await;
    assert_eq!(r.json()["code"], 10062);

    // Answered in time (deferred then edited), then a second callback: 40060.
    let run = alice.runs(&general, "rank", []).await;
    let token = interaction_token(&sim, run.id());
    let cb = format!("/interactions/{}/{token}/callback", run.id());
    let r = call(&addr, "POST", &cb, None, Some(&json!({"type": 5}))).await;
    assert_eq!(r.status, 204);
    let r = call(
        &addr,
        "POST",
        &cb,
        None,
        Some(&json!({"type": 4, "data": {"content": "x"}})),
    )
    .await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!(40060)));
    let edit = format!(
        "/webhooks/{}/{token}/messages/@original",
        sim.application_id()
    );
    let r = call(
        &addr,
        "PATCH",
        &edit,
        None,
        Some(&json!({"content": "You are level 3"})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(run.response(WAIT).await.expect("response").kind, 5);
    assert_eq!(
        run.message(WAIT).await.expect("message").content,
        "You are level 3"
    );
    assert!(!run.message(WAIT).await.expect("message").ephemeral);

    // An ephemeral deferral: the answer edited in later is ephemeral too.
    let private = alice.runs(&general, "rank", []).await;
    let token = interaction_token(&sim, private.id());
    let cb = format!("/interactions/{}/{token}/callback", private.id());
    let deferral = json!({"type": 5, "data": {"flags": 64}});
    let r = call(&addr, "POST", &cb, None, Some(&deferral)).await;
    assert_eq!(r.status, 204);
    let original = format!(
        "/webhooks/{}/{token}/messages/@original",
        sim.application_id()
    );
    let edit = json!({"content": "only you see this"});
    let r = call(&addr, "PATCH", &original, None, Some(&edit)).await;
    assert_eq!(r.status, 200);
    let answer = private.message(WAIT).await.expect("message");
    assert!(answer.ephemeral, "{answer:?}");

    // A public deferral deleted before it was edited (its "thinking..." goes away),
    // then a private follow-up; the deleted original can't be edited any more.
    let replaced = alice.runs(&general, "rank", []).await;
    let token = interaction_token(&sim, replaced.id());
    let cb = format!("/interactions/{}/{token}/callback", replaced.id());
    let r = call(&addr, "POST", &cb, None, Some(&json!({"type": 5}))).await;
    assert_eq!(r.status, 204);
    let original = format!(
        "/webhooks/{}/{token}/messages/@original",
        sim.application_id()
    );
    let r = call(&addr, "DELETE", &original, None, None).await;
    assert_eq!(r.status, 204);
    let r = call(&addr, "PATCH", &original, None, Some(&edit)).await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!(10008)));
    let followup = format!("/webhooks/{}/{token}", sim.application_id());
    let body = json!({"content": "private after all", "flags": 64});
    let r = call(&addr, "POST", &followup, None, Some(&body)).await;
    assert_eq!(r.status, 200);
    let answer = replaced.message(WAIT).await.expect("message");
    assert_eq!(answer.content, "private after all");
    assert!(answer.ephemeral);
}

/// The token the bot would read from INTERACTION_CREATE.
fn interaction_token(sim: &Sim, id: u64) -> String {
    // Tests without a gateway client read it from the request the
    // simulator would have dispatched: the interaction record.
    sim.interaction_token(id).expect("interaction exists")
}

/// A bench's simulator keeps no member's messages, but the bot's answers stay
/// editable: a deferred `/rank` edited in, a channel message edited.
#[tokio::test]
async fn without_stored_messages_the_bots_own_stay_editable() {
    let sim = Sim::with_config(SimConfig {
        store_messages: false,
        ..SimConfig::fast()
    })
    .await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    let (addr, t) = (sim.http_addr(), sim.token());
    let path = format!(
        "/applications/{}/guilds/{}/commands",
        sim.application_id(),
        guild.id()
    );
    let commands = json!([cmd("rank", json!([]))]);
    let r = call(&addr, "PUT", &path, Some(&t), Some(&commands)).await;
    assert_eq!(r.status, 200);

    alice.says(&general, "hello").await;
    assert!(general.messages().is_empty(), "a member's message was kept");

    let run = alice.runs(&general, "rank", []).await;
    let token = interaction_token(&sim, run.id());
    let cb = format!("/interactions/{}/{token}/callback", run.id());
    let r = call(&addr, "POST", &cb, None, Some(&json!({"type": 5}))).await;
    assert_eq!(r.status, 204);
    let original = format!(
        "/webhooks/{}/{token}/messages/@original",
        sim.application_id()
    );
    let answer = json!({"content": "You are level 3"});
    let r = call(&addr, "PATCH", &original, None, Some(&answer)).await;
    assert_eq!(
        (r.status, r.json()["content"].clone()),
        (200, json!("You are level 3"))
    );
    let again = json!({"content": "You are level 4"});
    let r = call(&addr, "PATCH", &original, None, Some(&again)).await;
    assert_eq!(
        (r.status, r.json()["content"].clone()),
        (200, json!("You are level 4"))
    );

    let messages = format!("/channels/{}/messages", general.id());
    let r = call(
        &addr,
        "POST",
        &messages,
        Some(&t),
        Some(&json!({"content": "hi"})),
    )
    .await;
    assert_eq!(r.status, 200);
    let sent = r.json()["id"].as_str().expect("message id").to_owned();
    let edit = json!({"content": "hi again"});
    let r = call(
        &addr,
        "PATCH",
        &format!("{messages}/{sent}"),
        Some(&t),
        Some(&edit),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["content"].clone()),
        (200, json!("hi again"))
    );
    let kept: Vec<String> = general.messages().into_iter().map(|m| m.content).collect();
    assert_eq!(kept, ["You are level 4", "hi again"]);
}

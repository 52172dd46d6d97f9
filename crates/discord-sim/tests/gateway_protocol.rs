//! Gateway protocol details with a raw WebSocket client: HELLO, IDENTIFY,
//! READY, heartbeats, compression, RESUME, close codes for bad input, and
//! the documented client payloads from Discord's docs.

mod common;

use std::time::Duration;

use common::ws::{RawGateway, Recv};
use discord_sim::{Sim, SimConfig, intents};
use serde_json::{Value, json};

const ALL_NON_PRIVILEGED: u64 =
    intents::GUILDS | intents::GUILD_MESSAGES | intents::DIRECT_MESSAGES;

#[tokio::test]
async fn hello_identify_ready_guild_create_and_heartbeat() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let (mut gw, hello) = RawGateway::connect(&sim.gateway_url(), "").await;
    assert!(hello["heartbeat_interval"].as_u64().is_some());
    gw.identify(&sim.token(), ALL_NON_PRIVILEGED, [0, 1]).await;
    let ready = gw.next_dispatch("READY").await;
    assert_eq!(ready["s"], 1);
    let d = &ready["d"];
    assert_eq!(d["v"], 10);
    assert_eq!(d["resume_gateway_url"], sim.resume_url());
    assert_ne!(
        sim.resume_url(),
        sim.gateway_url(),
        "a client that ignores resume_gateway_url must be told apart"
    );
    assert_eq!(d["application"]["id"], sim.application_id().to_string());
    assert_eq!(d["guilds"][0]["unavailable"], true);
    let gc = gw.next_dispatch("GUILD_CREATE").await;
    assert_eq!(gc["s"], 2);
    assert_eq!(gc["d"]["id"], guild.id().to_string());
    let members = gc["d"]["members"].as_array().expect("members");
    assert!(
        members
            .iter()
            .any(|m| m["user"]["id"].as_str() == Some(sim.bot_id().to_string().as_str()))
    );
    gw.send(&json!({"op": 1, "d": 2})).await;
    loop {
        match gw.recv().await {
            Recv::Frame(v) if v["op"] == 11 => break,
            Recv::Frame(_) => {}
            other => panic!("expected ACK, got {other:?}"),
        }
    }
}

async fn ready_with(compress: &'static str) {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), compress).await;
    gw.identify(
        &sim.token(),
        ALL_NON_PRIVILEGED | intents::MESSAGE_CONTENT,
        [0, 1],
    )
    .await;
    gw.next_dispatch("READY").await;
    gw.next_dispatch("GUILD_CREATE").await;
    // Several frames through one compression context.
    for i in 0..20 {
        alice.says(&general, format!("hello {i}")).await;
    }
    for i in 0..20 {
        let m = gw.next_dispatch("MESSAGE_CREATE").await;
        assert_eq!(m["d"]["content"], format!("hello {i}"));
    }
}

#[tokio::test]
async fn zlib_stream_compression() {
    ready_with("zlib-stream").await;
}

#[tokio::test]
async fn zstd_stream_compression() {
    ready_with("zstd-stream").await;
}

#[tokio::test]
async fn resume_replays_missed_events_in_order_then_resumed() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.identify(
        &sim.token(),
        ALL_NON_PRIVILEGED | intents::MESSAGE_CONTENT,
        [0, 1],
    )
    .await;
    let ready = gw.next_dispatch("READY").await;
    let session_id = ready["d"]["session_id"]
        .as_str()
        .expect("session")
        .to_owned();
    gw.next_dispatch("GUILD_CREATE").await;
    alice.says(&general, "seen").await;
    let seen = gw.next_dispatch("MESSAGE_CREATE").await;
    let seq = seen["s"].as_u64().expect("seq");
    gw.close(4000).await;

    for i in 0..3 {
        alice.says(&general, format!("missed {i}")).await;
    }
    let resume_url = ready["d"]["resume_gateway_url"].as_str().expect("url");
    let (mut gw, _) = RawGateway::connect(resume_url, "").await;
    gw.resume(&sim.token(), &session_id, seq).await;
    for i in 0..3 {
        let m = gw.next_dispatch("MESSAGE_CREATE").await;
        assert_eq!(m["d"]["content"], format!("missed {i}"));
        assert_eq!(m["s"].as_u64(), Some(seq + 1 + i));
    }
    let resumed = gw.next_dispatch("RESUMED").await;
    assert_eq!(resumed["s"].as_u64(), Some(seq + 4));
    let counts = sim.gateway_counts();
    assert_eq!(counts.resumes_at_resume_url, 1, "{counts:?}");
    assert_eq!(counts.resumes_elsewhere, 0, "{counts:?}");
}

/// A RESUME at the gateway URL instead of READY's `resume_gateway_url` still
/// resumes (Discord does not refuse it outright), but it is counted apart, so a
/// test can tell that a bot ignored `resume_gateway_url`.
#[tokio::test]
async fn resumes_are_counted_by_the_url_they_use() {
    let sim = Sim::start().await;
    let (gw, sid) = new_session(&sim).await;
    gw.close(4000).await;

    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.resume(&sim.token(), &sid, 1).await;
    gw.next_dispatch("RESUMED").await;
    let counts = sim.gateway_counts();
    assert_eq!(
        (counts.resumes_elsewhere, counts.resumes_at_resume_url),
        (1, 0),
        "{counts:?}"
    );
    gw.close(4000).await;

    let (mut gw, _) = RawGateway::connect(&sim.resume_url(), "").await;
    gw.resume(&sim.token(), &sid, 1).await;
    gw.next_dispatch("RESUMED").await;
    let counts = sim.gateway_counts();
    assert_eq!(
        (counts.resumes_elsewhere, counts.resumes_at_resume_url),
        (1, 1),
        "{counts:?}"
    );
    assert_eq!(counts.identifies, 1, "{counts:?}");
}

#[tokio::test]
async fn resume_of_unknown_session_gets_invalid_session() {
    let sim = Sim::start().await;
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.send(&json!({"op": 6, "d": {"token": sim.token(), "session_id": "nope", "seq": 3}}))
        .await;
    match gw.recv().await {
        Recv::Frame(v) => {
            assert_eq!(v["op"], 9);
            assert_eq!(v["d"], false);
        }
        other => panic!("expected op 9, got {other:?}"),
    }
}

#[tokio::test]
async fn closing_with_1000_ends_the_session() {
    let sim = Sim::start().await;
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.identify(&sim.token(), ALL_NON_PRIVILEGED, [0, 1]).await;
    let ready = gw.next_dispatch("READY").await;
    let session_id = ready["d"]["session_id"].as_str().expect("sid").to_owned();
    gw.close(1000).await;
    sim.wait_sessions(common::WAIT, |s| s.is_empty())
        .await
        .expect("session ended");
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.send(&json!({"op": 6, "d": {"token": sim.token(), "session_id": session_id, "seq": 1}}))
        .await;
    match gw.recv().await {
        Recv::Frame(v) => assert_eq!(v["op"], 9),
        other => panic!("expected op 9, got {other:?}"),
    }
}

/// Send `payload` (raw text) after HELLO and expect close `code`.
async fn expect_close(sim: &Sim, payloads: &[String], code: u16) {
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    for p in payloads {
        gw.send_text(p).await;
    }
    assert_eq!(gw.expect_close().await, Some(code), "after {payloads:?}");
}

fn identify(token: &str, intents: u64, shard: Value) -> String {
    json!({"op": 2, "d": {"token": token, "intents": intents, "shard": shard, "properties": {"os": "linux", "browser": "x", "device": "x"}}}).to_string()
}

#[tokio::test]
async fn bad_input_gets_discords_close_codes() {
    // Unpaced: the good identifies below come one right after the other on
    // purpose (pacing has its own test, identifies_too_fast_get_invalid_session).
    let sim = Sim::with_config(
        SimConfig {
            shards: 2,
            privileged_intents: intents::GUILD_MEMBERS,
            ..SimConfig::fast()
        }
        .unpaced(),
    )
    .await;
    let t = sim.token();
    expect_close(&sim, &["{not json".into()], 4002).await;
    expect_close(&sim, &["[1,2,3]".into()], 4002).await;
    expect_close(&sim, &[json!({"op": "one"}).to_string()], 4002).await;
    expect_close(&sim, &[json!({"op": 42, "d": null}).to_string()], 4001).await;
    expect_close(&sim, &[json!({"op": 3, "d": {}}).to_string()], 4003).await;
    expect_close(&sim, &[identify("wrong", 1, json!([0, 2]))], 4004).await;
    expect_close(&sim, &[identify(&t, 1, json!([2, 2]))], 4010).await;
    expect_close(&sim, &[identify(&t, 1, json!([0, 3]))], 4010).await;
    expect_close(&sim, &[identify(&t, 1, json!("x"))], 4010).await;
    expect_close(&sim, &[identify(&t, 1 << 40, json!([0, 2]))], 4013).await;
    expect_close(
        &sim,
        &[identify(&t, intents::MESSAGE_CONTENT, json!([0, 2]))],
        4014,
    )
    .await;
    let ok = identify(&t, 1, json!([1, 2]));
    expect_close(&sim, &[ok.clone(), ok], 4005).await;
    // Binary garbage.
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.send_text("\u{0}\u{1}").await;
    assert_eq!(gw.expect_close().await, Some(4002));
    // The simulator is still serving.
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.identify(&t, 1, [0, 2]).await;
    gw.next_dispatch("READY").await;
}

#[tokio::test]
async fn unsupported_encoding_version_and_compression_are_refused() {
    let sim = Sim::start().await;
    for (query, code) in [
        ("v=9&encoding=json", 4012),
        ("v=10&encoding=etf", 4002),
        ("v=10&encoding=json&compress=gzip", 4002),
    ] {
        let url = format!("{}/?{query}", sim.gateway_url());
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        use futures_util::StreamExt;
        let mut got = None;
        while let Some(Ok(m)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Close(f) = m {
                got = f.map(|f| u16::from(f.code));
                break;
            }
        }
        assert_eq!(got, Some(code), "{query}");
    }
}

#[tokio::test]
async fn sharding_required_when_one_shard_holds_too_many_guilds() {
    let sim = Sim::with_config(SimConfig {
        max_guilds_per_shard: 2,
        ..SimConfig::fast()
    })
    .await;
    for i in 0..3 {
        sim.guild(&format!("g{i}")).await;
    }
    expect_close(&sim, &[identify(&sim.token(), 1, json!([0, 1]))], 4011).await;
}

/// The tests' default paces identifies as Discord does: one per window for
/// `max_concurrency` 1, as `GET /gateway/bot` says.
#[tokio::test]
async fn tests_pace_identifies_by_default() {
    let sim = Sim::start().await;
    let token = sim.token();
    let gateway_bot =
        common::http::json(&sim.http_addr(), "GET", "/gateway/bot", Some(&token), None).await;
    assert_eq!(gateway_bot.status, 200);
    assert_eq!(
        gateway_bot.json()["session_start_limit"]["max_concurrency"],
        1
    );
    let (mut a, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    a.identify(&sim.token(), 1, [0, 1]).await;
    a.next_dispatch("READY").await;
    let (mut b, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    b.identify(&sim.token(), 1, [0, 1]).await;
    assert_eq!(b.next_op(9).await["d"], false);
}

/// An IDENTIFY within the window of the last one in its concurrency bucket is
/// refused as Discord refuses it: INVALID_SESSION (op 9, not resumable) on an
/// open connection, no session. After the window the same IDENTIFY works.
#[tokio::test]
async fn identifies_too_fast_get_invalid_session() {
    let window = Duration::from_millis(300);
    let sim = Sim::with_config(SimConfig {
        shards: 2,
        max_concurrency: 1,
        identify_interval: window,
        ..SimConfig::fast()
    })
    .await;
    let (mut a, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    a.identify(&sim.token(), 1, [0, 2]).await;
    a.next_dispatch("READY").await;
    // Same bucket (1 % 1 == 0), sent at once: well within the window.
    let (mut b, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    b.identify(&sim.token(), 1, [1, 2]).await;
    let refused = b.next_op(9).await;
    assert_eq!(refused["d"], false, "not resumable: identify again");
    assert_eq!(sim.sessions().len(), 1, "no session for the refused shard");
    let counts = sim.gateway_counts();
    assert_eq!((counts.identifies, counts.identifies_too_fast), (1, 1));

    // Past the window, on the same connection (still open).
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    b.identify(&sim.token(), 1, [1, 2]).await;
    b.next_dispatch("READY").await;
    assert_eq!(sim.sessions().len(), 2);
}

/// A connection that stops heartbeating is closed with 4009, and as on Discord
/// ("reconnect and start a new session") the session is over: RESUME gets
/// INVALID_SESSION, not a replay.
#[tokio::test]
async fn a_silent_connection_is_closed_and_its_session_ends() {
    let sim = Sim::with_config(SimConfig {
        heartbeat_timeout: Duration::from_millis(300),
        ..SimConfig::fast()
    })
    .await;
    let (mut gw, sid) = new_session(&sim).await;
    assert_eq!(gw.expect_close().await, Some(4009));
    assert_eq!(sim.sessions(), [], "the session timed out");
    expect_resume_refused(&sim, &sid).await;
}

/// A session for shard [0, 1] (GUILDS only): the connection and its ID.
async fn new_session(sim: &Sim) -> (RawGateway, String) {
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.identify(&sim.token(), intents::GUILDS, [0, 1]).await;
    let ready = gw.next_dispatch("READY").await;
    let sid = ready["d"]["session_id"].as_str().expect("sid").to_owned();
    (gw, sid)
}

/// RESUME of `sid` at the resume URL gets INVALID_SESSION, not resumable.
async fn expect_resume_refused(sim: &Sim, sid: &str) {
    let (mut gw, _) = RawGateway::connect(&sim.resume_url(), "").await;
    gw.resume(&sim.token(), sid, 1).await;
    let invalid = gw.next_op(9).await;
    assert_eq!(invalid["d"], false, "{invalid}");
}

/// The scenario faults that time sessions out (`time_out_sessions`, and
/// `close_all(4009)`) close with 4009 and end the session; `close_all(4000)`
/// keeps it resumable.
#[tokio::test]
async fn closing_with_4009_ends_the_session() {
    let sim = Sim::start().await;
    let (mut gw, sid) = new_session(&sim).await;

    sim.close_all(4000);
    assert_eq!(gw.expect_close().await, Some(4000));
    let (mut gw, _) = RawGateway::connect(&sim.resume_url(), "").await;
    gw.resume(&sim.token(), &sid, 1).await;
    gw.next_dispatch("RESUMED").await;

    sim.close_all(4009);
    assert_eq!(gw.expect_close().await, Some(4009));
    assert_eq!(sim.sessions(), [], "4009 ends the session");
    expect_resume_refused(&sim, &sid).await;

    // Again through time_out_sessions, past the identify window.
    tokio::time::sleep(discord_sim::config::FAST_IDENTIFY_INTERVAL).await;
    let (mut gw, sid) = new_session(&sim).await;
    sim.time_out_sessions();
    assert_eq!(sim.sessions(), [], "gone at once");
    assert_eq!(gw.expect_close().await, Some(4009));
    expect_resume_refused(&sim, &sid).await;
}

#[tokio::test]
async fn intents_are_enforced() {
    // Unpaced: two sessions side by side, identified one right after the other.
    let sim = Sim::with_config(SimConfig::fast().unpaced()).await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    // Without GUILD_MESSAGES: no MESSAGE_CREATE. Without GUILD_MEMBERS: no
    // GUILD_MEMBER_ADD. Without MESSAGE_CONTENT: content emptied unless the
    // bot is mentioned.
    let (mut none, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    none.identify(&sim.token(), intents::GUILDS, [0, 1]).await;
    none.next_dispatch("GUILD_CREATE").await;
    let (mut no_content, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    no_content
        .identify(
            &sim.token(),
            intents::GUILDS | intents::GUILD_MESSAGES,
            [0, 1],
        )
        .await;
    no_content.next_dispatch("GUILD_CREATE").await;

    alice.says(&general, "secret").await;
    alice
        .says(&general, format!("<@{}> hi", sim.bot_id()))
        .await;
    sim.user("carol").joins(&guild).await;
    guild.text_channel("marker");

    let m = no_content.next_dispatch("MESSAGE_CREATE").await;
    assert_eq!(m["d"]["content"], "");
    let m = no_content.next_dispatch("MESSAGE_CREATE").await;
    assert_eq!(m["d"]["content"], format!("<@{}> hi", sim.bot_id()));
    loop {
        match none.recv().await {
            Recv::Frame(v) if v["t"] == "CHANNEL_CREATE" => break,
            Recv::Frame(v) => {
                assert_ne!(v["t"], "MESSAGE_CREATE");
                assert_ne!(v["t"], "GUILD_MEMBER_ADD");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn documented_client_payloads_are_accepted() {
    let Some(dir) = discord_sim::spec::spec_dir("documented_client_payloads_are_accepted") else {
        return;
    };
    let examples = discord_sim::spec::load_json(&dir, "doc-examples.json");
    let find = |op: u64| -> Value {
        examples
            .as_array()
            .expect("list")
            .iter()
            .map(|e| &e["payload"])
            .find(|p| p["op"] == op)
            .cloned()
            .unwrap_or_else(|| panic!("doc example with op {op}"))
    };
    let sim = Sim::start().await;
    sim.guild("Test").await;

    // Identify, with the documented shape; the placeholder token is swapped.
    let mut identify = find(2);
    identify["d"]["token"] = json!(sim.token());
    if identify["d"].get("shard").is_some() {
        identify["d"]["shard"] = json!([0, 1]);
    }
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.send(&identify).await;
    let ready = gw.next_dispatch("READY").await;
    let sid = ready["d"]["session_id"].as_str().expect("sid").to_owned();

    // Heartbeat, as documented.
    gw.send(&find(1)).await;
    loop {
        match gw.recv().await {
            Recv::Frame(v) if v["op"] == 11 => break,
            Recv::Frame(_) => {}
            other => panic!("{other:?}"),
        }
    }
    gw.close(4000).await;

    // Resume, as documented, with our session.
    let mut resume = find(6);
    resume["d"]["token"] = json!(sim.token());
    resume["d"]["session_id"] = json!(sid);
    resume["d"]["seq"] = json!(1);
    let (mut gw, _) = RawGateway::connect(&sim.gateway_url(), "").await;
    gw.send(&resume).await;
    gw.next_dispatch("RESUMED").await;
}

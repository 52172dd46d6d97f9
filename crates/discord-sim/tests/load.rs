//! Load mode end to end: a twilight bot counts messages per member, awards XP
//! under a cooldown from the timestamps it reads, and answers `/rank`; the load
//! report's per-member counts and expected XP must match what the bot saw
//! exactly (nothing lost, nothing duplicated).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::bot::{self, Report, intents, start_shards};
use discord_sim::load::{self, LoadConfig, XpRules};
use discord_sim::{Sim, SimConfig};
use serde_json::json;
use twilight_gateway::Event;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

const RULES: XpRules = XpRules {
    min: 10,
    max: 10,
    cooldown: Duration::from_millis(200),
};

#[tokio::test]
async fn load_report_matches_what_the_bot_received() {
    let sim = Sim::with_config(SimConfig {
        replay_limit: 10_000,
        ..SimConfig::fast()
    })
    .await;
    let config = LoadConfig {
        guilds: 3,
        members_per_guild: 20,
        rate: 400,
        duration: Duration::from_secs(1),
        command: Some("rank".into()),
        command_every: 25,
        ..LoadConfig::default()
    };
    let world = load::build(&sim, &config).await;
    let path = format!("/applications/{}/commands", sim.application_id());
    let r = common::http::json(
        &sim.http_addr(),
        "PUT",
        &path,
        Some(&sim.token()),
        Some(&json!([{"name": "rank", "description": "rank"}])),
    )
    .await;
    assert_eq!(r.status, 200);

    let (mut rx, _tasks) = start_shards(&sim, 1, intents());
    sim.wait_connected(1, common::WAIT)
        .await
        .expect("connected");
    let http = bot::http(&sim);
    let app = twilight_model::id::Id::new(sim.application_id());
    // The "bot": count messages per (guild, author), answer every /rank.
    let counter = tokio::spawn(async move {
        let mut seen: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        // XP as a bot with RULES would award it, from the timestamps it reads.
        let mut xp: BTreeMap<(u64, u64), i64> = BTreeMap::new();
        let mut last_award: BTreeMap<(u64, u64), i64> = BTreeMap::new();
        let cooldown_us = RULES.cooldown.as_micros() as i64;
        // Until the end marker: events arrive in order on one shard, so
        // everything sent before it has been seen. (Heartbeat ACKs keep
        // arriving, so an idle timeout would never fire.)
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while let Ok(Some(report)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            match report {
                Report::ParseError(_, e) => panic!("parse error: {e}"),
                Report::Event(_, e) => match *e {
                    Event::MessageCreate(m) if m.content == "end of load" => break,
                    Event::MessageCreate(m) => {
                        let key = (m.guild_id.map_or(0, |g| g.get()), m.author.id.get());
                        *seen.entry(key).or_default() += 1;
                        let t = m.timestamp.as_micros();
                        if last_award.get(&key).is_none_or(|l| t - l >= cooldown_us) {
                            last_award.insert(key, t);
                            *xp.entry(key).or_default() += RULES.min;
                        }
                    }
                    Event::InteractionCreate(i) => {
                        let response = InteractionResponse {
                            kind: InteractionResponseType::ChannelMessageWithSource,
                            data: Some(InteractionResponseData {
                                content: Some("rank 1".into()),
                                ..Default::default()
                            }),
                        };
                        http.interaction(app)
                            .create_response(i.id, &i.token, &response)
                            .await
                            .expect("callback");
                    }
                    _ => {}
                },
            }
        }
        (seen, xp)
    });
    let report = load::run(&sim, &world, &config).await;
    let (_, marker_channel, marker_members) = &world.guilds[0];
    marker_members[0].says(marker_channel, "end of load").await;
    let (seen, xp) = counter.await.expect("bot task");
    assert!(report.messages_sent > 0);
    assert!(report.commands_sent > 0);
    assert_eq!(report.commands_answered, report.commands_sent, "{report}");
    let expected: BTreeMap<(u64, u64), u64> = report
        .messages_per_member
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (*k, *n))
        .collect();
    // The bot's own interaction answers are messages too; count members only.
    let members: BTreeMap<(u64, u64), u64> = seen
        .into_iter()
        .filter(|((_, author), _)| *author != sim.bot_id())
        .collect();
    assert_eq!(members, expected);
    // XP: min == max, so the expectation is exact for every member, including
    // the ones who never spoke (0). The cooldown must have cut some messages.
    let expected_xp = report.expected_xp(&RULES);
    assert_eq!(expected_xp.len(), report.messages_per_member.len());
    for (key, e) in &expected_xp {
        assert_eq!(e.min_xp, e.max_xp);
        let got = xp.get(key).copied().unwrap_or(0);
        assert_eq!(got, e.min_xp, "member {key:?}: {e:?}");
    }
    let awards: u64 = expected_xp.values().map(|e| e.awards).sum();
    assert!(awards < report.messages_sent, "the cooldown cut nothing");
    let members_xp: i64 = xp
        .iter()
        .filter(|((_, author), _)| *author != sim.bot_id())
        .map(|(_, xp)| xp)
        .sum();
    assert_eq!(report.expected_total_xp(&RULES), (members_xp, members_xp));
    // Skewed: the busiest member spoke more than the median one.
    let mut counts: Vec<u64> = report.messages_per_member.values().copied().collect();
    counts.sort_unstable();
    assert!(counts[counts.len() - 1] > counts[counts.len() / 2]);
}

/// Load guilds are spread over the shards the way Discord's IDs spread them, so a
/// sharded bot under load uses every shard.
#[tokio::test]
async fn load_guilds_spread_over_shards() {
    let sim = Sim::with_config(SimConfig::fast()).await;
    let config = LoadConfig {
        guilds: 8,
        members_per_guild: 10,
        ..LoadConfig::default()
    };
    let world = load::build(&sim, &config).await;
    let mut per_shard = [0; 4];
    for (guild, _, _) in &world.guilds {
        per_shard[((guild.id() >> 22) % 4) as usize] += 1;
    }
    assert_eq!(per_shard, [2, 2, 2, 2]);
}

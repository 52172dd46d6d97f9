//! The real `keeper` binary as operators run it, against the simulator, on SQLite
//! and on PostgreSQL: SIGTERM mid-traffic, `kill -9` mid-traffic, and a guild set
//! split over two processes. After each, every member's stored XP must equal what
//! the simulator sent under the guild's rules: nothing lost, nothing counted twice.

mod common;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use common::{Backend, EXACT_RULES, KeeperProcess};
use discord_sim::{
    Sim, SimConfig,
    load::{self, ExpectedXp, LoadConfig, LoadReport, LoadWorld, XpRules},
    ratelimit::RateLimits,
};
use keeper_store::Store;

const WAIT: Duration = Duration::from_secs(30);

/// A simulator with `shards` shards and a few small guilds, a scratch database
/// with exact XP rules in every guild, and the binary's working directory.
struct Stage {
    sim: Sim,
    world: LoadWorld,
    backend: Option<Backend>,
    url: String,
    dir: std::path::PathBuf,
    store: Arc<dyn Store>,
    rules: XpRules,
    /// The URL Keeper gets: PostgreSQL through a proxy the test can silence.
    keeper_url: String,
    proxy: Option<common::DbProxy>,
}

impl Stage {
    async fn new(postgres: bool, shards: u32, guilds: usize) -> Self {
        Self::with_rules(postgres, shards, guilds, EXACT_RULES).await
    }

    async fn with_rules(postgres: bool, shards: u32, guilds: usize, rules: XpRules) -> Self {
        let sim = Sim::with_config(SimConfig {
            shards,
            ..SimConfig::fast()
        })
        .await;
        let world = load::build(&sim, &traffic(guilds, 0)).await;
        let (backend, url) = Backend::create(postgres).await;
        let dir = backend.scratch_dir();
        let store = common::open_store(&url).await;
        common::set_rules(&*store, self_guilds(&world), &rules).await;
        let proxy = match postgres {
            true => Some(common::DbProxy::start(common::pg_host_port(&url)).await),
            false => None,
        };
        let keeper_url = proxy.as_ref().map_or(url.clone(), |p| p.url_for(&url));
        Self {
            sim,
            world,
            backend: Some(backend),
            url,
            dir,
            store,
            rules,
            keeper_url,
            proxy,
        }
    }

    fn guilds(&self) -> Vec<u64> {
        self_guilds(&self.world)
    }

    fn spawn(&self, extra: &[(&str, &str)]) -> KeeperProcess {
        KeeperProcess::spawn(&self.sim, &self.keeper_url, &self.dir, extra)
    }

    /// Start the binary and wait until `sessions` shards are connected.
    async fn start(&self, sessions: usize, extra: &[(&str, &str)]) -> KeeperProcess {
        let keeper = self.spawn(extra);
        if let Err(err) = self.sim.wait_connected(sessions, WAIT).await {
            panic!(
                "keeper did not connect: {err}; its log:\n{}",
                keeper.output()
            );
        }
        self.sim
            .wait_for_command("rank", WAIT)
            .await
            .expect("commands registered");
        keeper
    }

    /// Wait until the stored XP is exactly what `reports` sent, one run after
    /// the other (a member's cooldown carries from one run into the next).
    async fn check_xp(&self, reports: &[&LoadReport], logs: &str) {
        let mut times: BTreeMap<(u64, u64), Vec<chrono::DateTime<chrono::Utc>>> = BTreeMap::new();
        for report in reports {
            for (member, sent) in &report.message_times {
                times.entry(*member).or_default().extend(sent);
            }
        }
        let expected: BTreeMap<(u64, u64), ExpectedXp> = times
            .into_iter()
            .map(|(member, sent)| {
                let awards = load::awarded_messages(&sent, self.rules.cooldown);
                let xp = awards as i64 * self.rules.min;
                let expected = ExpectedXp {
                    messages: sent.len() as u64,
                    awards,
                    min_xp: xp,
                    max_xp: xp,
                };
                (member, expected)
            })
            .collect();
        assert!(!expected.is_empty(), "the traffic reached nobody");
        if let Err(wrong) =
            common::await_expected_xp(&*self.store, &self.guilds(), &expected, WAIT).await
        {
            panic!(
                "{} of {} members wrong, e.g.:\n{}\nkeeper's logs:\n{logs}",
                wrong.len(),
                expected.len(),
                wrong[..wrong.len().min(10)].join("\n")
            );
        }
    }

    async fn finish(mut self) {
        self.store.close().await;
        if let Some(backend) = self.backend.take() {
            backend.drop().await;
        }
    }
}

fn self_guilds(world: &LoadWorld) -> Vec<u64> {
    world.guilds.iter().map(|(g, _, _)| g.id()).collect()
}

/// Small guilds, steady chat: `rate` messages/s for `millis`.
fn traffic(guilds: usize, millis: u64) -> LoadConfig {
    LoadConfig {
        guilds,
        members_per_guild: 8,
        rate: 200,
        duration: Duration::from_millis(millis),
        command: None,
        seed: millis,
        ..LoadConfig::default()
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(false).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(true).await;
                }
            )*
        }
    };
}

on_both_backends!(
    sigterm_mid_traffic_flushes_and_exits_within_10_s,
    kill_9_mid_traffic_loses_nothing,
    kill_9_replays_what_the_cooldown_decided,
    sigterm_with_a_silent_database_still_exits_within_10_s,
    two_processes_share_the_shards,
    chat_under_load_is_never_answered_429,
);

/// Members chatting at 200 messages a second level up faster than Discord lets
/// Keeper announce it (here two messages per two seconds per channel, enforced
/// by the simulator): Keeper paces each channel by the rate-limit headers, so
/// none of its requests is answered 429 (each would count toward Discord's ban
/// of 10,000 invalid requests per 10 minutes), and every award is still stored.
async fn chat_under_load_is_never_answered_429(postgres: bool) {
    const POST: &str = "/channels/{channel_id}/messages";
    let stage = Stage::new(postgres, 1, 2).await;
    let limits = RateLimits::default().route("POST", POST, 2, Duration::from_secs(2));
    stage.sim.set_rate_limits(limits);
    let keeper = stage.start(1, &[]).await;
    let report = load::run(&stage.sim, &stage.world, &traffic(2, 4_000)).await;
    stage.check_xp(&[&report], &keeper.output()).await;
    // Let the announcements held back by the buckets go out.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    let mut posts: BTreeMap<String, usize> = BTreeMap::new();
    for r in stage.sim.requests() {
        if r.method == "POST" && r.route.ends_with(POST) {
            *posts.entry(r.path).or_default() += 1;
        }
    }
    // More than two windows' worth in a channel, or the test proves nothing.
    assert!(posts.values().any(|n| *n > 4), "too few posts: {posts:?}");
    assert_eq!(
        stage.sim.invalid_requests(),
        0,
        "Keeper was answered 401/403/429; its log:\n{log}"
    );
    stage.finish().await;
}

/// Two shards in one process against a simulator that paces identifies as
/// Discord does (`max_concurrency` 1): Keeper's identify queue sends them one
/// window apart, so Discord never has to refuse one. SQLite only: no storage is
/// involved, and each run waits out an identify window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_paces_its_identifies() {
    let stage = Stage::new(false, 2, 2).await;
    let keeper = stage.start(2, &[]).await;
    let counts = stage.sim.gateway_counts();
    assert_eq!(
        (counts.identifies, counts.identifies_too_fast),
        (2, 0),
        "{counts:?}; log:\n{}",
        keeper.output()
    );
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    stage.finish().await;
}

/// SIGTERM while members chat: exit 0 within 10 s with the session saved; the
/// messages sent while it was down are replayed at the next start.
async fn sigterm_mid_traffic_flushes_and_exits_within_10_s(postgres: bool) {
    let stage = Stage::new(postgres, 1, 2).await;
    let keeper = stage.start(1, &[]).await;
    let session_before = stage.sim.sessions()[0].id.clone();

    let during = traffic(2, 2_000);
    let (report, (status, log)) =
        tokio::join!(load::run(&stage.sim, &stage.world, &during), async {
            tokio::time::sleep(Duration::from_millis(1_000)).await;
            keeper.terminate(Duration::from_secs(10)).await
        });
    assert!(status.success(), "exit status {status}; log:\n{log}");
    let saved = stage
        .store
        .session(0)
        .await
        .unwrap()
        .expect("the session was saved at shutdown");
    assert_eq!(saved.session_id, session_before);
    assert!(saved.sequence > 0);

    let keeper = stage.start(1, &[]).await;
    assert_eq!(
        stage.sim.sessions()[0].id,
        session_before,
        "the restart resumed the session instead of starting a new one"
    );
    stage.check_xp(&[&report], &keeper.output()).await;
    keeper.terminate(Duration::from_secs(10)).await;
    stage.finish().await;
}

/// `kill -9` while members chat, more chat while it is down, then a restart: the
/// awards the crash lost from memory come back through RESUME, and nothing that
/// was already stored is counted again.
async fn kill_9_mid_traffic_loses_nothing(postgres: bool) {
    let stage = Stage::new(postgres, 1, 2).await;
    let keeper = stage.start(1, &[]).await;
    let session_before = stage.sim.sessions()[0].id.clone();

    let during = traffic(2, 2_000);
    let (report, ()) = tokio::join!(load::run(&stage.sim, &stage.world, &during), async {
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        keeper.kill9().await;
    });
    let while_down = load::run(&stage.sim, &stage.world, &traffic(2, 500)).await;

    let keeper = stage.start(1, &[]).await;
    assert_eq!(stage.sim.sessions()[0].id, session_before, "resumed");
    // At the resume_gateway_url stored with the checkpoint.
    let counts = stage.sim.gateway_counts();
    assert_eq!(
        (counts.resumes_at_resume_url, counts.resumes_elsewhere),
        (1, 0),
        "{counts:?}"
    );
    stage
        .check_xp(&[&report, &while_down], &keeper.output())
        .await;
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    stage.finish().await;
}

/// With a cooldown, `kill -9` and a restart: the messages Discord replays are
/// decided as the run that crashed decided them (the cooldown reads each
/// member's last award back from the store), so nobody earns early.
async fn kill_9_replays_what_the_cooldown_decided(postgres: bool) {
    // Every member speaks about 12 times a second: with a 1 s cooldown most
    // messages are refused, and the crash falls inside many members' cooldowns.
    let rules = XpRules {
        cooldown: Duration::from_secs(1),
        ..EXACT_RULES
    };
    let stage = Stage::with_rules(postgres, 1, 2, rules).await;
    let keeper = stage.start(1, &[]).await;
    let during = traffic(2, 3_000);
    let (report, ()) = tokio::join!(load::run(&stage.sim, &stage.world, &during), async {
        tokio::time::sleep(Duration::from_millis(1_600)).await;
        keeper.kill9().await;
    });
    let while_down = load::run(&stage.sim, &stage.world, &traffic(2, 500)).await;
    let keeper = stage.start(1, &[]).await;
    stage
        .check_xp(&[&report, &while_down], &keeper.output())
        .await;
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    stage.finish().await;
}

/// SIGTERM while the database is silent (PostgreSQL behind a black hole:
/// connections open, nothing answers; SQLite write-locked by another process)
/// and members chat: Keeper still exits within 10 s, acknowledges nothing it did
/// not store, and after a restart (the database back) Discord's replay brings
/// every award in, once.
async fn sigterm_with_a_silent_database_still_exits_within_10_s(postgres: bool) {
    let stage = Stage::new(postgres, 1, 2).await;
    let keeper = stage.start(1, &[]).await;
    let before = load::run(&stage.sim, &stage.world, &traffic(2, 500)).await;
    stage.check_xp(&[&before], &keeper.output()).await;
    let outage = common::Outage::SilentMidWrite
        .begin(stage.proxy.as_ref(), &stage.url)
        .await;
    let during = load::run(&stage.sim, &stage.world, &traffic(2, 1_000)).await;
    // `terminate` fails the test if the process is still running after 10 s.
    let (_status, log) = keeper.terminate(Duration::from_secs(10)).await;
    outage.end(stage.proxy.as_ref()).await;
    let keeper = stage.start(1, &[]).await;
    stage
        .check_xp(&[&before, &during], &format!("{log}\n{}", keeper.output()))
        .await;
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    stage.finish().await;
}

/// `--shards 0-1 --total-shards 4` and `--shards 2-3 --total-shards 4` in two
/// processes on one database: each guild is served exactly once.
async fn two_processes_share_the_shards(postgres: bool) {
    let stage = Stage::new(postgres, 4, 8).await;
    let first = stage.spawn(&[("KEEPER_SHARDS", "0-1"), ("KEEPER_TOTAL_SHARDS", "4")]);
    let second = stage.spawn(&[("KEEPER_SHARDS", "2-3"), ("KEEPER_TOTAL_SHARDS", "4")]);
    if let Err(err) = stage.sim.wait_connected(4, WAIT).await {
        panic!(
            "4 shards did not connect: {err}\nfirst:\n{}\nsecond:\n{}",
            first.output(),
            second.output()
        );
    }
    let mut shards: Vec<[u32; 2]> = stage.sim.sessions().iter().map(|s| s.shard).collect();
    shards.sort_unstable();
    assert_eq!(shards, [[0, 4], [1, 4], [2, 4], [3, 4]]);
    // Identifies are paced across both processes (max_concurrency 1): one that
    // came in the same window as the other process's was refused, and the
    // shard identified again later; each shard has one session.
    assert_eq!(stage.sim.gateway_counts().identifies, 4);
    stage
        .sim
        .wait_for_command("rank", WAIT)
        .await
        .expect("commands registered");

    // Guilds live on shard (id >> 22) % 4: both processes must have some to serve.
    let shard_of = |guild: u64| (guild >> 22) % 4;
    let guilds = stage.guilds();
    assert!(
        guilds.iter().any(|g| shard_of(*g) < 2),
        "no guild for the first process"
    );
    assert!(
        guilds.iter().any(|g| shard_of(*g) >= 2),
        "no guild for the second process"
    );

    let report = load::run(&stage.sim, &stage.world, &traffic(8, 1_500)).await;
    let logs = format!("first:\n{}\nsecond:\n{}", first.output(), second.output());
    stage.check_xp(&[&report], &logs).await;
    for keeper in [first, second] {
        let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
        assert!(status.success(), "{log}");
    }
    for shard in 0..4 {
        let saved = stage.store.session(shard).await.unwrap();
        assert!(saved.is_some(), "shard {shard}'s session was saved");
    }
    stage.finish().await;
}

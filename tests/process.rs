//! The real `keeper` binary as operators run it, against the simulator, on SQLite,
//! PostgreSQL and MySQL: SIGTERM mid-traffic, `kill -9` mid-traffic, and a guild set
//! split over two processes. After each, every member's stored XP must equal what
//! the simulator sent under the guild's rules: nothing lost, nothing counted twice.

mod common;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use common::{Backend, Db, EXACT_RULES, KeeperProcess};
use discord_sim::{
    Channel, Guild, Member, OptionValue, Sim, SimConfig, User,
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
    /// The URL Keeper gets: a database server (PostgreSQL, MySQL) through a
    /// proxy the test can silence.
    keeper_url: String,
    /// Set for every Keeper process of the stage (the pooler setting).
    keeper_env: Vec<(&'static str, &'static str)>,
    proxy: Option<common::DbProxy>,
}

impl Stage {
    async fn new(db: Db, shards: u32, guilds: usize) -> Self {
        Self::with_rules(db, shards, guilds, EXACT_RULES).await
    }

    async fn with_rules(db: Db, shards: u32, guilds: usize, rules: XpRules) -> Self {
        let (backend, url) = Backend::create(db).await;
        let proxy = match db.is_server() {
            true => Some(common::DbProxy::start(common::host_port(&url)).await),
            false => None,
        };
        let keeper_url = proxy.as_ref().map_or(url.clone(), |p| p.url_for(&url));
        let shape = traffic(guilds, 0);
        let mut stage = Self::on(backend, url, keeper_url, shards, &shape, rules).await;
        stage.proxy = proxy;
        stage
    }

    /// A stage whose Keeper processes reach PostgreSQL through PgBouncer in
    /// transaction mode, told so; `None` where PgBouncer is not here (the test
    /// is skipped, having said why; CI requires it). The test's own store
    /// connects directly.
    async fn through_pgbouncer(shards: u32, guilds: usize) -> Option<Self> {
        let (backend, pooled_url, url) = Backend::create_pooled().await?;
        let shape = traffic(guilds, 0);
        let mut stage = Self::on(backend, url, pooled_url, shards, &shape, EXACT_RULES).await;
        stage.keeper_env.push(("KEEPER_PG_POOLER", "transaction"));
        Some(stage)
    }

    /// A SQLite stage of one shard whose `guilds` have `members` members each
    /// (the others have 8).
    async fn crowded(guilds: usize, members: usize) -> Self {
        let (backend, url) = Backend::create(Db::Sqlite).await;
        let shape = LoadConfig {
            members_per_guild: members,
            ..traffic(guilds, 0)
        };
        Self::on(backend, url.clone(), url, 1, &shape, EXACT_RULES).await
    }

    /// The world is built to `shape` (its guilds and members).
    async fn on(
        backend: Backend,
        url: String,
        keeper_url: String,
        shards: u32,
        shape: &LoadConfig,
        rules: XpRules,
    ) -> Self {
        let sim = Sim::with_config(SimConfig {
            shards,
            ..SimConfig::fast()
        })
        .await;
        let world = load::build(&sim, shape).await;
        let dir = backend.scratch_dir();
        let store = common::open_store(&url).await;
        common::set_rules(&*store, self_guilds(&world), &rules).await;
        Self {
            sim,
            world,
            backend: Some(backend),
            url,
            dir,
            store,
            rules,
            keeper_url,
            keeper_env: Vec::new(),
            proxy: None,
        }
    }

    fn guilds(&self) -> Vec<u64> {
        self_guilds(&self.world)
    }

    fn spawn(&self, extra: &[(&str, &str)]) -> KeeperProcess {
        let env: Vec<(&str, &str)> = self.keeper_env.iter().chain(extra).copied().collect();
        KeeperProcess::spawn(&self.sim, &self.keeper_url, &self.dir, &env)
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

/// Each test once per backend.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Postgres).await;
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::MySql).await;
                }
            )*
        }
    };
}

on_every_backend!(
    sigterm_mid_traffic_flushes_and_exits_within_10_s,
    kill_9_mid_traffic_loses_nothing,
    kill_9_replays_what_the_cooldown_decided,
    sigterm_with_a_silent_database_still_exits_within_10_s,
    two_processes_share_the_shards,
    chat_under_load_is_never_answered_429,
    faults_then_kill_9_repeat_and_lose_nothing,
    kill_9_replays_joins_and_departures_once,
    a_temporary_ban_is_lifted_once_after_kill_9,
    an_escalation_cut_off_by_kill_9_is_carried_out_once,
    probes_say_alive_ready_and_what_happened,
    scheduled_backups_are_taken_once_and_restore,
);

/// Members chatting at 200 messages a second level up faster than Discord lets
/// Keeper announce it (here two messages per two seconds per channel, enforced
/// by the simulator): Keeper paces each channel by the rate-limit headers, so
/// none of its requests is answered 429 (each would count toward Discord's ban
/// of 10,000 invalid requests per 10 minutes), and every award is still stored.
async fn chat_under_load_is_never_answered_429(db: Db) {
    const POST: &str = "/channels/{channel_id}/messages";
    let stage = Stage::new(db, 1, 2).await;
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

/// Level-ups in 120 guilds for several seconds: each channel could post once
/// a second under its own limit, 120 a second together, over Discord's global
/// limit of 50 requests a second (enforced by the simulator, over its own
/// seconds). Keeper spaces its posts under it, so none is answered 429. (Posted
/// as fast as twilight's limiter allowed, 50 at the start of each of Keeper's
/// seconds, about 90 were in a run of the load benchmark.) SQLite only: no
/// storage is involved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_in_many_channels_stay_under_the_global_limit() {
    let stage = Stage::new(Db::Sqlite, 1, 120).await;
    let keeper = stage.start(1, &[]).await;
    let chat = LoadConfig {
        rate: 2_000,
        ..traffic(120, 8_000)
    };
    let report = load::run(&stage.sim, &stage.world, &chat).await;
    stage.check_xp(&[&report], &keeper.output()).await;
    // Let the announcements held back go out.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    let posts = stage
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.route.ends_with("/messages"))
        .count();
    // Several seconds at the global limit, or the test proves nothing.
    assert!(posts > 300, "too few posts: {posts}");
    assert_eq!(
        stage.sim.invalid_requests(),
        0,
        "Keeper was answered 401/403/429 ({posts} posts): {:?}; its log:\n{log}",
        stage.sim.invalid_requests_by_route()
    );
    stage.finish().await;
}

/// Two shards in one process against a simulator that paces identifies as
/// Discord does (`max_concurrency` 1): Keeper's identify queue sends them one
/// window apart, so Discord never has to refuse one. SQLite only: no storage is
/// involved, and each run waits out an identify window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_paces_its_identifies() {
    let stage = Stage::new(Db::Sqlite, 2, 2).await;
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
async fn sigterm_mid_traffic_flushes_and_exits_within_10_s(db: Db) {
    let stage = Stage::new(db, 1, 2).await;
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
async fn kill_9_mid_traffic_loses_nothing(db: Db) {
    kill_9_mid_traffic(Stage::new(db, 1, 2).await).await;
}

async fn kill_9_mid_traffic(stage: Stage) {
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

/// SQLite writes a flush of more than 256 members in parts, staged first with
/// the checkpoints (`xp_staged`). With 2,000 members chatting at 4,000 messages
/// a second, every flush is several parts, so the `kill -9` lands among them (or
/// in a staging): after the restart every member's XP is exact, nothing lost and
/// nothing counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_among_the_parts_of_sqlite_flushes_loses_nothing() {
    let stage = Stage::crowded(4, 500).await;
    let addr = common::free_addr();
    let keeper = stage
        .start(1, &[("KEEPER_HTTP_ADDR", addr.to_string().as_str())])
        .await;
    let busy = |millis| LoadConfig {
        rate: 4_000,
        ..traffic(4, millis)
    };
    let during = busy(2_000);
    let (report, text) = tokio::join!(load::run(&stage.sim, &stage.world, &during), async {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let scraped = common::http_get(addr, "/metrics").await;
        keeper.kill9().await;
        scraped.expect("/metrics answers").1
    });
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"));
    let flushes = scrape
        .samples
        .iter()
        .find_map(|s| match &s.value {
            prometheus_parse::Value::Histogram(b) if s.metric == "keeper_xp_flush_members" => {
                Some(b.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no flush sizes:\n{text}"));
    let up_to_256 = flushes
        .iter()
        .find(|b| b.less_than == 256.0)
        .map(|b| b.count);
    let (Some(small), Some(all)) = (up_to_256, flushes.last().map(|b| b.count)) else {
        panic!("no 256-member bucket in the flush sizes:\n{text}");
    };
    assert!(
        small < all,
        "no flush wrote more than 256 members, so none was in parts:\n{text}"
    );

    let while_down = load::run(&stage.sim, &stage.world, &busy(500)).await;
    let keeper = stage.start(1, &[]).await;
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
async fn kill_9_replays_what_the_cooldown_decided(db: Db) {
    // Every member speaks about 12 times a second: with a 1 s cooldown most
    // messages are refused, and the crash falls inside many members' cooldowns.
    let rules = XpRules {
        cooldown: Duration::from_secs(1),
        ..EXACT_RULES
    };
    let stage = Stage::with_rules(db, 1, 2, rules).await;
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

/// SIGTERM while the database is silent (a server behind a black hole:
/// connections open, nothing answers; SQLite write-locked by another process)
/// and members chat: Keeper still exits within 10 s, acknowledges nothing it did
/// not store, and after a restart (the database back) Discord's replay brings
/// every award in, once.
async fn sigterm_with_a_silent_database_still_exits_within_10_s(db: Db) {
    let stage = Stage::new(db, 1, 2).await;
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
async fn two_processes_share_the_shards(db: Db) {
    let stage = Stage::new(db, 4, 8).await;
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
    // Identifies are paced across both processes (max_concurrency 1) by the
    // claims in the database: each shard has one session, and none came
    // inside another's window (the simulator refuses those, as Discord does).
    let counts = stage.sim.gateway_counts();
    assert_eq!(
        (counts.identifies, counts.identifies_too_fast),
        (4, 0),
        "{counts:?}"
    );
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

/// Everything a flaky Discord and database do to a shard, in one run, then
/// `kill -9` and a restart. While members chat, Discord asks for a resume (op 9,
/// resumable), drops the connection and sends op 7, and the database refuses
/// a flush; between bursts of chat it closes with 4009 and sends a
/// non-resumable op 9 (events sent while no session exists never reach a bot,
/// on Discord as here, so chat pauses until the new session is up). Members
/// join and an admin runs `/xp add` after each fault. Then `kill -9`, chat while
/// Keeper is down, a restart that resumes (Discord sends no GUILD_CREATE then):
/// every member's XP is exact, every `/xp add` applied once, every newcomer
/// welcomed once, and the welcome after the restart names the guild and counts
/// its members right.
async fn faults_then_kill_9_repeat_and_lose_nothing(db: Db) {
    let stage = Stage::new(db, 1, 2).await;
    // Joins and commands in a guild of their own: the chat guilds' members
    // must hold exactly what they said.
    let guild = &stage.sim.guild("chaos").await;
    let general = &guild.text_channel("general");
    let welcome = guild.text_channel("welcome");
    let patch = keeper_store::SettingsPatch {
        welcome_channel: Some(Some(twilight_model::id::Id::new(welcome.id()))),
        welcome_message: Some(Some("{user} is member #{member_count} of {server}".into())),
        ..Default::default()
    };
    let guild_id = twilight_model::id::Id::new(guild.id());
    stage
        .store
        .update_settings(guild_id, &patch, chrono::Utc::now())
        .await
        .unwrap();
    let chaos = Chaos {
        sim: &stage.sim,
        guild,
        general,
        welcome: &welcome,
        admin: guild.owner(),
        target: guild.member("quiet"),
    };
    let keeper = stage.start(1, &[]).await;
    let burst = traffic(2, 1_500);
    let mut reports = Vec::new();
    let mut newcomers = Vec::new();

    // During chat: op 9 (resumable) and a dropped connection.
    let (report, ()) = tokio::join!(load::run(&stage.sim, &stage.world, &burst), async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        stage.sim.send_invalid_session(true);
        tokio::time::sleep(Duration::from_millis(500)).await;
        stage.sim.disconnect_all();
    });
    reports.push(report);
    newcomers.push(chaos.newcomer_and_add(0).await);

    // Between bursts: 4009, the session gone.
    chaos.new_session_after(|sim| sim.close_all(4009)).await;
    newcomers.push(chaos.newcomer_and_add(1).await);

    // During chat: the database refuses for a while, then op 7.
    let (report, ()) = tokio::join!(load::run(&stage.sim, &stage.world, &burst), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let outage = common::Outage::Down
            .begin(stage.proxy.as_ref(), &stage.url)
            .await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        outage.end(stage.proxy.as_ref()).await;
        stage.sim.send_reconnect();
    });
    reports.push(report);
    newcomers.push(chaos.newcomer_and_add(2).await);

    // Between bursts: op 9, not resumable.
    chaos
        .new_session_after(|sim| sim.send_invalid_session(false))
        .await;
    newcomers.push(chaos.newcomer_and_add(3).await);

    // A new name, told by GUILD_UPDATE before the crash: after it, Keeper
    // must still know it.
    guild.rename("Chaos, renamed");
    // During chat: kill -9, then chat while Keeper is down.
    let (report, ()) = tokio::join!(load::run(&stage.sim, &stage.world, &burst), async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        keeper.kill9().await;
    });
    reports.push(report);
    reports.push(load::run(&stage.sim, &stage.world, &traffic(2, 500)).await);

    let keeper = stage.start(1, &[]).await;
    let logs = keeper.output();
    stage
        .check_xp(&reports.iter().collect::<Vec<_>>(), &logs)
        .await;
    newcomers.push(chaos.newcomer(4).await);
    chaos.check(&newcomers, &stage.store, &logs).await;
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    stage.finish().await;
}

/// Joins and departures replayed after a crash move the member count once.
/// Keeper runs with its checkpoint frozen (no XP flush: the stored checkpoint
/// is the one the previous run closed with), members join, leave, and one
/// leaves and comes back; then `kill -9`, and a restart that resumes from the
/// frozen checkpoint, so Discord delivers every one of those events again.
/// The member count stored and the one the next welcome gives are the guild's.
async fn kill_9_replays_joins_and_departures_once(db: Db) {
    let stage = Stage::new(db, 1, 1).await;
    let guild = &stage.sim.guild("comings").await;
    let welcome = &guild.text_channel("welcome");
    let patch = keeper_store::SettingsPatch {
        welcome_channel: Some(Some(twilight_model::id::Id::new(welcome.id()))),
        welcome_message: Some(Some("{user} is member #{member_count} of {server}".into())),
        ..Default::default()
    };
    let guild_id = twilight_model::id::Id::new(guild.id());
    stage
        .store
        .update_settings(guild_id, &patch, chrono::Utc::now())
        .await
        .unwrap();
    // A first run stores its checkpoint as it closes (resumable).
    let keeper = stage.start(1, &[]).await;
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");

    let frozen = [("KEEPER_XP_FLUSH_MS", "3600000")];
    let keeper = stage.start(1, &frozen).await;
    let join = |user: User| async move {
        let member = user.joins(guild).await;
        welcomed(welcome, &member, guild).await;
        member
    };
    let ann = stage.sim.user("ann");
    join(ann.clone()).await.leaves();
    let bob = join(stage.sim.user("bob")).await;
    join(stage.sim.user("cid")).await;
    bob.leaves();
    let ann = join(ann).await;
    // The count is stored by the time a later join is welcomed (one queue).
    join(stage.sim.user("dee")).await;
    assert_eq!(
        stored_members(&stage.store, guild_id).await,
        guild.member_count() as u64
    );
    keeper.kill9().await;

    let keeper = stage.start(1, &[]).await;
    let logs = keeper.output();
    let eve = join(stage.sim.user("eve")).await;
    assert_eq!(
        stored_members(&stage.store, guild_id).await,
        guild.member_count() as u64,
        "logs:\n{logs}"
    );
    let posted = welcome.bot_messages();
    for (member, times) in [(&ann, 2), (&eve, 1)] {
        let welcomes = posted
            .iter()
            .filter(|m| m.content.contains(&member.mention()))
            .count();
        assert_eq!(welcomes, times, "{}: {posted:?}", member.mention());
    }
    assert_eq!(posted.len(), 6, "{posted:?}");
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    stage.finish().await;
}

/// Wait for the newest welcome of `member`, and check it gives the guild's
/// member count.
async fn welcomed(welcome: &Channel, member: &Member, guild: &Guild) {
    let expected = guild.member_count() as u64;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let posted = welcome.bot_messages();
        let counts: Vec<u64> = posted
            .iter()
            .filter(|m| m.content.contains(&member.mention()))
            .map(|m| member_count(&m.content, guild))
            .collect();
        if counts.contains(&expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} not welcomed as member #{expected}; welcomes: {posted:?}",
            member.mention()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stored_members(
    store: &Arc<dyn Store>,
    guild: twilight_model::id::Id<twilight_model::id::marker::GuildMarker>,
) -> u64 {
    let all = store.all_guilds().await.unwrap();
    let facts = all.iter().find(|f| f.guild_id == guild);
    facts.expect("the guild is stored").member_count
}

/// The people and channels of the faults test, and what it does between faults.
struct Chaos<'a> {
    sim: &'a Sim,
    guild: &'a Guild,
    general: &'a Channel,
    welcome: &'a Channel,
    admin: Member,
    /// The member every `/xp add` is for.
    target: Member,
}

/// What each `/xp add` gives.
const ADD: i64 = 10;

impl Chaos<'_> {
    /// Cause a fault that ends the session, and wait for its successor.
    async fn new_session_after(&self, fault: impl FnOnce(&Sim)) {
        let old = self.sim.sessions()[0].id.clone();
        fault(self.sim);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let sessions = self.sim.sessions();
            if sessions.len() == 1 && sessions[0].id != old && sessions[0].connected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no new session after the fault: {sessions:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A member joins (and is welcomed), then an admin runs `/xp add`.
    async fn newcomer_and_add(&self, n: usize) -> (u64, u64) {
        let newcomer = self.newcomer(n).await;
        let add = [
            ("user", OptionValue::User(self.target.id())),
            ("amount", OptionValue::Integer(ADD)),
        ];
        let ran = self.admin.runs(self.general, "xp add", add).await;
        let answer = ran.message(WAIT).await.expect("/xp add answered");
        assert!(answer.content.contains("XP"), "{}", answer.content);
        newcomer
    }

    /// A member joins; the welcome posted for them, and the member count it
    /// gave.
    async fn newcomer(&self, n: usize) -> (u64, u64) {
        let user = self.sim.user(&format!("newcomer-{n}"));
        let member = user.joins(self.guild).await;
        let mention = format!("<@{}>", member.id());
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let posted = self.welcome.bot_messages();
            if let Some(m) = posted.iter().find(|m| m.content.contains(&mention)) {
                let count = member_count(&m.content, self.guild);
                assert_eq!(count, self.guild.member_count() as u64, "{}", m.content);
                return (member.id(), count);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "newcomer {n} was not welcomed; welcomes: {posted:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every newcomer welcomed once, counted one after the other, and every
    /// `/xp add` applied once.
    async fn check(&self, newcomers: &[(u64, u64)], store: &Arc<dyn Store>, logs: &str) {
        let posted = self.welcome.bot_messages();
        for (user, _) in newcomers {
            let welcomes = posted
                .iter()
                .filter(|m| m.content.contains(&format!("<@{user}>")))
                .count();
            assert_eq!(
                welcomes, 1,
                "<@{user}> welcomed {welcomes} times: {posted:?}"
            );
        }
        let counts: Vec<u64> = newcomers.iter().map(|(_, count)| *count).collect();
        let first = counts[0];
        let consecutive: Vec<u64> = (first..first + counts.len() as u64).collect();
        assert_eq!(
            counts, consecutive,
            "member counts in the welcomes: {posted:?}"
        );
        let adds = newcomers.len() as i64 - 1;
        let rank = store
            .member_rank(
                twilight_model::id::Id::new(self.guild.id()),
                twilight_model::id::Id::new(self.target.id()),
            )
            .await
            .unwrap();
        let xp = rank.map_or(0, |r| r.member.xp);
        assert_eq!(xp, adds * ADD, "/xp add applied once each; logs:\n{logs}");
    }
}

/// The member count a welcome gives, checking it names the guild as it is
/// named now.
fn member_count(welcome: &str, guild: &Guild) -> u64 {
    let name = guild.name();
    assert!(welcome.ends_with(&format!(" of {name}")), "{welcome}");
    let count = welcome
        .split("member #")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok());
    count.unwrap_or_else(|| panic!("no member count in {welcome:?}"))
}

/// A temporary ban whose end passes while Keeper is down (killed with
/// `kill -9`) is lifted once Keeper is back, exactly once.
async fn a_temporary_ban_is_lifted_once_after_kill_9(db: Db) {
    let stage = Stage::new(db, 1, 1).await;
    let guild = &stage.sim.guild("bans").await;
    let carl = guild.member("carl");
    let guild_id = twilight_model::id::Id::new(guild.id());
    let keeper = stage.start(1, &[]).await;

    let now = chrono::Utc::now();
    let mut ban = keeper_store::NewCase::new(
        guild_id,
        twilight_model::id::Id::new(carl.id()),
        twilight_model::id::Id::new(guild.owner().id()),
        keeper_store::CaseKind::Ban,
        now,
    );
    ban.expires_at = Some(now + chrono::Duration::seconds(3));
    ban.duration_secs = Some(3);
    stage.store.add_case(&ban, None).await.unwrap();
    guild.ban_by(&guild.owner(), &carl, Some("Case #1"));
    stage
        .store
        .set_action_status(guild_id, 1, keeper_store::ActionOutcome::Done)
        .await
        .unwrap();
    keeper.kill9().await;
    assert!(guild.is_banned(&carl));
    tokio::time::sleep(Duration::from_secs(3)).await;

    let keeper = stage.start(1, &[]).await;
    wait_for(&keeper, "the lift", || !guild.is_banned(&carl)).await;
    // Time for a second lift, were there one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lifts = audit_entries(guild, |r| r == "Case #1: temporary ban ended");
    assert_eq!(lifts, 1, "{:?}", guild.audit_log());
    let case = stage
        .store
        .case(guild_id, 1)
        .await
        .unwrap()
        .expect("the ban");
    assert_eq!(case.lift_status, Some(keeper_store::LiftStatus::Lifted));
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    stage.finish().await;
}

/// `kill -9` after an escalation is recorded and before Discord answers (the
/// ban request is never answered): the case stays pending, and the next start
/// carries it out, once; the ban coming back on the gateway records nothing
/// more.
async fn an_escalation_cut_off_by_kill_9_is_carried_out_once(db: Db) {
    use discord_sim::permissions::bits;
    use keeper_store::{ActionStatus, CaseKind, EscalationAction, EscalationRule};
    use twilight_model::id::Id;

    let stage = Stage::new(db, 1, 1).await;
    let guild = &stage.sim.guild("escalation").await;
    let general = guild.text_channel("general");
    let mods = guild.role("Mods", bits::MODERATE_MEMBERS);
    guild.set_role_position(&mods, 5);
    let mia = guild.member("mia").with_role(&mods);
    let carl = guild.member("carl");
    let guild_id = Id::new(guild.id());
    let rule = EscalationRule {
        guild_id,
        warnings: 2,
        action: EscalationAction::Ban,
        duration_secs: None,
    };
    stage.store.set_escalation(&rule).await.unwrap();
    let keeper = stage.start(1, &[]).await;
    let warn = |reason: &str| {
        [
            ("user", OptionValue::User(carl.id())),
            ("reason", OptionValue::String(reason.to_owned())),
        ]
    };
    let answer = mia
        .runs(&general, "warn", warn("one"))
        .await
        .message(WAIT)
        .await;
    assert!(
        answer.as_ref().is_ok_and(|a| a.content.contains("case #1")),
        "{answer:?}; logs:\n{}",
        keeper.output()
    );

    stage.sim.never_answer_next("PUT", "/bans/");
    let _second = mia.runs(&general, "warn", warn("two")).await;
    wait_for(&keeper, "the ban's request", || stage.sim.faults_met()).await;
    let ban = stage
        .store
        .case(guild_id, 3)
        .await
        .unwrap()
        .expect("the escalation");
    assert_eq!(
        (ban.kind, ban.escalated_from, ban.action_status),
        (CaseKind::Ban, Some(2), ActionStatus::Pending)
    );
    keeper.kill9().await;
    assert!(!guild.is_banned(&carl), "the ban was never carried out");

    let keeper = stage.start(1, &[]).await;
    wait_for(&keeper, "the ban", || guild.is_banned(&carl)).await;
    // Time for a second ban, or for its echo to be recorded, were there one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bans = audit_entries(guild, |r| r.starts_with("Case #3"));
    assert_eq!(bans, 1, "{:?}", guild.audit_log());
    let ban = stage
        .store
        .case(guild_id, 3)
        .await
        .unwrap()
        .expect("the escalation");
    assert_eq!(ban.action_status, ActionStatus::Done);
    let cases = stage.store.cases(guild_id, None, 10).await.unwrap();
    assert_eq!(cases.len(), 3, "{cases:?}");
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    stage.finish().await;
}

/// Wait until `done`, failing with `keeper`'s logs after [`WAIT`].
async fn wait_for(keeper: &KeeperProcess, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never came; logs:\n{}",
            keeper.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many of `guild`'s audit log entries have a reason that `matches`.
fn audit_entries(guild: &Guild, matches: impl Fn(&str) -> bool) -> usize {
    guild
        .audit_log()
        .iter()
        .filter(|e| e.reason.as_deref().is_some_and(&matches))
        .count()
}

/// The files a process logged as scheduled backups, in order.
fn scheduled_files(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("scheduled backup written"))
        .filter_map(|l| {
            let file = l.split("file=").nth(1)?.split_whitespace().next()?;
            Some(file.trim_matches('"').to_owned())
        })
        .collect()
}

/// The period (its start, seconds since the epoch) of each scheduled backup a
/// process's log says it wrote. Not the second in the file's name: that is
/// when the writing began, which under load can fall in the next period.
fn scheduled_periods(log: &str) -> Vec<i64> {
    log.lines()
        .filter(|l| l.contains("scheduled backup written"))
        .filter_map(|l| {
            l.split("period=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// `keeper-sqlite-20261201T001504Z.db` -> seconds since the epoch.
fn named_second(file: &str) -> i64 {
    let name = std::path::Path::new(file)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let time = name.rsplit_once('-').unwrap().1.split_once('.').unwrap().0;
    chrono::NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%SZ")
        .unwrap()
        .and_utc()
        .timestamp()
}

/// The restore drill: `backup` restored by `keeper restore` into an empty
/// database equals, table by table (rows and checksum), what the backup holds
/// read another way: SQLite opened as it is (on a copy), PostgreSQL through
/// `pg_restore` itself, MySQL through its own client. The backup must hold
/// members (taken under traffic).
async fn drill(db: Db, backup: &str) {
    let (target, target_url) = Backend::create(db).await;
    let restored = std::process::Command::new(env!("CARGO_BIN_EXE_keeper"))
        .args(["restore", backup, "--to", &target_url])
        .env("KEEPER_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let (reference, reference_url) = Backend::create(db).await;
    match db {
        Db::Postgres => {
            let out = std::process::Command::new("pg_restore")
                .args(["--no-owner", "--dbname", &reference_url, backup])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Db::MySql => common::load_mysql_dump(&reference_url, backup.as_ref()),
        Db::Sqlite => {
            let path = reference_url.trim_start_matches("sqlite://");
            std::fs::copy(backup, path).unwrap();
        }
    }
    let restored = common::open_store(&target_url).await;
    let original = common::open_store(&reference_url).await;
    let members = original.table_counts().await.unwrap();
    assert!(
        members.iter().any(|(t, n)| *t == "member_xp" && *n > 0),
        "the backup was taken under traffic: {members:?}"
    );
    for table in keeper_store::transfer::Table::ALL {
        let want = keeper_store::transfer::digest_table(&*original, table, 500)
            .await
            .unwrap();
        let got = keeper_store::transfer::digest_table(&*restored, table, 500)
            .await
            .unwrap();
        assert_eq!(got, want, "{table:?}");
    }
    restored.close().await;
    original.close().await;
    reference.drop().await;
    target.drop().await;
}

/// Two processes on one database, each with `KEEPER_BACKUP_EVERY=2s` and its
/// own directory, while members chat: each period's backup is taken by
/// exactly one of them (no two backups in one period, however many processes),
/// each directory keeps its newest two, and the newest backup, taken under
/// traffic, restores into an empty database with `keeper restore`, equal
/// table for table to the backup itself (the drill, from a scheduled backup);
/// and so does a `keeper backup` run by hand during the traffic.
async fn scheduled_backups_are_taken_once_and_restore(db: Db) {
    let stage = Stage::new(db, 2, 6).await;
    let dirs = [stage.dir.join("backups-a"), stage.dir.join("backups-b")];
    let spawn = |shard: &str, dir: &std::path::Path| {
        stage.spawn(&[
            ("KEEPER_SHARDS", shard),
            ("KEEPER_TOTAL_SHARDS", "2"),
            ("KEEPER_BACKUP_EVERY", "2s"),
            ("KEEPER_BACKUP_DIR", dir.to_str().unwrap()),
            ("KEEPER_BACKUP_KEEP", "2"),
        ])
    };
    let first = spawn("0", &dirs[0]);
    let second = spawn("1", &dirs[1]);
    if let Err(err) = stage.sim.wait_connected(2, WAIT).await {
        panic!("{err}\n{}\n{}", first.output(), second.output());
    }
    // `keeper backup` run by hand in the middle of the traffic.
    let (url, manual_dir) = (stage.url.clone(), stage.dir.join("backups-manual"));
    let manual = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&manual_dir).unwrap();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_keeper"))
                .args(["backup", "--out", manual_dir.to_str().unwrap()])
                .env("DATABASE_URL", &url)
                .env("KEEPER_LOG", "warn")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let file = std::fs::read_dir(&manual_dir)
                .unwrap()
                .next()
                .unwrap()
                .unwrap();
            file.path().display().to_string()
        })
        .await
        .unwrap()
    });
    load::run(&stage.sim, &stage.world, &traffic(6, 7_000)).await;
    let mut logs = Vec::new();
    for keeper in [first, second] {
        let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
        assert!(status.success(), "{log}");
        logs.push(log);
    }
    let written: Vec<Vec<String>> = logs.iter().map(|l| scheduled_files(l)).collect();
    let mut periods: Vec<i64> = logs.iter().flat_map(|l| scheduled_periods(l)).collect();
    assert_eq!(
        periods.len(),
        written.iter().flatten().count(),
        "every backup written names its period: {logs:?}"
    );
    periods.sort_unstable();
    assert!(periods.len() >= 3, "backups every 2 s for 7 s: {written:?}");
    let before = periods.len();
    periods.dedup();
    assert_eq!(
        periods.len(),
        before,
        "a period backed up twice: {written:?}"
    );

    for (dir, written) in dirs.iter().zip(&written) {
        let mut kept: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path().display().to_string())
                    .filter(|p| !p.ends_with(".partial"))
                    .collect()
            })
            .unwrap_or_default();
        kept.sort();
        let newest: Vec<String> = written.iter().rev().take(2).rev().cloned().collect();
        assert_eq!(kept, newest, "{} keeps its newest two", dir.display());
    }

    // The drill: the newest scheduled backup into an empty database.
    let newest = written
        .iter()
        .flatten()
        .max_by_key(|f| named_second(f))
        .unwrap()
        .clone();
    // `keeper check` names it as the newest written. A period whose backup the
    // SIGTERM above cut short is listed before it, "under way, or its process
    // stopped", with no file.
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_keeper"))
        .arg("check")
        .env("DATABASE_URL", &stage.url)
        .env("KEEPER_LOG", "warn")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    let listed = said
        .lines()
        .skip_while(|l| !l.starts_with("scheduled backups"))
        .skip(1)
        .find(|l| l.contains("written:"))
        .unwrap_or_default();
    assert!(listed.contains(&format!("written: {newest}")), "{said}");
    drill(db, &newest).await;
    // And the backup an operator took with `keeper backup` during the traffic.
    let manual = manual.await.unwrap();
    drill(db, &manual).await;
    stage.finish().await;
}

/// `/readyz` until it answers `want` (the last answer when it never does).
async fn await_ready(addr: std::net::SocketAddr, want: u16) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = common::http_get(addr, "/readyz")
            .await
            .unwrap_or((0, String::new()));
        if answer.0 == want || tokio::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One sample of a scrape, by name and labels.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(ref buckets) => {
                buckets.last().map_or(0.0, |b| b.count)
            }
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

/// `KEEPER_HTTP_ADDR`: `/healthz` answers while the process runs; `/readyz`
/// once both shards have their sessions and the database answers, and (on a
/// server, PostgreSQL or MySQL, whose connection the test can cut) 503 naming the database while
/// it does not, then 200 again; `/metrics` parses as Prometheus text and counts
/// what happened: the messages, the commands by outcome, the flushes and the
/// members they wrote, the shards' sessions, the interaction callbacks.
async fn probes_say_alive_ready_and_what_happened(db: Db) {
    let stage = Stage::new(db, 2, 4).await;
    let addr = common::free_addr();
    let keeper = stage
        .start(2, &[("KEEPER_HTTP_ADDR", addr.to_string().as_str())])
        .await;
    let (status, body) = common::http_get(addr, "/healthz")
        .await
        .expect("/healthz answers");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, body) = await_ready(addr, 200).await;
    assert_eq!(status, 200, "not ready: {body}\n{}", keeper.output());

    let config = LoadConfig {
        command: Some("rank".to_owned()),
        command_every: 10,
        ..traffic(4, 1_500)
    };
    let report = load::run(&stage.sim, &stage.world, &config).await;
    assert!(report.commands_answered > 0, "{report:?}");
    stage.check_xp(&[&report], &keeper.output()).await;

    // The flusher sets the waiting gauge after its commit returns, so the
    // database can show every award a moment before the gauge says 0.
    let deadline = tokio::time::Instant::now() + WAIT;
    let (text, scrape) = loop {
        let (status, text) = common::http_get(addr, "/metrics")
            .await
            .expect("/metrics answers");
        assert_eq!(status, 200);
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"));
        let waiting = sample(&scrape, "keeper_xp_awards_waiting", &[]);
        if waiting == Some(0.0) || tokio::time::Instant::now() >= deadline {
            break (text, scrape);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let messages = sample(
        &scrape,
        "keeper_gateway_events_total",
        &[("event", "MESSAGE_CREATE")],
    )
    .unwrap_or_else(|| panic!("no message count:\n{text}"));
    assert!(
        messages >= report.messages_sent as f64,
        "{messages} MESSAGE_CREATE counted, {} sent",
        report.messages_sent
    );
    let ranks = sample(
        &scrape,
        "keeper_commands_total",
        &[("command", "rank"), ("outcome", "done")],
    );
    assert_eq!(ranks, Some(report.commands_answered as f64), "{text}");
    let answered = sample(
        &scrape,
        "keeper_rest_requests_total",
        &[("route", "interaction_callback"), ("status", "204")],
    );
    assert_eq!(answered, Some(report.commands_answered as f64), "{text}");
    for shard in ["0", "1"] {
        assert_eq!(
            sample(&scrape, "keeper_shard_up", &[("shard", shard)]),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &scrape,
                "keeper_shard_sessions_total",
                &[("shard", shard), ("how", "identify")]
            ),
            Some(1.0),
            "{text}"
        );
    }
    let flushes = sample(&scrape, "keeper_xp_flush_members", &[]).unwrap_or(0.0);
    assert!(flushes >= 1.0, "no flush wrote members:\n{text}");
    assert_eq!(
        sample(&scrape, "keeper_xp_awards_waiting", &[]),
        Some(0.0),
        "{text}"
    );
    let commands_timed = sample(
        &scrape,
        "keeper_command_duration_seconds",
        &[("command", "rank")],
    );
    assert_eq!(
        commands_timed,
        Some(report.commands_answered as f64),
        "{text}"
    );
    // Every store operation is timed by name: each /rank read its member's
    // rank once, and the flushes wrote awards.
    let operation = |name| {
        sample(
            &scrape,
            "keeper_database_duration_seconds",
            &[("operation", name)],
        )
    };
    assert_eq!(
        operation("member_rank"),
        Some(report.commands_answered as f64),
        "{text}"
    );
    assert!(operation("award_xp").unwrap_or(0.0) >= flushes, "{text}");

    if let Some(proxy) = stage.proxy.as_ref() {
        proxy.down();
        let (status, body) = await_ready(addr, 503).await;
        assert_eq!(status, 503, "still ready with the database cut off: {body}");
        assert!(body.contains("database"), "{body}");
        proxy.up();
        let (status, body) = await_ready(addr, 200).await;
        assert_eq!(status, 200, "not ready again: {body}");
        // The failed health checks are counted: refused (unavailable), or cut
        // off by /readyz's deadline (abandoned).
        let (_, text) = common::http_get(addr, "/metrics").await.unwrap();
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .expect("the metrics parse");
        let failed = |kind| {
            sample(
                &scrape,
                "keeper_database_errors_total",
                &[("operation", "health_check"), ("kind", kind)],
            )
            .unwrap_or(0.0)
        };
        assert!(failed("unavailable") + failed("abandoned") >= 1.0, "{text}");
    }
    let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{log}");
    stage.finish().await;
}

/// The cluster of `docker-compose.yml` on one PostgreSQL: 4 processes of 2
/// shards each (8 in all), identifies paced by the simulator as on Discord.
/// Every shard runs once and no IDENTIFY is refused; one process is killed
/// with `kill -9` while members chat and restarted: its two shards resume and
/// the other six are not disturbed; then a rolling restart (SIGTERM, start,
/// wait until its shards are back, next) while members keep chatting: each
/// restart resumes, every process exits 0, and every member's XP is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_survives_kill_9_and_a_rolling_restart() {
    cluster_survives(Stage::new(Db::Postgres, 8, 16).await).await;
}

/// Through PgBouncer in transaction mode, as operators at scale run it: the
/// flushes, identify claims and session saves of a cluster keep to one
/// transaction each and trip on no other process's statements.
mod pgbouncer {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cluster_survives_kill_9_and_a_rolling_restart() {
        if let Some(stage) = Stage::through_pgbouncer(8, 16).await {
            cluster_survives(stage).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kill_9_mid_traffic_loses_nothing() {
        if let Some(stage) = Stage::through_pgbouncer(1, 2).await {
            kill_9_mid_traffic(stage).await;
        }
    }
}

async fn cluster_survives(stage: Stage) {
    const SLICES: [&str; 4] = ["0-1", "2-3", "4-5", "6-7"];
    let spawn = |slice: &'static str| {
        stage.spawn(&[("KEEPER_SHARDS", slice), ("KEEPER_TOTAL_SHARDS", "8")])
    };
    // Resumes of each shard's one session so far.
    let attachments = || {
        let mut by_shard: BTreeMap<u32, u64> = BTreeMap::new();
        for session in stage.sim.sessions() {
            assert!(
                by_shard
                    .insert(session.shard[0], session.attachments)
                    .is_none(),
                "shard {} has two sessions",
                session.shard[0]
            );
        }
        by_shard
    };
    let mut keepers: Vec<KeeperProcess> = SLICES.iter().map(|s| spawn(s)).collect();
    all_connected(&stage, &keepers).await;
    let counts = stage.sim.gateway_counts();
    assert_eq!(
        (counts.identifies, counts.identifies_too_fast),
        (8, 0),
        "{counts:?}"
    );
    assert_eq!(attachments(), (0..8).map(|s| (s, 1)).collect());
    let shard_of = |guild: u64| (guild >> 22) % 8;
    let served: std::collections::BTreeSet<u64> =
        stage.guilds().iter().map(|g| shard_of(*g)).collect();
    assert!(
        served.len() >= 4,
        "the guilds fall on shards {served:?} only"
    );

    // kill -9 the second process mid-traffic; chat while it is down; restart.
    let (chat, short_chat, long_chat) = (traffic(16, 2_000), traffic(16, 500), traffic(16, 6_000));
    let (during, ()) = tokio::join!(load::run(&stage.sim, &stage.world, &chat), async {
        tokio::time::sleep(Duration::from_millis(900)).await;
        keepers.remove(1).kill9().await;
    });
    let while_down = load::run(&stage.sim, &stage.world, &short_chat).await;
    keepers.insert(1, spawn(SLICES[1]));
    all_connected(&stage, &keepers).await;
    let after_kill: BTreeMap<u32, u64> = (0..8)
        .map(|s| (s, if s / 2 == 1 { 2 } else { 1 }))
        .collect();
    assert_eq!(
        attachments(),
        after_kill,
        "only the killed process's shards resumed"
    );

    // Rolling restart while members chat.
    let (rolling, ()) = tokio::join!(load::run(&stage.sim, &stage.world, &long_chat), async {
        for (i, slice) in SLICES.iter().enumerate() {
            let (status, log) = keepers.remove(i).terminate(Duration::from_secs(10)).await;
            assert!(status.success(), "process {i} on SIGTERM:\n{log}");
            keepers.insert(i, spawn(slice));
            all_connected(&stage, &keepers).await;
        }
    });
    let restarted: BTreeMap<u32, u64> = after_kill.iter().map(|(s, n)| (*s, n + 1)).collect();
    assert_eq!(attachments(), restarted, "each restart resumed");
    let counts = stage.sim.gateway_counts();
    assert_eq!(
        (counts.identifies, counts.identifies_too_fast),
        (8, 0),
        "{counts:?}"
    );
    assert_eq!(counts.resumes_elsewhere, 0, "{counts:?}");

    stage
        .check_xp(&[&during, &while_down, &rolling], &outputs(&keepers))
        .await;
    for keeper in keepers {
        let (status, log) = keeper.terminate(Duration::from_secs(10)).await;
        assert!(status.success(), "{log}");
    }
    stage.finish().await;
}

/// Every process's log, one after the other.
fn outputs(keepers: &[KeeperProcess]) -> String {
    keepers
        .iter()
        .map(KeeperProcess::output)
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Wait until the simulator has all 8 shards connected.
async fn all_connected(stage: &Stage, keepers: &[KeeperProcess]) {
    if let Err(err) = stage.sim.wait_connected(8, WAIT).await {
        panic!("8 shards did not connect: {err}\n{}", outputs(keepers));
    }
}

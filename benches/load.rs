//! The load benchmark: the simulator's load mode driving the real `keeper` binary
//! (a child process, built in release by `cargo bench`), on SQLite, PostgreSQL
//! or MySQL.
//!
//! ```sh
//! cargo bench --bench load                       # SQLite and PostgreSQL, defaults below
//! cargo bench --bench load -- --backend sqlite --rate 80000 --seconds 10
//! cargo bench --bench load -- --backend all      # SQLite, PostgreSQL and MySQL
//! ```
//!
//! Per backend: a warm-up; then a flood phase (every message an award: XP rules
//! 10..10, cooldown 0) at `--rate` for `--seconds`, timed from the first message
//! sent to the moment the database holds every award (the sustained rate Keeper
//! processed); then a phase at half that rate with `/rank` every `--command-every`
//! messages (interaction round trip p50/p99, and how many cards Keeper drew,
//! read from its `/metrics`); then one as long at the same rate
//! with `/warn` instead (the guild's owner warning the member whose turn it is:
//! a case written in a transaction per command), every warning checked to be
//! recorded; then the XP check: every member's stored XP and message count equal
//! what the simulator sent, over all phases.
//! Finally SIGTERM, timed. Results print as markdown rows for BENCHMARKS.md.
//!
//! `--largest N` spreads the guild sizes (the k-th guild has N/k members, never
//! fewer than `--members`; messages fall in guilds by size). `--soak SECS`
//! adds a mixed phase before the XP check: `--soak-rate` messages a second
//! (default 2,000) for SECS seconds, in 30 s turns of `/rank`, `/leaderboard`
//! and `/warn`, Keeper's resident memory read after each turn.
//! `--keeper-env NAME=VALUE` (repeatable) passes more environment to Keeper,
//! which otherwise starts with only what the bench gives it (`KEEPER_MYSQL_POOL=20`).
//!
//! ```sh
//! cargo bench --bench load -- --backend postgres --shards 4 --guilds 10000 --members 5 \
//!     --largest 20000 --rate 20000 --seconds 5 --soak 600
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use common::{Backend, Db, EXACT_RULES, KeeperProcess};
use discord_sim::{
    Sim, SimConfig,
    load::{self, ExpectedXp, LoadConfig, LoadReport},
};
use keeper_store::Store;
use twilight_model::id::Id;

#[derive(Clone, Debug)]
struct Options {
    backends: Vec<Db>,
    guilds: usize,
    members: usize,
    rate: u64,
    seconds: u64,
    shards: u32,
    command_every: u64,
    /// Announce level-ups (Keeper's default); `--levelups off` measures without.
    levelups: bool,
    /// Answer `/rank` with a card image (Keeper's default); `--cards off`: text.
    cards: bool,
    /// `KEEPER_LOG` for the bot (default `warn`); its log is kept as
    /// `keeper-load-<backend>.log` in the temp directory.
    keeper_log: String,
    /// `KEEPER_XP_FLUSH_MS` for the bot (its default when not given).
    xp_flush_ms: Option<u64>,
    /// The largest guild's members when sizes are spread (`--largest`).
    largest: Option<usize>,
    /// Seconds of mixed load at `soak_rate` before the XP check (`--soak`).
    soak: u64,
    soak_rate: u64,
    /// More environment for the bot, `--keeper-env NAME=VALUE` (repeatable):
    /// Keeper starts with a cleared environment.
    keeper_env: Vec<(String, String)>,
}

impl Options {
    fn parse() -> Self {
        let mut o = Options {
            backends: vec![Db::Sqlite, Db::Postgres],
            guilds: 100,
            members: 1_000,
            rate: 60_000,
            seconds: 10,
            shards: 2,
            command_every: 100,
            levelups: true,
            cards: true,
            keeper_log: "warn".into(),
            xp_flush_ms: None,
            largest: None,
            soak: 0,
            soak_rate: 2_000,
            keeper_env: Vec::new(),
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < args.len() {
            let value = args.get(i + 1).cloned().unwrap_or_default();
            let number = || -> u64 {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("{} needs a number", args[i]))
            };
            match args[i].as_str() {
                "--backend" => {
                    o.backends = match value.as_str() {
                        "sqlite" => vec![Db::Sqlite],
                        "postgres" => vec![Db::Postgres],
                        "mysql" => vec![Db::MySql],
                        "both" => vec![Db::Sqlite, Db::Postgres],
                        "all" => Db::ALL.to_vec(),
                        other => panic!("--backend sqlite|postgres|mysql|both|all, not {other}"),
                    }
                }
                "--guilds" => o.guilds = number() as usize,
                "--members" => o.members = number() as usize,
                "--rate" => o.rate = number(),
                "--seconds" => o.seconds = number(),
                "--shards" => o.shards = number() as u32,
                "--command-every" => o.command_every = number(),
                "--levelups" => o.levelups = value != "off",
                "--cards" => o.cards = value != "off",
                "--keeper-log" => o.keeper_log = value.clone(),
                "--xp-flush-ms" => o.xp_flush_ms = Some(number()),
                "--largest" => o.largest = Some(number() as usize),
                "--soak" => o.soak = number(),
                "--soak-rate" => o.soak_rate = number(),
                "--keeper-env" => {
                    let (k, v) = value
                        .split_once('=')
                        .unwrap_or_else(|| panic!("--keeper-env NAME=VALUE, not {value}"));
                    o.keeper_env.push((k.to_owned(), v.to_owned()));
                }
                // `cargo bench` passes --bench; anything else is a mistake.
                "--bench" => {
                    i += 1;
                    continue;
                }
                other => panic!("unknown option {other}"),
            }
            i += 2;
        }
        o
    }
}

struct Outcome {
    backend: &'static str,
    flood_offered: f64,
    flood_processed: f64,
    flood_messages: u64,
    drain: Duration,
    half_rate: u64,
    half_processed: f64,
    rtt_p50_ms: f64,
    rtt_p99_ms: f64,
    rtt_max_ms: f64,
    commands: (u64, u64, u64),
    /// The /rank phase's cards: drawn, busy (answered as text because too many
    /// waited to be drawn), failed; from Keeper's metrics.
    cards: (u64, u64, u64),
    /// The /warn phase: round trip p50, p99, max, and commands
    /// sent/answered/failed.
    warn_ms: (f64, f64, f64),
    warns: (u64, u64, u64),
    /// Cases recorded, over every guild (must equal the warns answered).
    cases: usize,
    members_checked: usize,
    wrong: usize,
    sigterm: Duration,
    exit_ok: bool,
    /// Start of the process to every shard connected and the commands
    /// registered (new sessions: IDENTIFY).
    startup: Duration,
    /// Resident memory (MiB) after start-up and after every phase's load.
    rss_started: f64,
    rss_loaded: f64,
    /// A restart after the SIGTERM: start to every shard connected again
    /// (stored sessions: RESUME), and the memory then.
    resume: Duration,
    rss_resumed: f64,
    /// The mixed phase, when asked for: messages sent, the highest and the
    /// last resident memory read, and the worst p99 of each command's turns.
    soak: Option<Soak>,
    /// Members in all the guilds.
    members: usize,
}

#[derive(Default)]
struct Soak {
    messages: u64,
    rss_max: f64,
    rss_end: f64,
    p99_ms: BTreeMap<&'static str, f64>,
    commands: (u64, u64, u64),
    /// Of which `/warn` answered: each must be a case.
    warns_answered: u64,
}

/// A process's resident memory in MiB, from /proc (0 where there is none).
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `keeper_rank_cards_total` by outcome (drawn, busy, failed), read from
/// Keeper's `/metrics` on `http`.
async fn rank_cards(http: std::net::SocketAddr) -> (u64, u64, u64) {
    let (status, body) = common::http_get(http, "/metrics")
        .await
        .unwrap_or_else(|e| panic!("keeper's /metrics: {e}"));
    assert_eq!(status, 200, "keeper's /metrics: {body}");
    let count = |outcome: &str| -> u64 {
        let series = format!("keeper_rank_cards_total{{outcome=\"{outcome}\"}} ");
        body.lines()
            .find_map(|l| l.strip_prefix(&series))
            .map_or(0, |n| n.trim().parse().expect("a count"))
    };
    (count("drawn"), count("busy"), count("failed"))
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    eprintln!("load benchmark: {options:?}");
    let mut outcomes = Vec::new();
    for &db in &options.backends {
        outcomes.push(run(db, &options).await);
    }
    println!(
        "\n| backend | flood offered/s | **processed/s** | drain after | half rate | processed/s | /rank p50 | **p99** | max | commands sent/answered/failed | cards drawn/busy/failed | /warn p50 | **p99** | max | warns sent/answered/failed | cases | members checked | wrong | SIGTERM exit |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |"
    );
    for o in &outcomes {
        println!(
            "| {} | {:.0} | **{:.0}** | {:.2?} | {} | {:.0} | {:.1} ms | **{:.1} ms** | {:.1} ms | {}/{}/{} | {}/{}/{} | {:.1} ms | **{:.1} ms** | {:.1} ms | {}/{}/{} | {} | {} | {} | {:.2?}{} |",
            o.backend,
            o.flood_offered,
            o.flood_processed,
            o.drain,
            o.half_rate,
            o.half_processed,
            o.rtt_p50_ms,
            o.rtt_p99_ms,
            o.rtt_max_ms,
            o.commands.0,
            o.commands.1,
            o.commands.2,
            o.cards.0,
            o.cards.1,
            o.cards.2,
            o.warn_ms.0,
            o.warn_ms.1,
            o.warn_ms.2,
            o.warns.0,
            o.warns.1,
            o.warns.2,
            o.cases,
            o.members_checked,
            o.wrong,
            o.sigterm,
            if o.exit_ok {
                ""
            } else {
                " (exit status not 0!)"
            }
        );
    }
    println!(
        "\n| backend | guilds | start-up (IDENTIFY) to ready | RSS then | RSS after the load | restart (RESUME) to ready | RSS then |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for o in &outcomes {
        println!(
            "| {} | {} | {:.2?} | {:.1} MiB | {:.1} MiB | {:.2?} | {:.1} MiB |",
            o.backend,
            options.guilds,
            o.startup,
            o.rss_started,
            o.rss_loaded,
            o.resume,
            o.rss_resumed
        );
    }
    println!(
        "\nflood: {} messages per backend over {} guilds x {} members, {} shard(s)",
        outcomes.first().map_or(0, |o| o.flood_messages),
        options.guilds,
        options.members,
        options.shards
    );
    for o in outcomes.iter() {
        let Some(soak) = &o.soak else { continue };
        println!(
            "\n| backend | guilds | members | soak | messages | RSS highest | RSS at the end | commands sent/answered/failed | worst p99 of a turn |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
        let p99: Vec<String> = soak
            .p99_ms
            .iter()
            .map(|(command, ms)| format!("/{command} {ms:.1} ms"))
            .collect();
        println!(
            "| {} | {} | {} | {} s at {}/s | {} | {:.1} MiB | {:.1} MiB | {}/{}/{} | {} |",
            o.backend,
            options.guilds,
            o.members,
            options.soak,
            options.soak_rate,
            soak.messages,
            soak.rss_max,
            soak.rss_end,
            soak.commands.0,
            soak.commands.1,
            soak.commands.2,
            p99.join(", ")
        );
    }
    let warned = |o: &Outcome| o.warns.1 + o.soak.as_ref().map_or(0, |s| s.warns_answered);
    if outcomes
        .iter()
        .any(|o| o.wrong > 0 || !o.exit_ok || o.cases as u64 != warned(o))
    {
        eprintln!("FAILED: XP mismatch, a warning not recorded, or unclean exit (see above)");
        std::process::exit(1);
    }
}

async fn run(db: Db, o: &Options) -> Outcome {
    let sim = Sim::with_config(SimConfig {
        store_messages: false,
        replay_limit: 50_000,
        ..load::sim_config("load-token".into(), o.shards)
    })
    .await;
    let shape = |rate, millis, command: Option<&str>, seed| LoadConfig {
        guilds: o.guilds,
        members_per_guild: o.members,
        largest_guild: o.largest,
        rate,
        duration: Duration::from_millis(millis),
        command: command.map(str::to_owned),
        command_every: o.command_every,
        moderate: command == Some("warn"),
        seed,
        ..LoadConfig::default()
    };
    let world = load::build(&sim, &shape(0, 0, None, 0)).await;
    let guilds: Vec<u64> = world.guilds.iter().map(|(g, _, _)| g.id()).collect();

    let (backend, url) = Backend::create(db).await;
    let name = backend.name();
    let dir = backend.scratch_dir();
    let store = common::open_store(&url).await;
    common::set_rules(&*store, guilds.iter().copied(), &EXACT_RULES).await;
    // /warn measured on its own path: no DM for each warning (a REST call
    // under the global limit each; Discord would pace them, not Keeper).
    let no_dm = keeper_store::SettingsPatch {
        dm_on_warn: Some(false),
        rank_card: Some(o.cards),
        ..Default::default()
    };
    for &guild in &guilds {
        store
            .update_settings(Id::new(guild), &no_dm, chrono::Utc::now())
            .await
            .unwrap();
    }
    if !o.levelups {
        let off = keeper_store::SettingsPatch {
            levelup: Some(keeper_store::LevelUpTarget::Off),
            ..Default::default()
        };
        for &guild in &guilds {
            let at = chrono::Utc::now();
            store
                .update_settings(Id::new(guild), &off, at)
                .await
                .unwrap();
        }
    }
    let flush_ms = o.xp_flush_ms.map(|ms| ms.to_string());
    let http = common::free_addr();
    let http_addr = http.to_string();
    let mut env = vec![
        ("KEEPER_LOG", o.keeper_log.as_str()),
        ("KEEPER_HTTP_ADDR", http_addr.as_str()),
    ];
    env.extend(flush_ms.as_deref().map(|ms| ("KEEPER_XP_FLUSH_MS", ms)));
    env.extend(o.keeper_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let spawned = Instant::now();
    let keeper = KeeperProcess::spawn(&sim, &url, &dir, &env);
    sim.wait_connected(o.shards as usize, Duration::from_secs(300))
        .await
        .unwrap_or_else(|e| panic!("keeper did not connect: {e}\n{}", keeper.output()));
    sim.wait_for_command("rank", Duration::from_secs(60))
        .await
        .expect("commands registered");
    let startup = spawned.elapsed();
    let rss_started = rss_mib(keeper.pid());
    eprintln!(
        "[{name}] keeper connected with {} shard(s) in {startup:.2?}, {rss_started:.1} MiB resident",
        o.shards
    );

    let mut expected: Vec<BTreeMap<(u64, u64), ExpectedXp>> = Vec::new();

    // Warm-up: settings cached, rows created, connections open.
    let warm = load::run(&sim, &world, &shape(5_000, 2_000, None, 1)).await;
    expected.push(warm.expected_xp(&EXACT_RULES));
    let so_far = common::merge_expected(&expected.iter().collect::<Vec<_>>());
    await_stored(&*store, &warm, &so_far, o.shards, Duration::from_secs(60)).await;

    // Flood: how fast Keeper takes awards all the way into the database.
    let started = Instant::now();
    let flood = load::run(&sim, &world, &shape(o.rate, o.seconds * 1_000, None, 2)).await;
    let sent_at = Instant::now();
    expected.push(flood.expected_xp(&EXACT_RULES));
    let so_far = common::merge_expected(&expected.iter().collect::<Vec<_>>());
    await_stored(&*store, &flood, &so_far, o.shards, Duration::from_secs(300)).await;
    let processed_in = started.elapsed();
    let drain = sent_at.elapsed();
    let flood_processed = flood.messages_sent as f64 / processed_in.as_secs_f64();
    eprintln!(
        "[{name}] flood: {} messages offered at {:.0}/s, all stored after {processed_in:.2?} ({flood_processed:.0}/s)",
        flood.messages_sent,
        flood.messages_sent as f64 / flood.elapsed.as_secs_f64()
    );

    // Half the sustained rate, with /rank interleaved.
    let half_rate = (flood_processed / 2.0) as u64;
    let started = Instant::now();
    let half = load::run(
        &sim,
        &world,
        &shape(half_rate, o.seconds * 1_000, Some("rank"), 3),
    )
    .await;
    expected.push(half.expected_xp(&EXACT_RULES));
    let so_far = common::merge_expected(&expected.iter().collect::<Vec<_>>());
    await_stored(&*store, &half, &so_far, o.shards, Duration::from_secs(300)).await;
    let half_processed = half.messages_sent as f64 / started.elapsed().as_secs_f64();
    eprintln!("[{name}] half rate {half_rate}/s with /rank:\n{half}");
    let cards = rank_cards(http).await;
    eprintln!("[{name}] rank cards drawn/busy/failed: {cards:?}");

    // The same rate with /warn: a moderator's write per command.
    let warned = load::run(
        &sim,
        &world,
        &shape(half_rate, o.seconds * 1_000, Some("warn"), 4),
    )
    .await;
    expected.push(warned.expected_xp(&EXACT_RULES));
    let so_far = common::merge_expected(&expected.iter().collect::<Vec<_>>());
    await_stored(
        &*store,
        &warned,
        &so_far,
        o.shards,
        Duration::from_secs(300),
    )
    .await;
    eprintln!("[{name}] half rate {half_rate}/s with /warn:\n{warned}");
    // The mixed phase: turns of each command at a steady rate, memory read
    // after each turn.
    let soak = if o.soak > 0 {
        let mut soak = Soak::default();
        let started = Instant::now();
        let mut turn = 0u64;
        while started.elapsed() < Duration::from_secs(o.soak) {
            let command = ["rank", "leaderboard", "warn"][(turn % 3) as usize];
            let report = load::run(
                &sim,
                &world,
                &shape(o.soak_rate, 30_000, Some(command), 100 + turn),
            )
            .await;
            expected.push(report.expected_xp(&EXACT_RULES));
            soak.messages += report.messages_sent;
            soak.commands.0 += report.commands_sent;
            soak.commands.1 += report.commands_answered;
            soak.commands.2 += report.commands_failed;
            if command == "warn" {
                soak.warns_answered += report.commands_answered;
            }
            let p99 = soak.p99_ms.entry(command).or_default();
            *p99 = p99.max(report.rtt_p99_us as f64 / 1000.0);
            let rss = rss_mib(keeper.pid());
            soak.rss_max = soak.rss_max.max(rss);
            soak.rss_end = rss;
            eprintln!(
                "[{name}] soak turn {turn} ({command}) at {:.0?}: {rss:.1} MiB resident\n{report}",
                started.elapsed()
            );
            turn += 1;
        }
        // Checked with the rest below.
        Some(soak)
    } else {
        None
    };

    let mut cases = 0;
    for &guild in &guilds {
        cases += store
            .cases(Id::new(guild), None, 100_000)
            .await
            .map_or(0, |c| c.len());
    }

    // Nothing lost, nothing counted twice.
    let all = common::merge_expected(&expected.iter().collect::<Vec<_>>());
    let wrong =
        match common::await_expected_xp(&*store, &guilds, &all, Duration::from_secs(30)).await {
            Ok(()) => 0,
            Err(wrong) => {
                eprintln!(
                    "[{name}] {} members wrong, e.g. {:?}",
                    wrong.len(),
                    &wrong[..wrong.len().min(5)]
                );
                wrong.len()
            }
        };

    // Discord bans a bot at 10,000 invalid requests (401, 403, 429) in 10
    // minutes; the simulator enforces Discord's rate limits and counts them.
    eprintln!(
        "[{name}] invalid requests (401/403/429): {}",
        sim.invalid_requests()
    );
    for (what, n) in sim.invalid_requests_by_route() {
        eprintln!("[{name}]   {n} × {what}");
    }

    let rss_loaded = rss_mib(keeper.pid());
    let stopping = Instant::now();
    let (status, log) = keeper.terminate(Duration::from_secs(30)).await;
    let sigterm = stopping.elapsed();
    // Started again: every shard resumes its stored session (once the
    // simulator has seen every connection of the last run close).
    let closing = Instant::now();
    while sim.sessions().iter().any(|s| s.connected) && closing.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restarted = Instant::now();
    let again = KeeperProcess::spawn(&sim, &url, &dir, &env);
    let disconnected = |s: &discord_sim::SessionInfo| !s.connected;
    while sim.sessions().iter().any(disconnected) {
        assert!(
            restarted.elapsed() < Duration::from_secs(300),
            "keeper did not resume:\n{}",
            again.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resume = restarted.elapsed();
    let rss_resumed = rss_mib(again.pid());
    eprintln!(
        "[{name}] restarted: every shard resumed in {resume:.2?}, {rss_resumed:.1} MiB resident"
    );
    let _ = again.terminate(Duration::from_secs(30)).await;
    if !status.success() {
        eprintln!("[{name}] keeper exited with {status}; log:\n{log}");
    }
    let kept = std::env::temp_dir().join(format!("keeper-load-{name}.log"));
    if std::fs::write(&kept, &log).is_ok() {
        eprintln!("[{name}] keeper's log: {}", kept.display());
    }
    store.close().await;
    backend.drop().await;
    let ms = |us: u64| us as f64 / 1_000.0;
    Outcome {
        backend: name,
        flood_offered: flood.messages_sent as f64 / flood.elapsed.as_secs_f64(),
        flood_processed,
        flood_messages: flood.messages_sent,
        drain,
        half_rate,
        half_processed,
        rtt_p50_ms: ms(half.rtt_p50_us),
        rtt_p99_ms: ms(half.rtt_p99_us),
        rtt_max_ms: ms(half.rtt_max_us),
        commands: (
            half.commands_sent,
            half.commands_answered,
            half.commands_failed,
        ),
        cards,
        warn_ms: (
            ms(warned.rtt_p50_us),
            ms(warned.rtt_p99_us),
            ms(warned.rtt_max_us),
        ),
        warns: (
            warned.commands_sent,
            warned.commands_answered,
            warned.commands_failed,
        ),
        cases,
        members_checked: all.len(),
        wrong,
        sigterm,
        exit_ok: status.success(),
        startup,
        rss_started,
        rss_loaded,
        resume,
        rss_resumed,
        soak,
        members: world.guilds.iter().map(|(_, _, m)| m.len()).sum(),
    }
}

/// Wait until the database holds every message of `report`'s run. Each shard
/// hands its events to the write buffer in order and a flush writes all it holds,
/// so once the last sender of each shard has all their messages stored, everything
/// sent before is stored too: two cheap reads per poll instead of every row.
async fn await_stored(
    store: &dyn Store,
    report: &LoadReport,
    expected: &BTreeMap<(u64, u64), ExpectedXp>,
    shards: u32,
    timeout: Duration,
) {
    let mut last_per_shard: BTreeMap<u64, ((u64, u64), chrono::DateTime<chrono::Utc>)> =
        BTreeMap::new();
    for (key, times) in &report.message_times {
        let Some(&last) = times.last() else { continue };
        let shard = (key.0 >> 22) % u64::from(shards);
        let entry = last_per_shard.entry(shard).or_insert((*key, last));
        if last > entry.1 {
            *entry = (*key, last);
        }
    }
    let deadline = Instant::now() + timeout;
    for ((guild, user), _) in last_per_shard.values() {
        let want = expected[&(*guild, *user)].messages as i64;
        loop {
            let have = store
                .member_rank(Id::new(*guild), Id::new(*user))
                .await
                .ok()
                .flatten()
                .map_or(0, |r| r.member.messages);
            if have >= want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "member {user} of guild {guild}: {have} of {want} messages stored after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

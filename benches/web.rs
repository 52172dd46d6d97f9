//! The web leaderboard under load: a guild of 100,000 members (each with a
//! name and half with an avatar) served over HTTP on 127.0.0.1 by the same
//! routes the bot serves, on SQLite, PostgreSQL or MySQL.
//!
//! ```sh
//! cargo bench --bench web                          # SQLite and PostgreSQL
//! cargo bench --bench web -- --backend sqlite --members 100000 --seconds 10
//! cargo bench --bench web -- --backend all         # SQLite, PostgreSQL and MySQL
//! ```
//!
//! Per backend and request: latency over `--requests` requests one after
//! another (p50, p99: what one reader waits, server and loopback), then
//! throughput with `--clients` readers at once for `--seconds` (requests per
//! second). No `If-None-Match` is sent: every answer is rendered. Results print
//! as markdown rows for BENCHMARKS.md.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use keeper_store::{MemberProfile, XpAward};
use twilight_model::id::Id;

use common::Db;

const GUILD: u64 = 77;

struct Options {
    backends: Vec<Db>,
    members: u64,
    requests: usize,
    clients: usize,
    seconds: u64,
}

fn options() -> Options {
    let mut o = Options {
        backends: vec![Db::Sqlite, Db::Postgres],
        members: 100_000,
        requests: 2_000,
        clients: 8,
        seconds: 10,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--backend" => {
                o.backends = match value().as_str() {
                    "sqlite" => vec![Db::Sqlite],
                    "postgres" => vec![Db::Postgres],
                    "mysql" => vec![Db::MySql],
                    "all" => Db::ALL.to_vec(),
                    _ => vec![Db::Sqlite, Db::Postgres],
                };
                i += 1;
            }
            "--members" => (o.members, i) = (value().parse().expect("--members N"), i + 1),
            "--requests" => (o.requests, i) = (value().parse().expect("--requests N"), i + 1),
            "--clients" => (o.clients, i) = (value().parse().expect("--clients N"), i + 1),
            "--seconds" => (o.seconds, i) = (value().parse().expect("--seconds N"), i + 1),
            // `cargo bench` passes `--bench`; anything else is ignored too.
            _ => {}
        }
        i += 1;
    }
    o
}

/// The guild: member `i` has `i * 7` XP, a name, and an avatar when even.
async fn seed(store: &dyn keeper_store::Store, members: u64) {
    let at = chrono::Utc::now();
    let ids: Vec<u64> = (1..=members).collect();
    for part in ids.chunks(10_000) {
        let awards: Vec<XpAward> = part
            .iter()
            .map(|&i| XpAward {
                guild_id: Id::new(GUILD),
                user_id: Id::new(1_000_000 + i),
                xp: (i * 7) as i64,
                messages: 1,
                at,
            })
            .collect();
        store.award_xp(&awards, &[]).await.expect("awards");
        let profiles: Vec<MemberProfile> = part
            .iter()
            .map(|&i| MemberProfile {
                guild_id: Id::new(GUILD),
                user_id: Id::new(1_000_000 + i),
                display_name: common::web_name(i),
                avatar: common::web_avatar(i),
                seen_at: at,
            })
            .collect();
        store.save_profiles(&profiles).await.expect("profiles");
    }
    common::public_leaderboard(store, GUILD, 0).await;
}

type Http = Client<HttpConnector, Empty<Bytes>>;

/// One GET, its body read whole; panics unless 200.
async fn get(client: &Http, url: &hyper::Uri) -> usize {
    let response = client.get(url.clone()).await.expect("an answer");
    assert_eq!(response.status(), 200, "{url}");
    let body = response.into_body().collect().await.expect("a body");
    body.to_bytes().len()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let o = options();
    println!(
        "| backend | request | body | p50 ms | p99 ms | req/s ({} clients) |",
        o.clients
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for db in o.backends.clone() {
        let (backend, url) = common::Backend::create(db).await;
        let store = common::open_store(&url).await;
        let seeding = Instant::now();
        seed(&*store, o.members).await;
        eprintln!(
            "seeded {} members in {:.1} s",
            o.members,
            seeding.elapsed().as_secs_f64()
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let web = keeper::web::Web::new(Arc::clone(&store), "https://cdn.discordapp.com", None);
        let server =
            tokio::spawn(async move { axum::serve(listener, keeper::web::routes(web)).await });
        let client: Http = Client::builder(TokioExecutor::new()).build_http();
        let deep = o.members / 2 / u64::from(keeper::web::PER_PAGE) + 1;
        let requests = [
            ("page 1", format!("/leaderboard/{GUILD}")),
            (
                "page at the middle",
                format!("/leaderboard/{GUILD}?page={deep}"),
            ),
            (
                "search by name",
                format!("/leaderboard/{GUILD}?q=ann%20%2350"),
            ),
            // In 7 names of 10: the case where sorting every match is slow.
            (
                "search, a text in most names",
                format!("/leaderboard/{GUILD}?q=member"),
            ),
            ("API page 1", format!("/api/v1/guilds/{GUILD}/leaderboard")),
            (
                "API member",
                format!(
                    "/api/v1/guilds/{GUILD}/members/{}",
                    1_000_000 + o.members / 3
                ),
            ),
        ];
        for (name, path) in requests {
            let uri: hyper::Uri = format!("http://{addr}{path}").parse().unwrap();
            // Warm: connections, caches, the planner.
            for _ in 0..50 {
                get(&client, &uri).await;
            }
            let mut took = Vec::with_capacity(o.requests);
            let mut bytes = 0;
            for _ in 0..o.requests {
                let started = Instant::now();
                bytes = get(&client, &uri).await;
                took.push(started.elapsed());
            }
            took.sort_unstable();
            let done = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let readers: Vec<_> = (0..o.clients)
                .map(|_| {
                    let (client, uri) = (client.clone(), uri.clone());
                    let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
                    tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            get(&client, &uri).await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            let started = Instant::now();
            tokio::time::sleep(Duration::from_secs(o.seconds)).await;
            stop.store(true, Ordering::Relaxed);
            for reader in readers {
                reader.await.unwrap();
            }
            let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
            println!(
                "| {} | {name} | {} KiB | {} | {} | {rate:.0} |",
                match db {
                    Db::Sqlite => "SQLite",
                    Db::Postgres => "PostgreSQL",
                    Db::MySql => "MySQL",
                },
                bytes / 1024,
                ms(percentile(&took, 0.5)),
                ms(percentile(&took, 0.99)),
            );
        }
        server.abort();
        store.close().await;
        backend.drop().await;
    }
}

//! Award and leaderboard throughput at 1,000,000 member rows, beside the tutorial
//! pattern most bots start from (one autocommitted upsert per award), measured in
//! the same run so the ratio holds on a noisy machine.
//!
//! `cargo bench -p keeper-store-sqlite` (about 2 to 3 minutes).

use std::{path::PathBuf, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use keeper_store::{XpAward, prelude::*};
use keeper_store_sqlite::{SqliteConfig, SqliteStore};
use sqlx::{ConnectOptions, Connection, sqlite::SqliteConnectOptions};
use tokio::runtime::Runtime;
use twilight_model::id::Id;

/// 100 guilds of 9,000 members and one big guild of 100,000: 1,000,000 rows.
const SMALL_GUILDS: u64 = 100;
const SMALL_MEMBERS: u64 = 9_000;
const BIG_GUILD: u64 = 1_000;
const BIG_MEMBERS: u64 = 100_000;
const BATCH: usize = 500;

/// A small, seeded generator: the bench needs spread, not statistical quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A random existing member: (guild, user).
    fn member(&mut self) -> (u64, u64) {
        // Weighted by guild size, so the big guild gets a tenth of the traffic.
        let i = self.below(SMALL_GUILDS * SMALL_MEMBERS + BIG_MEMBERS);
        if i < SMALL_GUILDS * SMALL_MEMBERS {
            (1 + i / SMALL_MEMBERS, 1 + i % SMALL_MEMBERS)
        } else {
            (BIG_GUILD, 1 + i - SMALL_GUILDS * SMALL_MEMBERS)
        }
    }

    fn award(&mut self) -> XpAward {
        let (guild, user) = self.member();
        XpAward {
            guild_id: Id::new(guild),
            user_id: Id::new(user),
            xp: 15 + self.below(11) as i64,
            messages: 1,
            at: now(),
        }
    }
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keeper-sqlite-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every member once, in 5,000-row batches through the store's own award path.
///
/// XP is spread as in the PostgreSQL bench: `300,000 * r^3` for a uniform `r`, a
/// few very active members and many quiet ones, as in a real guild. (Until
/// migration 0003 this bench spread XP uniformly over 0-50,000; the leaderboard
/// reads a whole 1,000-XP bucket before it can sort the top, and a uniform spread
/// puts 2,000 members of the big guild in every bucket, the top one included:
/// 1.7 ms for its top 10, BENCHMARKS.md.)
async fn seed(store: &SqliteStore) {
    let mut rng = Rng(0x5eed);
    let mut batch = Vec::with_capacity(5_000);
    let mut members = (1..=SMALL_GUILDS)
        .flat_map(|g| (1..=SMALL_MEMBERS).map(move |u| (g, u)))
        .chain((1..=BIG_MEMBERS).map(|u| (BIG_GUILD, u)));
    loop {
        batch.clear();
        batch.extend(members.by_ref().take(5_000).map(|(g, u)| XpAward {
            guild_id: Id::new(g),
            user_id: Id::new(u),
            xp: {
                let r = rng.below(1 << 20) as f64 / f64::from(1 << 20);
                (r * r * r * 300_000.0) as i64
            },
            messages: 1 + rng.below(100) as i64,
            at: now(),
        }));
        if batch.is_empty() {
            break;
        }
        store.award_xp(&batch, &[]).await.unwrap();
    }
}

/// The tutorial's table as `../shared/baselines.md` measured it: 100 guilds of
/// 1,000 users. It and its statements exist only in this bench (Keeper's schema
/// has no such table), so the compile-time checked macros can't see them: this is
/// the one place where plain `sqlx::query`/`raw_sql` is used, on purpose.
const TUTORIAL_GUILDS: u64 = 100;
const TUTORIAL_USERS: u64 = 1_000;

async fn tutorial_baseline(dir: &std::path::Path) -> sqlx::SqliteConnection {
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.join("tutorial.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE user_data (guild_id INTEGER, user_id INTEGER, xp INTEGER, warnings INTEGER,
                                 PRIMARY KEY (guild_id, user_id));
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
         INSERT INTO user_data SELECT i / 1000, i % 1000, 0, 0 FROM n;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn
}

/// `[[guild, user, xp], ...]` of 500 random tutorial members.
fn tutorial_batch_json(rng: &mut Rng) -> String {
    let rows: Vec<String> = (0..BATCH)
        .map(|_| {
            format!(
                "[{},{},{}]",
                rng.below(TUTORIAL_GUILDS),
                rng.below(TUTORIAL_USERS),
                15 + rng.below(11)
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = scratch_dir();
    let url = format!("sqlite://{}", dir.join("keeper.db").display());
    let store = Arc::new(rt.block_on(async {
        let store = SqliteStore::connect(&SqliteConfig::new(&url))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        seed(&store).await;
        let rows = store.table_counts().await.unwrap();
        eprintln!("seeded {rows:?} in {:.1?}", started.elapsed());
        store
    }));
    let mut tutorial = rt.block_on(tutorial_baseline(&dir));

    let mut group = c.benchmark_group("awards");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(6));
    // 500 as baselines.md's ceilings; 25,000 is what the bot's write buffer
    // flushes every 250 ms when 100,000 awards a second of distinct members come in.
    let mut rng = Rng(42);
    for size in [BATCH, 10 * BATCH, 50 * BATCH] {
        group.sample_size(if size > 10 * BATCH { 10 } else { 20 });
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(BenchmarkId::new("keeper_batch", size), |b| {
            b.to_async(&rt).iter_batched(
                || (0..size).map(|_| rng.award()).collect::<Vec<_>>(),
                |batch| {
                    let store = store.clone();
                    async move { store.award_xp(&batch, &[]).await.unwrap() }
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    let mut rng = Rng(43);
    group.bench_function("keeper_single", |b| {
        b.to_async(&rt).iter_batched(
            || rng.award(),
            |award| {
                let store = store.clone();
                async move { store.award_xp(&[award], &[]).await.unwrap() }
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let mut rng = Rng(44);
    group.bench_function("tutorial_single_upsert", |b| {
        b.iter(|| {
            let (guild, user) = (
                rng.below(TUTORIAL_GUILDS) as i64,
                rng.below(TUTORIAL_USERS) as i64,
            );
            let xp = 15 + rng.below(11) as i64;
            rt.block_on(
                sqlx::query(
                    "INSERT INTO user_data (guild_id, user_id, xp, warnings) VALUES (?1, ?2, ?3, 0)
                     ON CONFLICT (guild_id, user_id) DO UPDATE SET xp = user_data.xp + ?3",
                )
                .bind(guild)
                .bind(user)
                .bind(xp)
                .execute(&mut tutorial),
            )
            .unwrap();
        })
    });
    // The ceiling `../shared/baselines.md` names for SQLite: one statement over
    // json_each per 500 awards, on the tutorial's 100,000-row table with no index
    // but its key, no levels and no RETURNING. baselines.md measured it on another
    // machine; measured here in the same run, it says how fast this machine is.
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut rng = Rng(47);
    group.bench_function(BenchmarkId::new("ceiling_tutorial_json_each_batch", BATCH), |b| {
        b.iter_batched(
            || tutorial_batch_json(&mut rng),
            |json| {
                rt.block_on(async {
                    let mut tx = sqlx::Connection::begin(&mut tutorial).await.unwrap();
                    sqlx::query(
                        "INSERT INTO user_data (guild_id, user_id, xp, warnings)
                         SELECT value ->> 0, value ->> 1, SUM(value ->> 2), 0
                         FROM json_each(?1) WHERE true GROUP BY 1, 2
                         ON CONFLICT (guild_id, user_id) DO UPDATE SET xp = user_data.xp + excluded.xp",
                    )
                    .bind(json)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                    tx.commit().await.unwrap();
                })
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("reads");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(4));
    group.bench_function("leaderboard_top10_big_guild", |b| {
        b.to_async(&rt).iter(|| {
            let store = store.clone();
            async move { store.leaderboard(Id::new(BIG_GUILD), 0, 10).await.unwrap() }
        })
    });
    group.bench_function("leaderboard_top10_small_guild", |b| {
        b.to_async(&rt).iter(|| {
            let store = store.clone();
            async move { store.leaderboard(Id::new(50), 0, 10).await.unwrap() }
        })
    });
    group.bench_function("leaderboard_page_at_50000_big_guild", |b| {
        b.to_async(&rt).iter(|| {
            let store = store.clone();
            async move {
                store
                    .leaderboard(Id::new(BIG_GUILD), 50_000, 10)
                    .await
                    .unwrap()
            }
        })
    });
    let mut rng = Rng(45);
    group.bench_function("member_rank_big_guild", |b| {
        b.to_async(&rt).iter_batched(
            || Id::new(1 + rng.below(BIG_MEMBERS)),
            |user| {
                let store = store.clone();
                async move { store.member_rank(Id::new(BIG_GUILD), user).await.unwrap() }
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let mut rng = Rng(46);
    group.bench_function("member_rank_small_guild", |b| {
        b.to_async(&rt).iter_batched(
            || Id::new(1 + rng.below(SMALL_MEMBERS)),
            |user| {
                let store = store.clone();
                async move { store.member_rank(Id::new(50), user).await.unwrap() }
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();

    // Exporting one user's data uses member_xp's user_id index (kept on SQLite,
    // dropped on PostgreSQL by migration 0002); measured beside PostgreSQL's scan.
    let mut group = c.benchmark_group("personal_data");
    group.sample_size(10);
    let mut rng = Rng(48);
    group.bench_function("export_one_user_1m_rows", |b| {
        b.to_async(&rt).iter_batched(
            || Id::new(1 + rng.below(SMALL_MEMBERS)),
            |user| {
                let store = store.clone();
                async move { store.export_user(user).await.unwrap() }
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();

    rt.block_on(async {
        store.close().await;
        tutorial.close().await.unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(store, benches);
criterion_main!(store);

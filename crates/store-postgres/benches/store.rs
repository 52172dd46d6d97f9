//! PostgreSQL store at 1,000,000 member rows: XP awards (batched and single),
//! leaderboard pages and member rank, next to the tutorial's one-upsert-per-award
//! pattern measured in the same run (compare ratios: this machine is noisy).
//!
//!     cargo bench -p keeper-store-postgres
//!
//! Needs a PostgreSQL server where the user may create databases:
//! `KEEPER_BENCH_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres).
//! A database `keeper_bench_<pid>` is created, seeded and dropped at the end.
//!
//! With `KEEPER_BENCH_PGBOUNCER_URL` (a PgBouncer in transaction mode in front of
//! that server, such as `.ci/pgbouncer`'s postgres://postgres@127.0.0.1:6432/postgres)
//! the database is seeded directly and then measured through PgBouncer, Keeper
//! told so (`Pooler::Transaction`): the cost of a transaction per operation
//! without cached statements.

use std::{
    hint::black_box,
    str::FromStr,
    time::{Duration, Instant},
};

use chrono::Utc;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};
use keeper_store::{
    XpAward,
    levels::{total_xp_for_level, xp_bucket, xp_bucket_floor},
    prelude::*,
};
use keeper_store_postgres::{PgConfig, PgStore, Pooler};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, postgres::PgConnectOptions};
use tokio::runtime::Runtime;
use twilight_model::id::Id;

/// 90 guilds of 10,000 members plus one guild of 100,000: 1,000,000 rows.
const SMALL_GUILDS: i64 = 90;
const SMALL_GUILD_MEMBERS: i64 = 10_000;
const BIG_GUILD: i64 = 1_000;
const BIG_GUILD_MEMBERS: i64 = 100_000;
/// User ids look like real snowflakes (18 digits).
const USER_BASE: i64 = 100_000_000_000_000_000;
const BATCH: usize = 500;
/// 250 ms of awards at 100,000 a second.
const FLOOD_BATCH: usize = 25_000;

/// The tutorial's table, for the baseline only.
const BASELINE_GUILDS: i64 = 100;
const BASELINE_USERS: i64 = 1_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let bench = runtime.block_on(BenchDb::create());
    let store = runtime.block_on(bench.seed());
    let store = match std::env::var("KEEPER_BENCH_PGBOUNCER_URL") {
        Ok(pgbouncer) => runtime.block_on(async {
            store.close().await;
            let url = PgConnectOptions::from_str(&pgbouncer)
                .expect("KEEPER_BENCH_PGBOUNCER_URL is a URL")
                .database(&bench.name)
                .to_url_lossy()
                .to_string();
            let config = PgConfig {
                pooler: Pooler::Transaction,
                ..PgConfig::new(url)
            };
            PgStore::connect(&config)
                .await
                .expect("connect through PgBouncer")
        }),
        Err(_) => store,
    };

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();

    awards(&mut criterion, &runtime, &store);
    reads(&mut criterion, &runtime, &store);
    criterion.final_summary();

    runtime.block_on(async {
        store.close().await;
        bench.drop_db().await;
    });
}

fn random_award(rng: &mut StdRng) -> XpAward {
    let (guild, members) = if rng.random_bool(0.1) {
        (BIG_GUILD, BIG_GUILD_MEMBERS)
    } else {
        (rng.random_range(1..=SMALL_GUILDS), SMALL_GUILD_MEMBERS)
    };
    XpAward {
        guild_id: Id::new(guild as u64),
        user_id: Id::new((USER_BASE + rng.random_range(1..=members)) as u64),
        xp: rng.random_range(15..=25),
        messages: 1,
        at: Utc::now(),
    }
}

/// Who the awards go to.
enum Pick {
    /// Any member alike: the least coalescing, and the crowded low-XP end, where
    /// buckets are narrow and awards cross them most, weighs most.
    Uniform,
    /// Members as they are active: a member's share of the awards is their share
    /// of the XP (plus one), as when members go on posting at the pace that
    /// earned their totals. Awards then fall mostly where buckets are wide.
    Active(ActiveMembers),
}

struct ActiveMembers {
    members: Vec<(i64, i64)>,
    /// Running sum of the weights, `members`' order.
    cumulative: Vec<u64>,
}

impl ActiveMembers {
    async fn read(store: &PgStore) -> Self {
        let rows = sqlx::query!(
            r#"SELECT guild_id AS "guild_id!", user_id AS "user_id!", xp AS "xp!"
               FROM member_xp ORDER BY guild_id, user_id"#
        )
        .fetch_all(store.pool())
        .await
        .expect("read the members");
        let mut total = 0u64;
        let cumulative = rows
            .iter()
            .map(|row| {
                total += row.xp.max(0) as u64 + 1;
                total
            })
            .collect();
        let members = rows.iter().map(|row| (row.guild_id, row.user_id)).collect();
        Self {
            members,
            cumulative,
        }
    }

    fn pick(&self, rng: &mut StdRng) -> (i64, i64) {
        let total = *self.cumulative.last().expect("members");
        let at = rng.random_range(0..total);
        self.members[self.cumulative.partition_point(|&sum| sum <= at)]
    }
}

fn random_batch(rng: &mut StdRng, size: usize, pick: &Pick) -> Vec<XpAward> {
    (0..size)
        .map(|_| match pick {
            Pick::Uniform => random_award(rng),
            Pick::Active(active) => {
                let (guild, user) = active.pick(rng);
                XpAward {
                    guild_id: Id::new(guild as u64),
                    user_id: Id::new(user as u64),
                    ..random_award(rng)
                }
            }
        })
        .collect()
}

/// Keeper's batched awards: rounds of `concurrent` batches of `size` random awards,
/// the batches of a round written side by side (each on its own connection).
fn keeper_batches(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    store: &PgStore,
    rng: &mut StdRng,
    (name, shape): (&str, &str),
    (concurrent, size): (usize, usize),
    pick: &Pick,
) {
    group.throughput(Throughput::Elements((concurrent * size) as u64));
    group.bench_function(BenchmarkId::new(name, shape), |b| {
        b.to_async(rt).iter_custom(|iters| {
            let rounds: Vec<Vec<_>> = (0..iters)
                .map(|_| {
                    (0..concurrent)
                        .map(|_| random_batch(rng, size, pick))
                        .collect()
                })
                .collect();
            let store = store.clone();
            async move {
                let start = Instant::now();
                for round in &rounds {
                    let flushes = round.iter().map(|batch| store.award_xp(batch, &[]));
                    for outcome in futures_util::future::join_all(flushes).await {
                        black_box(outcome.expect("award batch"));
                    }
                }
                start.elapsed()
            }
        })
    });
}

/// 500 random tutorial awards as (guilds, users, xp), sorted by key as
/// baselines.md's ceilings were (sorted keys also keep concurrent batches from
/// deadlocking on each other's rows).
fn baseline_batch(rng: &mut StdRng) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let mut rows: Vec<(i64, i64, i64)> = (0..BATCH)
        .map(|_| {
            (
                rng.random_range(1..=BASELINE_GUILDS),
                rng.random_range(1..=BASELINE_USERS),
                rng.random_range(15..=25),
            )
        })
        .collect();
    rows.sort_unstable();
    let g = rows.iter().map(|r| r.0).collect();
    let u = rows.iter().map(|r| r.1).collect();
    let x = rows.iter().map(|r| r.2).collect();
    (g, u, x)
}

async fn baseline_upsert(pool: &sqlx::PgPool, (g, u, x): (Vec<i64>, Vec<i64>, Vec<i64>)) {
    // `sqlx::query` rather than a checked macro: `user_data` exists only in the
    // bench database (the tutorial's table), so the macros can't see it at compile
    // time. Values are bound.
    sqlx::query(
        "INSERT INTO user_data (guild_id, user_id, xp, warnings)
         SELECT g, u, SUM(x), 0 FROM UNNEST($1::int8[], $2::int8[], $3::int8[]) AS a(g, u, x)
         GROUP BY g, u ORDER BY g, u
         ON CONFLICT (guild_id, user_id) DO UPDATE SET xp = user_data.xp + excluded.xp",
    )
    .bind(g)
    .bind(u)
    .bind(x)
    .execute(pool)
    .await
    .expect("baseline batch");
}

/// The ceiling: rounds of `concurrent` bare 500-row upserts on the tutorial's
/// table, the upserts of a round side by side (each on its own connection).
/// Whether the baselines run: they are the database's own ceiling, measured on
/// the server directly; through PgBouncer in transaction mode their bare
/// statements would need the transactions Keeper runs there.
fn baselines_here() -> bool {
    std::env::var_os("KEEPER_BENCH_PGBOUNCER_URL").is_none()
}

fn baseline_batches(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    store: &PgStore,
    rng: &mut StdRng,
    shape: &str,
    concurrent: usize,
) {
    if !baselines_here() {
        return;
    }
    group.throughput(Throughput::Elements((concurrent * BATCH) as u64));
    group.bench_function(BenchmarkId::new("batch_500", shape), |b| {
        b.to_async(rt).iter_custom(|iters| {
            let rounds: Vec<Vec<_>> = (0..iters)
                .map(|_| (0..concurrent).map(|_| baseline_batch(rng)).collect())
                .collect();
            let pool = store.pool().clone();
            async move {
                let start = Instant::now();
                for round in rounds {
                    let upserts = round.into_iter().map(|batch| baseline_upsert(&pool, batch));
                    futures_util::future::join_all(upserts).await;
                }
                start.elapsed()
            }
        })
    });
}

fn awards(c: &mut Criterion, rt: &Runtime, store: &PgStore) {
    let mut group = c.benchmark_group("award");
    let mut rng = StdRng::seed_from_u64(7);

    keeper_batches(
        &mut group,
        rt,
        store,
        &mut rng,
        ("batch_500", "1 connection"),
        (1, BATCH),
        &Pick::Uniform,
    );
    // What the bot does under load: several shards flushing batches at once.
    keeper_batches(
        &mut group,
        rt,
        store,
        &mut rng,
        ("batch_500", "4 concurrent"),
        (4, BATCH),
        &Pick::Uniform,
    );

    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("single", "keeper award_xp"), |b| {
        b.to_async(rt).iter_custom(|iters| {
            let awards: Vec<_> = (0..iters).map(|_| random_award(&mut rng)).collect();
            let store = store.clone();
            async move {
                let start = Instant::now();
                for award in &awards {
                    black_box(
                        store
                            .award_xp(std::slice::from_ref(award), &[])
                            .await
                            .expect("award"),
                    );
                }
                start.elapsed()
            }
        })
    });

    if baselines_here() {
        // The tutorial's pattern on the tutorial's table, same server, same run.
        group.bench_function(BenchmarkId::new("single", "baseline tutorial upsert"), |b| {
            b.to_async(rt).iter_custom(|iters| {
                let awards: Vec<(i64, i64, i64)> = (0..iters)
                    .map(|_| {
                        (
                            rng.random_range(1..=BASELINE_GUILDS),
                            rng.random_range(1..=BASELINE_USERS),
                            rng.random_range(15..=25),
                        )
                    })
                    .collect();
                let pool = store.pool().clone();
                async move {
                    let start = Instant::now();
                    for (guild, user, xp) in awards {
                        // `sqlx::query` rather than a checked macro: `user_data` exists only
                        // in the bench database (it is the tutorial's table, not Keeper's),
                        // so the macros can't see it at compile time. Values are bound.
                        sqlx::query(
                            "INSERT INTO user_data (guild_id, user_id, xp, warnings) VALUES ($1, $2, $3, 0)
                             ON CONFLICT (guild_id, user_id) DO UPDATE SET xp = user_data.xp + $3",
                        )
                        .bind(guild)
                        .bind(user)
                        .bind(xp)
                        .execute(&pool)
                        .await
                        .expect("baseline upsert");
                    }
                    start.elapsed()
                }
            })
        });
    }

    // The database's own ceiling for a batch: the bare UNNEST upsert on the
    // tutorial's table, without levels, RETURNING or a transaction around it; and
    // baselines.md's other ceiling, the same on 4 connections at once (its 290,459
    // rows/s), which Keeper's "4 concurrent" compares to.
    baseline_batches(
        &mut group,
        rt,
        store,
        &mut rng,
        "baseline bare unnest upsert",
        1,
    );
    baseline_batches(
        &mut group,
        rt,
        store,
        &mut rng,
        "baseline bare unnest upsert, 4 concurrent",
        4,
    );

    // What the write buffer flushes every 250 ms when 100,000 awards a second of
    // distinct members come in (uniformly random members: the least coalescing).
    group.sample_size(10);
    keeper_batches(
        &mut group,
        rt,
        store,
        &mut rng,
        ("batch_25000", "1 connection"),
        (1, FLOOD_BATCH),
        &Pick::Uniform,
    );
    // The same 25,000 awards as the bot flushes them on PostgreSQL with 4 or more
    // shards: split by shard into 4 batches written side by side.
    keeper_batches(
        &mut group,
        rt,
        store,
        &mut rng,
        ("batch_25000", "as 4 concurrent"),
        (4, FLOOD_BATCH / 4),
        &Pick::Uniform,
    );

    // The same shapes with the awards going to members as they are active.
    let active = Pick::Active(rt.block_on(ActiveMembers::read(store)));
    group.sample_size(20);
    for (name, concurrent, size) in [
        (("active_500", "1 connection"), 1, BATCH),
        (("active_500", "4 concurrent"), 4, BATCH),
        (("active_25000", "1 connection"), 1, FLOOD_BATCH),
        (("active_25000", "as 4 concurrent"), 4, FLOOD_BATCH / 4),
    ] {
        if size == FLOOD_BATCH / concurrent {
            group.sample_size(10);
        }
        keeper_batches(
            &mut group,
            rt,
            store,
            &mut rng,
            name,
            (concurrent, size),
            &active,
        );
    }
    group.finish();
}

fn reads(c: &mut Criterion, rt: &Runtime, store: &PgStore) {
    let mut group = c.benchmark_group("read");
    let big = Id::new(BIG_GUILD as u64);
    let small = Id::new(1);
    for (name, guild, offset) in [
        ("top 10, guild of 100k", big, 0u64),
        ("top 10, guild of 10k", small, 0),
        ("page at offset 1,000, guild of 100k", big, 1_000),
        ("page at offset 50,000, guild of 100k", big, 50_000),
    ] {
        group.bench_function(BenchmarkId::new("leaderboard", name), |b| {
            b.to_async(rt).iter(|| async {
                let page = store
                    .leaderboard(guild, offset, 10)
                    .await
                    .expect("leaderboard");
                assert_eq!(page.len(), 10);
                black_box(page)
            })
        });
    }
    let mut rng = StdRng::seed_from_u64(11);
    for (name, guild, members) in [
        ("guild of 100k", big, BIG_GUILD_MEMBERS),
        ("guild of 10k", small, SMALL_GUILD_MEMBERS),
    ] {
        group.bench_function(BenchmarkId::new("member_rank", name), |b| {
            b.to_async(rt).iter(|| {
                let user = Id::new((USER_BASE + rng.random_range(1..=members)) as u64);
                async move {
                    black_box(
                        store
                            .member_rank(guild, user)
                            .await
                            .expect("rank")
                            .expect("member"),
                    )
                }
            })
        });
    }
    group.finish();

    // member_xp has no index on user_id (migration 0002: it slowed every award),
    // so exporting one user's data reads the whole table. Measured to show what
    // that costs at 1,000,000 rows.
    let mut group = c.benchmark_group("personal data");
    group.sample_size(10);
    group.bench_function("export one user, 1M rows", |b| {
        b.to_async(rt).iter(|| {
            let user = Id::new((USER_BASE + rng.random_range(1..=SMALL_GUILD_MEMBERS)) as u64);
            async move { black_box(store.export_user(user).await.expect("export")) }
        })
    });
    group.finish();
}

/// The bench's own database, created and dropped around the run.
struct BenchDb {
    name: String,
    admin: PgConnectOptions,
}

impl BenchDb {
    async fn create() -> Self {
        let server = std::env::var("KEEPER_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let admin: PgConnectOptions = server.parse().expect("KEEPER_BENCH_POSTGRES_URL");
        let name = format!("keeper_bench_{}", std::process::id());
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "no PostgreSQL at {server} ({e}); start one with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
                )
            });
        // A database name can't be a bound parameter, so this can't be a checked
        // macro; the name is built here from the pid, never from input.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the bench database");
        conn.close().await.ok();
        Self { name, admin }
    }

    fn url(&self) -> String {
        self.admin
            .clone()
            .database(&self.name)
            .to_url_lossy()
            .to_string()
    }

    /// Migrate through the store, then fill member_xp with 1,000,000 members and
    /// the tutorial's table with its 100 x 1,000.
    async fn seed(&self) -> PgStore {
        let store = PgStore::connect(&PgConfig::new(self.url()))
            .await
            .expect("connect");
        let started = Instant::now();
        // Levels come from the same curve as the store's: `width_bucket` finds how
        // many level thresholds an XP total has passed. Buckets are the store's too.
        let thresholds: Vec<i64> = (0..=200).map(total_xp_for_level).collect();
        // The same for buckets: an array of every bucket's lowest XP total.
        let bucket_floors: Vec<i64> = (0..=xp_bucket(300_000)).map(xp_bucket_floor).collect();
        for (first_guild, last_guild, members) in [
            (1, SMALL_GUILDS, SMALL_GUILD_MEMBERS),
            (BIG_GUILD, BIG_GUILD, BIG_GUILD_MEMBERS),
        ] {
            sqlx::query!(
                "INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages,
                                        last_award_at)
                 SELECT g, u, x, width_bucket(x, $1::int8[]) - 1, width_bucket(x, $6::int8[]) - 1,
                        x / 20, now()
                 FROM (SELECT g, $4::int8 + u AS u, floor(random() ^ 3 * 300000)::int8 AS x
                       FROM generate_series($2::int8, $3::int8) AS g,
                            generate_series(1::int8, $5::int8) AS u) AS s",
                &thresholds,
                first_guild,
                last_guild,
                USER_BASE,
                members,
                &bucket_floors,
            )
            .execute(store.pool())
            .await
            .expect("seed member_xp");
        }
        // Not checked: the tutorial's table is not part of Keeper's schema (see
        // the baseline bench).
        sqlx::raw_sql(
            "CREATE TABLE user_data (
                 guild_id BIGINT NOT NULL, user_id BIGINT NOT NULL,
                 xp BIGINT NOT NULL DEFAULT 0, warnings INTEGER NOT NULL DEFAULT 0,
                 PRIMARY KEY (guild_id, user_id));
             INSERT INTO user_data (guild_id, user_id, xp)
             SELECT g, u, 0 FROM generate_series(1, 100) g, generate_series(1, 1000) u;",
        )
        .execute(store.pool())
        .await
        .expect("seed the baseline table");
        // Fresh statistics and visibility map, as autovacuum would leave them on a
        // live database.
        sqlx::query!("VACUUM ANALYZE member_xp")
            .execute(store.pool())
            .await
            .expect("vacuum");
        sqlx::raw_sql("VACUUM ANALYZE user_data")
            .execute(store.pool())
            .await
            .expect("vacuum the baseline table");
        let rows: i64 = sqlx::query_scalar!(r#"SELECT COUNT(*) AS "n!" FROM member_xp"#)
            .fetch_one(store.pool())
            .await
            .expect("count");
        eprintln!("seeded {rows} member rows in {:.1?}", started.elapsed());
        assert_eq!(rows, SMALL_GUILDS * SMALL_GUILD_MEMBERS + BIG_GUILD_MEMBERS);
        store
    }

    async fn drop_db(&self) {
        let mut conn = PgConnection::connect_with(&self.admin)
            .await
            .expect("connect");
        // Same reason as CREATE DATABASE above.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await
        .expect("drop the bench database");
        conn.close().await.ok();
    }
}

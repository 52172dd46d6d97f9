//! MySQL/MariaDB store at 1,000,000 member rows: XP awards (batched and single),
//! leaderboard pages and member rank, next to the tutorial's one-upsert-per-award
//! pattern and the server's own ceiling for a batch, measured in the same run
//! (compare ratios: this machine is noisy). The same groups, ids and data as
//! `keeper-store-postgres`'s store bench.
//!
//!     cargo bench -p keeper-store-mysql
//!
//! Needs a MySQL or MariaDB server where the user may create databases:
//! `KEEPER_TEST_MYSQL_URL` (default mysql://root@127.0.0.1:3306/, as the tests).
//! A database `keeper_bench_<pid>_<random>` is created, seeded and dropped at the
//! end.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use chrono::Utc;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};
use keeper_store::{
    XpAward,
    levels::{level_for_xp, xp_bucket},
    prelude::*,
};
use keeper_store_mysql::{MySqlConfig, MySqlStore};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::{
    AssertSqlSafe, ConnectOptions, Connection, MySqlConnection, mysql::MySqlConnectOptions,
};
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

/// Rows per seeding statement: about 1.5 MB of JSON, well inside the default
/// `max_allowed_packet` (16 MB on MariaDB, 64 MB on MySQL).
const SEED_CHUNK: i64 = 25_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let bench = runtime.block_on(BenchDb::create());
    let store = runtime.block_on(bench.seed());

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
    async fn read(store: &MySqlStore) -> Self {
        let rows =
            sqlx::query!("SELECT guild_id, user_id, xp FROM member_xp ORDER BY guild_id, user_id")
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
    store: &MySqlStore,
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

/// 500 random tutorial awards as (guild, user, xp), sorted by key as
/// baselines.md's ceilings were (sorted keys also keep concurrent batches from
/// deadlocking on each other's rows).
fn baseline_batch(rng: &mut StdRng) -> Vec<(i64, i64, i64)> {
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
    rows
}

/// The tutorial's award: one autocommitted upsert.
async fn tutorial_upsert(pool: &sqlx::MySqlPool, (guild, user, xp): (i64, i64, i64)) {
    // `sqlx::query` rather than a checked macro: `user_data` exists only in the
    // bench database (it is the tutorial's table, not Keeper's), so the macros
    // can't see it at compile time. Values are bound.
    sqlx::query(
        "INSERT INTO user_data (guild_id, user_id, xp, warnings) VALUES (?, ?, ?, 0)
         ON DUPLICATE KEY UPDATE xp = xp + VALUES(xp)",
    )
    .bind(guild)
    .bind(user)
    .bind(xp)
    .execute(pool)
    .await
    .expect("baseline upsert");
}

/// The ceiling's statement: one multi-row `INSERT ... VALUES (?, ?, ?, 0), ...
/// ON DUPLICATE KEY UPDATE` of `BATCH` rows, the way a tutorial writes a batch on
/// MySQL (one text, so sqlx prepares it once per connection and caches it).
fn multi_row_upsert() -> String {
    let mut sql = String::from("INSERT INTO user_data (guild_id, user_id, xp, warnings) VALUES ");
    for i in 0..BATCH {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?, ?, ?, 0)");
    }
    sql.push_str(" ON DUPLICATE KEY UPDATE xp = xp + VALUES(xp)");
    sql
}

async fn baseline_upsert(pool: sqlx::MySqlPool, rows: Vec<(i64, i64, i64)>) {
    // `sqlx::query` rather than a checked macro: `user_data` exists only in the
    // bench database (the tutorial's table), so the macros can't see it at compile
    // time; and its text is built from placeholders only (above). Values are bound.
    let mut query = sqlx::query(AssertSqlSafe(multi_row_upsert()));
    for (g, u, x) in rows {
        query = query.bind(g).bind(u).bind(x);
    }
    query.execute(&pool).await.expect("baseline batch");
}

/// 500 random awards as Keeper's flush would send them: members of Keeper's
/// table drawn as [`random_award`] draws them, summed per member, in key order,
/// as `[[guild, user, awards], ...]`.
fn bare_batch_json(rng: &mut StdRng) -> String {
    let mut members = std::collections::BTreeMap::<(u64, u64), i64>::new();
    for _ in 0..BATCH {
        let award = random_award(rng);
        *members
            .entry((award.guild_id.get(), award.user_id.get()))
            .or_default() += 1;
    }
    let rows: Vec<String> = members
        .iter()
        .map(|((guild, user), n)| format!("[{guild},{user},{n}]"))
        .collect();
    format!("[{}]", rows.join(","))
}

/// The engine's floor for a batch on Keeper's own data: the bare upsert of
/// [`bare_batch_json`]'s members into `member_xp` (1,000,000 rows, Keeper's
/// key, leaderboard index and triggers), autocommitted, with no read-back,
/// levels or bucket counts. It adds to `messages` rather than `xp`, so that
/// the rows keep the buckets their totals are counted in; the row is found and
/// rewritten all the same.
async fn bare_keeper_upsert(pool: sqlx::MySqlPool, json: String) {
    sqlx::query!(
        "INSERT INTO member_xp (guild_id, user_id, xp, xp_bucket, level, messages, last_award_at)
         SELECT j.g, j.u, 0, 0, 0, j.n, NULL
         FROM JSON_TABLE(?, '$[*]' COLUMNS (
                  g BIGINT PATH '$[0]', u BIGINT PATH '$[1]', n BIGINT PATH '$[2]')) AS j
         ON DUPLICATE KEY UPDATE messages = messages + VALUES(messages)",
        json
    )
    .execute(&pool)
    .await
    .expect("bare upsert on member_xp");
}

/// How a floor draws a batch, and writes it.
type BareUpsert<B, F> = (fn(&mut StdRng) -> B, fn(sqlx::MySqlPool, B) -> F);

/// A floor: rounds of `concurrent` bare 500-row upserts (`upsert` of what
/// `batch` draws), the upserts of a round side by side (each on its own
/// connection).
fn bare_batches<B, F>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    store: &MySqlStore,
    rng: &mut StdRng,
    (shape, concurrent): (&str, usize),
    (batch, upsert): BareUpsert<B, F>,
) where
    F: std::future::Future<Output = ()>,
{
    group.throughput(Throughput::Elements((concurrent * BATCH) as u64));
    group.bench_function(BenchmarkId::new("batch_500", shape), |b| {
        b.to_async(rt).iter_custom(|iters| {
            let rounds: Vec<Vec<B>> = (0..iters)
                .map(|_| (0..concurrent).map(|_| batch(rng)).collect())
                .collect();
            let pool = store.pool().clone();
            async move {
                let start = Instant::now();
                for round in rounds {
                    let upserts = round.into_iter().map(|rows| upsert(pool.clone(), rows));
                    futures_util::future::join_all(upserts).await;
                }
                start.elapsed()
            }
        })
    });
}

fn awards(c: &mut Criterion, rt: &Runtime, store: &MySqlStore) {
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

    // The tutorial's pattern on the tutorial's table, same server, same run.
    group.bench_function(
        BenchmarkId::new("single", "baseline tutorial upsert"),
        |b| {
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
                    for award in awards {
                        tutorial_upsert(&pool, award).await;
                    }
                    start.elapsed()
                }
            })
        },
    );

    // The server's own ceiling for a batch: the bare 500-row upsert on the
    // tutorial's table, without levels, a read-back or a transaction around it;
    // and the same on 4 connections at once, which Keeper's "4 concurrent"
    // compares to. Multi-row VALUES, the tutorial's form, rather than
    // JSON_TABLE (Keeper's): on MariaDB 10.11 the two ran within noise of each
    // other (3.7 and 3.8 ms a batch, interleaved), VALUES never behind on one
    // connection.
    for shape in [
        ("baseline bare multi-row upsert", 1),
        ("baseline bare multi-row upsert, 4 concurrent", 4),
    ] {
        bare_batches(
            &mut group,
            rt,
            store,
            &mut rng,
            shape,
            (baseline_batch, baseline_upsert),
        );
    }

    // The same floor on Keeper's own table: what is left between it and
    // Keeper's batch is Keeper's own work (the read-back, levels and bucket
    // moves, the transaction), not the table's size against the buffer pool.
    for shape in [
        ("baseline bare upsert on member_xp", 1),
        ("baseline bare upsert on member_xp, 4 concurrent", 4),
    ] {
        bare_batches(
            &mut group,
            rt,
            store,
            &mut rng,
            shape,
            (bare_batch_json, bare_keeper_upsert),
        );
    }

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
    // The same 25,000 awards as the bot flushes them with 4 or more shards: split
    // by shard into 4 batches written side by side.
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

fn reads(c: &mut Criterion, rt: &Runtime, store: &MySqlStore) {
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

    // member_xp has no index on user_id (as on the other backends: it would slow
    // every award), so exporting one user's data reads the whole table. Measured
    // to show what that costs at 1,000,000 rows.
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
    admin: MySqlConnectOptions,
}

impl BenchDb {
    async fn create() -> Self {
        let server = std::env::var("KEEPER_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".to_owned());
        let admin: MySqlConnectOptions = server
            .replacen("mariadb://", "mysql://", 1)
            .parse()
            .expect("KEEPER_TEST_MYSQL_URL");
        // Unique across runs at once (pid) and leftovers of a killed run (random).
        let name = format!(
            "keeper_bench_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let mut conn = MySqlConnection::connect_with(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "no MySQL or MariaDB at {server} ({e}); start the local MariaDB with \
                     `service mariadb start` (or `mysqld_safe &`)"
                )
            });
        // A database name can't be a bound parameter, so this can't be a checked
        // macro; the name is built here from the pid and hex digits, never from input.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )))
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
    async fn seed(&self) -> MySqlStore {
        let store = MySqlStore::connect(&MySqlConfig::new(self.url()))
            .await
            .expect("connect");
        let started = Instant::now();
        // XP spread as on PostgreSQL (`300,000 * r^3`): a few very active members
        // and many quiet ones. Levels and buckets from the store's own functions;
        // member_xp's insert trigger counts each row into member_xp_buckets.
        let mut rng = StdRng::seed_from_u64(3);
        let now = Utc::now().timestamp_millis();
        for (first_guild, last_guild, members) in [
            (1, SMALL_GUILDS, SMALL_GUILD_MEMBERS),
            (BIG_GUILD, BIG_GUILD, BIG_GUILD_MEMBERS),
        ] {
            for guild in first_guild..=last_guild {
                for first in (1..=members).step_by(SEED_CHUNK as usize) {
                    let last = (first + SEED_CHUNK - 1).min(members);
                    let mut json = String::with_capacity(2 + (last - first + 1) as usize * 60);
                    json.push('[');
                    for user in first..=last {
                        if user > first {
                            json.push(',');
                        }
                        let r: f64 = rng.random();
                        let xp = (r * r * r * 300_000.0) as i64;
                        json.push_str(&format!(
                            "[{guild},{},{xp},{},{},{}]",
                            USER_BASE + user,
                            level_for_xp(xp),
                            xp_bucket(xp),
                            xp / 20
                        ));
                    }
                    json.push(']');
                    sqlx::query!(
                        "INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages,
                                                last_award_at)
                         SELECT j.g, j.u, j.x, j.l, j.b, j.n, ?
                         FROM JSON_TABLE(?, '$[*]' COLUMNS (
                                  g BIGINT PATH '$[0]', u BIGINT PATH '$[1]',
                                  x BIGINT PATH '$[2]', l INT PATH '$[3]',
                                  b BIGINT PATH '$[4]', n BIGINT PATH '$[5]')) AS j",
                        now,
                        json
                    )
                    .execute(store.pool())
                    .await
                    .expect("seed member_xp");
                }
            }
        }
        // Not checked: the tutorial's table is not part of Keeper's schema (see
        // the baseline bench). 100 x 1,000 from a recursive CTE (1,000 rows deep:
        // inside MySQL's default `cte_max_recursion_depth`).
        sqlx::raw_sql(
            "CREATE TABLE user_data (
                 guild_id BIGINT NOT NULL, user_id BIGINT NOT NULL,
                 xp BIGINT NOT NULL DEFAULT 0, warnings INT NOT NULL DEFAULT 0,
                 PRIMARY KEY (guild_id, user_id)) ENGINE = InnoDB;
             INSERT INTO user_data (guild_id, user_id, xp)
             WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
             SELECT g.i, u.i, 0 FROM n AS g JOIN n AS u ON g.i <= 100;",
        )
        .execute(store.pool())
        .await
        .expect("seed the baseline table");
        // Fresh statistics, as InnoDB's background recalculation would leave them
        // on a live database.
        sqlx::raw_sql("ANALYZE TABLE member_xp, member_xp_buckets, user_data")
            .execute(store.pool())
            .await
            .expect("analyze");
        let rows: i64 = sqlx::query_scalar!(r#"SELECT COUNT(*) AS "n!: i64" FROM member_xp"#)
            .fetch_one(store.pool())
            .await
            .expect("count");
        eprintln!("seeded {rows} member rows in {:.1?}", started.elapsed());
        assert_eq!(rows, SMALL_GUILDS * SMALL_GUILD_MEMBERS + BIG_GUILD_MEMBERS);
        store
    }

    async fn drop_db(&self) {
        let mut conn = MySqlConnection::connect_with(&self.admin)
            .await
            .expect("connect");
        // Same reason as CREATE DATABASE above.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {}",
            self.name
        )))
        .execute(&mut conn)
        .await
        .expect("drop the bench database");
        conn.close().await.ok();
    }
}

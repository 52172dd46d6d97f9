//! What only the SQLite backend promises: WAL and the configured durability, one
//! writer so "database is locked" never reaches a caller, a WAL that checkpoints,
//! clear errors for unusable paths, and migrations at boot.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::{TempDir, open};
use keeper_store::{
    CaseKind, GatewaySession, NewCase, SettingsPatch, StoreError, XpAward, prelude::*,
};
use keeper_store_sqlite::{SqliteConfig, SqliteStore, SqliteSync, binary_schema_version};
use sqlx::Connection;
use twilight_model::id::Id;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_764_000_000_000 + ms).unwrap()
}

fn award(guild: u64, user: u64, xp: i64, ms: i64) -> XpAward {
    XpAward {
        guild_id: Id::new(guild),
        user_id: Id::new(user),
        xp,
        messages: 1,
        at: at(ms),
    }
}

async fn config_error(url: &str) -> String {
    match SqliteStore::connect(&SqliteConfig::new(url)).await {
        Err(StoreError::Config(message)) => message,
        Err(other) => panic!("{url}: expected a configuration error, got {other:?}"),
        Ok(_) => panic!("{url}: expected a configuration error, but it opened"),
    }
}

#[tokio::test]
async fn wal_and_synchronous_as_configured() {
    let dir = TempDir::new();
    for (name, sync) in [
        ("normal.db", SqliteSync::Normal),
        ("full.db", SqliteSync::Full),
    ] {
        let config = SqliteConfig {
            sync,
            ..SqliteConfig::new(dir.url(name))
        };
        let store = SqliteStore::connect(&config).await.unwrap();
        let pragmas = store.pragmas().await.unwrap();
        assert_eq!(pragmas.journal_mode, "wal", "{name}");
        assert_eq!(pragmas.synchronous, sync, "{name}");
        assert!(pragmas.foreign_keys, "{name}");
        store.close().await;
    }
    assert_eq!(SqliteConfig::new("sqlite://x.db").sync, SqliteSync::Normal);
}

#[tokio::test]
async fn creates_a_missing_file() {
    let dir = TempDir::new();
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let store = open(&dir.url("new.db")).await;
    assert!(path.exists());
    assert_eq!(store.path(), path);
    store.health_check().await.unwrap();
    store.close().await;
}

/// Writers and readers at once, in this store and in a second one on the same
/// file (as a second process would be): every call succeeds and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_readers_never_see_locked() {
    let dir = TempDir::new();
    let url = dir.url("busy.db");
    let store = Arc::new(open(&url).await);
    let other = Arc::new(open(&url).await);
    let guild = Id::new(7);
    const WRITERS: u64 = 12;
    const AWARDS: u64 = 400;

    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        // Most writers share the first store's writer; two go through the second
        // store and so contend for the file lock itself (busy_timeout).
        let s: Arc<dyn Store> = if w < 2 { other.clone() } else { store.clone() };
        tasks.push(tokio::spawn(async move {
            for i in 0..AWARDS {
                let batch = [award(7, 1 + (w * 31 + i) % 50, 10, i as i64)];
                s.award_xp(&batch, &[]).await.expect("award");
                if i % 40 == 0 {
                    s.add_case(
                        &NewCase {
                            reason: Some(format!("writer {w} step {i}")),
                            ..NewCase::new(
                                guild,
                                Id::new(1 + w),
                                Id::new(99),
                                CaseKind::Warn,
                                at(i as i64),
                            )
                        },
                        None,
                    )
                    .await
                    .expect("case");
                    s.update_settings(
                        guild,
                        &SettingsPatch {
                            xp_cooldown_secs: Some((w * 100 + i) as i32 % 3600),
                            ..Default::default()
                        },
                        at(i as i64),
                    )
                    .await
                    .expect("settings");
                }
            }
        }));
    }
    for r in 0..6u64 {
        let s: Arc<dyn Store> = if r == 0 { other.clone() } else { store.clone() };
        tasks.push(tokio::spawn(async move {
            for _ in 0..300 {
                s.leaderboard(guild, 0, 10).await.expect("leaderboard");
                s.member_rank(guild, Id::new(1 + r)).await.expect("rank");
                s.settings(guild).await.expect("settings");
                s.cases(guild, None, 5).await.expect("cases");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let total: i64 = store
        .leaderboard(guild, 0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|m| m.xp)
        .sum();
    assert_eq!(total, (WRITERS * AWARDS * 10) as i64);
    let cases = store.cases(guild, None, 1000).await.unwrap();
    let mut numbers: Vec<i64> = cases.iter().map(|c| c.number).collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=(WRITERS * AWARDS / 40) as i64).collect::<Vec<_>>()
    );
    other.close().await;
    store.close().await;
}

/// Each award is an INSERT ... RETURNING. Were one left un-finished (fetch_one),
/// the WAL could never be reset and would grow by every commit (~300 MB here);
/// read to the end, auto-checkpoints keep it near its 8,192-page (32 MiB) threshold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_stays_small_under_returning_awards() {
    let dir = TempDir::new();
    let store = Arc::new(open(&dir.url("wal.db")).await);
    let wal = dir.path().join("wal.db-wal");

    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..2_000 {
                store.leaderboard(Id::new(1), 0, 10).await.unwrap();
                store.member_rank(Id::new(1), Id::new(5)).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut largest = 0;
    for i in 0..20_000u64 {
        let out = store
            .award_xp(&[award(1, 1 + i % 5_000, 20, i as i64)], &[checkpoint(i)])
            .await
            .unwrap();
        assert_eq!(out.len(), 1);
        if i % 1_000 == 0 {
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
    }
    reader.await.unwrap();
    largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    assert!(
        largest < 48 * 1024 * 1024,
        "the WAL grew to {largest} bytes: checkpoints are not completing"
    );
    assert_eq!(store.session(0).await.unwrap().unwrap().sequence, 19_999);
    store.close().await;
}

#[tokio::test]
async fn missing_directory_is_a_config_error_naming_the_path() {
    let dir = TempDir::new();
    let path = dir.path().join("no-such-dir").join("keeper.db");
    let message = config_error(&format!("sqlite://{}", path.display())).await;
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("No such file or directory"), "{message}");
}

#[tokio::test]
async fn unwritable_path_is_a_config_error_with_the_os_reason() {
    // Tests may run as root, which ignores permission bits; a path below a
    // regular file fails for everyone.
    let dir = TempDir::new();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let path = file.join("keeper.db");
    let message = config_error(&format!("sqlite://{}", path.display())).await;
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("not a directory"), "{message}");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_a_config_error() {
    let dir = TempDir::new();
    let path = dir.path().join("junk.db");
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let message = config_error(&dir.url("junk.db")).await;
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test]
async fn memory_and_malformed_urls_are_refused() {
    let message = config_error("sqlite::memory:").await;
    assert!(message.contains("in-memory"), "{message}");
    let message = config_error("sqlite://x.db?mode=bogus").await;
    assert!(
        message.contains("not a valid SQLite database URL"),
        "{message}"
    );
}

#[tokio::test]
async fn migrations_apply_from_empty_and_rerun_at_boot() {
    let dir = TempDir::new();
    let url = dir.url("migrate.db");
    let store = open(&url).await;
    assert_eq!(
        store.schema_version().await.unwrap(),
        binary_schema_version()
    );
    let counts = store.table_counts().await.unwrap();
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
    store.award_xp(&[award(1, 2, 150, 0)], &[]).await.unwrap();
    store.close().await;

    // A second boot finds everything applied, changes nothing and keeps the data.
    let store = open(&url).await;
    assert_eq!(
        store.schema_version().await.unwrap(),
        binary_schema_version()
    );
    let rank = store
        .member_rank(Id::new(1), Id::new(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rank.member.xp, rank.member.level), (150, 1));
    store.close().await;
}

/// A new database file in `dir` migrated up to schema `version` only, and a
/// connection to it for seeding what an older Keeper wrote.
async fn migrated_to(dir: &TempDir, version: i64) -> (String, sqlx::SqliteConnection) {
    let url = dir.url(&format!("v{version}.db"));
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let mut conn = sqlx::SqliteConnection::connect_with(&options.create_if_missing(true))
        .await
        .unwrap();
    keeper_store_sqlite::MIGRATOR
        .run_to(version, &mut conn)
        .await
        .unwrap();
    (url, conn)
}

/// Close the seeding connection and open the store, which migrates the
/// database to this build's version.
async fn upgraded(conn: sqlx::SqliteConnection, url: &str) -> SqliteStore {
    conn.close().await.unwrap();
    let store = open(url).await;
    assert_eq!(
        store.schema_version().await.unwrap(),
        binary_schema_version()
    );
    store
}

/// A database at schema v6 with cases in it: opening it applies 0008, which
/// rebuilds `mod_cases` (SQLite can't change a CHECK in place); every case is
/// kept, Keeper's own and done.
#[tokio::test]
async fn an_upgrade_from_v6_keeps_every_case() {
    use keeper_store::conformance;
    let dir = TempDir::new();
    let (url, mut conn) = migrated_to(&dir, 6).await;
    let t0 = conformance::T0_SECS * 1000;
    sqlx::query!(
        "INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
                                created_at, expires_at, revoked_by, revoked_at)
         VALUES (1, 1, 10, 9, 'warn', 'old', ?1, ?1 + 3600000, NULL, NULL),
                (1, 2, 10, 9, 'ban', NULL, ?1, NULL, 8, ?1 + 60000)",
        t0
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query!("INSERT INTO case_counters (guild_id, last_case) VALUES (1, 2)")
        .execute(&mut conn)
        .await
        .unwrap();
    let store = upgraded(conn, &url).await;
    conformance::check_upgraded_cases(&store).await;
    store.close().await;
}

/// A database at schema v2 (leaderboard index on XP) with members in it: opening
/// it applies 0003, which fills every member's XP bucket.
#[tokio::test]
async fn an_upgrade_from_v2_fills_the_xp_buckets() {
    use keeper_store::{conformance, levels::level_for_xp};
    let dir = TempDir::new();
    let (url, mut conn) = migrated_to(&dir, 2).await;
    for (user, xp) in conformance::V2_MEMBERS {
        let (user, level) = (user as i64, i64::from(level_for_xp(xp)));
        sqlx::query!(
            "INSERT INTO member_xp (guild_id, user_id, xp, level, messages) VALUES (1, ?1, ?2, ?3, 1)",
            user,
            xp,
            level
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let store = upgraded(conn, &url).await;
    conformance::check_upgraded_from_v2(&store).await;
    store.close().await;
}

#[tokio::test]
async fn a_newer_schema_is_refused_naming_both_versions() {
    let dir = TempDir::new();
    let url = dir.url("future.db");
    open(&url).await.close().await;

    let future = binary_schema_version() + 1;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query!(
        r#"INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
           VALUES (?1, 'from a newer Keeper', TRUE, x'00', 0)"#,
        future
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    match SqliteStore::connect(&SqliteConfig::new(&url)).await {
        Err(err @ StoreError::SchemaTooNew { database, binary }) => {
            assert_eq!((database, binary), (future, binary_schema_version()));
            let message = err.to_string();
            assert!(message.contains(&format!("version {future}")), "{message}");
            assert!(message.contains(&format!("version {binary}")), "{message}");
        }
        Err(other) => panic!("expected SchemaTooNew, got {other:?}"),
        Ok(_) => panic!("a database newer than the binary was opened"),
    }
}

#[tokio::test]
async fn an_xp_total_past_i64_is_refused_and_changes_nothing() {
    let dir = TempDir::new();
    let store = open(&dir.url("overflow.db")).await;
    let (guild, user) = (Id::new(1), Id::new(2));
    store
        .set_xp(guild, user, i64::MAX - 5, at(0), None)
        .await
        .unwrap();
    match store.add_xp(guild, user, 10, at(1), None).await {
        Err(StoreError::Invalid(message)) => assert!(message.contains("out of range"), "{message}"),
        other => panic!("expected an out-of-range refusal, got {other:?}"),
    }
    let rank = store.member_rank(guild, user).await.unwrap().unwrap();
    assert_eq!(rank.member.xp, i64::MAX - 5);
    store.close().await;
}

/// The views for the sqlite3 shell (migration 0010) show what the store's own
/// reads say: places, the warnings that count, each guild's totals.
#[tokio::test]
async fn the_views_show_what_the_store_reads() {
    let dir = TempDir::new();
    let url = dir.url("views.db");
    let store = open(&url).await;
    let expected = keeper_store::conformance::fill_for_views(&store).await;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let leaderboard = sqlx::query!(
        r#"SELECT guild_id AS "guild_id!: i64", rank AS "rank!: i64", user_id AS "user_id!: i64",
                  xp AS "xp!: i64", level AS "level!: i64", display_name
           FROM leaderboard ORDER BY guild_id, rank"#
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let leaderboard: Vec<_> = leaderboard
        .into_iter()
        .map(|r| {
            let name = r.display_name;
            (
                r.guild_id as u64,
                r.rank,
                r.user_id as u64,
                r.xp,
                r.level,
                name,
            )
        })
        .collect();
    assert_eq!(leaderboard, expected.leaderboard);
    let active = sqlx::query!(
        r#"SELECT guild_id AS "guild_id!: i64", case_number AS "case_number!: i64"
           FROM active_warnings ORDER BY guild_id, case_number"#
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let active: Vec<_> = active
        .into_iter()
        .map(|r| (r.guild_id as u64, r.case_number))
        .collect();
    assert_eq!(active, expected.active_warnings);
    let overview = sqlx::query!(
        r#"SELECT guild_id AS "guild_id!: i64", members_with_xp AS "members_with_xp!: i64",
                  total_xp AS "total_xp!: i64", cases AS "cases!: i64",
                  active_warnings AS "active_warnings!: i64", prefix AS "prefix?: String"
           FROM guild_overview ORDER BY guild_id"#
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let overview: Vec<_> = overview
        .into_iter()
        .map(|r| {
            let g = r.guild_id as u64;
            (
                g,
                r.members_with_xp,
                r.total_xp,
                r.cases,
                r.active_warnings,
                r.prefix,
            )
        })
        .collect();
    assert_eq!(overview, expected.overview);
    conn.close().await.unwrap();
    store.close().await;
}

fn checkpoint(sequence: u64) -> GatewaySession {
    GatewaySession {
        shard_id: 0,
        shard_total: 1,
        session_id: "s".into(),
        resume_url: "wss://resume".into(),
        sequence,
        updated_at: at(sequence as i64),
    }
}

/// How many parts `xp_staged` holds, read beside the store.
async fn staged_parts(url: &str) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let parts = sqlx::query_scalar("SELECT COUNT(*) FROM xp_staged")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    parts
}

/// A flush of more members than one transaction takes is written in parts
/// (so that a command can take SQLite's one writer between two): every member
/// exactly once, every level-up returned, nothing left staged, and the same
/// batch with the same checkpoint again (a retry after an unclear failure)
/// writes nothing.
#[tokio::test]
async fn a_flush_in_parts_is_exact_once() {
    let dir = TempDir::new();
    let url = dir.url("parts.db");
    let store = open(&url).await;
    let batch: Vec<XpAward> = (1..=2_000)
        .map(|u| award(1 + u % 3, u, 100 + u as i64, 5))
        .collect();
    let outcomes = store.award_xp(&batch, &[checkpoint(7)]).await.unwrap();
    assert_eq!(outcomes.len(), 2_000, "an outcome for every member");
    assert!(
        outcomes
            .windows(2)
            .all(|w| (w[0].guild_id, w[0].user_id) < (w[1].guild_id, w[1].user_id))
    );
    assert_eq!(staged_parts(&url).await, 0);
    assert!(
        store
            .award_xp(&batch, &[checkpoint(7)])
            .await
            .unwrap()
            .is_empty()
    );
    for a in [&batch[0], &batch[999], &batch[1_999]] {
        let rank = store
            .member_rank(a.guild_id, a.user_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rank.member.xp, a.xp, "{a:?}");
        assert_eq!(rank.member.messages, 1);
    }
    let total: i64 = batch.iter().map(|a| a.xp).sum();
    let mut stored = 0;
    for guild in 1..=3 {
        stored += store
            .leaderboard(Id::new(guild), 0, 1_000)
            .await
            .unwrap()
            .iter()
            .map(|m| m.xp)
            .sum::<i64>();
    }
    assert_eq!(stored, total);
    assert_eq!(store.session(0).await.unwrap().unwrap().sequence, 7);
    store.close().await;
}

/// Parts a flush staged before it stopped (a crash between two parts) are
/// applied when the file is opened again, once: the checkpoint saved with them
/// means Discord does not replay their messages.
#[tokio::test]
async fn parts_left_staged_by_a_crash_are_applied_at_start_once() {
    let dir = TempDir::new();
    let url = dir.url("crash.db");
    let store = open(&url).await;
    store.award_xp(&[award(1, 1, 50, 0)], &[]).await.unwrap();
    store.close().await;
    // What a flush leaves when it dies after staging and one part.
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO xp_staged (awards) VALUES (?1), (?2)")
        .bind(format!(
            "[[1,1,25,1,{}],[1,2,7,2,{}]]",
            at(9).timestamp_millis(),
            at(9).timestamp_millis()
        ))
        .bind(format!("[[2,3,40,1,{}]]", at(9).timestamp_millis()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert_eq!(staged_parts(&url).await, 2);

    let store = open(&url).await;
    assert_eq!(staged_parts(&url).await, 0);
    let one = store
        .member_rank(Id::new(1), Id::new(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((one.member.xp, one.member.messages), (75, 2));
    assert_eq!(one.member.last_award_at, Some(at(9)));
    let two = store
        .member_rank(Id::new(1), Id::new(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (two.member.xp, two.member.messages, two.position),
        (7, 2, 2)
    );
    let three = store
        .member_rank(Id::new(2), Id::new(3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(three.member.xp, 40);
    store.close().await;
    // Opening again applies nothing more.
    let store = open(&url).await;
    let one = store
        .member_rank(Id::new(1), Id::new(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.member.xp, 75);
    store.close().await;
}

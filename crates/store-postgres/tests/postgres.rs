//! What only the PostgreSQL backend does: boot with retries, concurrent migrations,
//! refusing a newer schema, the table comments.

mod common;

use common::ScratchDb;
use keeper_store::{StoreError, XpAward, prelude::*};
use keeper_store_postgres::{
    MIGRATOR, PgConfig, PgStore, Pooler, SCHEMA_VERSION, binary_schema_version,
};
use sqlx::{Connection, PgConnection};
use twilight_model::id::Id;

async fn raw_conn(db: &ScratchDb) -> PgConnection {
    PgConnection::connect(&db.url)
        .await
        .expect("connect to the test database")
}

#[tokio::test]
async fn migrates_from_empty_and_reruns_at_second_boot() {
    let db = ScratchDb::create().await;
    let first = PgStore::connect(&db.config()).await.expect("first boot");
    assert_eq!(first.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(binary_schema_version(), SCHEMA_VERSION);
    const { assert!(SCHEMA_VERSION >= 1) };
    first
        .add_xp(Id::new(1), Id::new(2), 150, chrono::Utc::now(), None)
        .await
        .unwrap();
    first.close().await;

    let second = PgStore::connect(&db.config())
        .await
        .expect("second boot re-runs migrations");
    assert_eq!(second.schema_version().await.unwrap(), SCHEMA_VERSION);
    let rank = second
        .member_rank(Id::new(1), Id::new(2))
        .await
        .unwrap()
        .expect("data survives the second boot");
    assert_eq!((rank.member.xp, rank.member.level), (150, 1));
    let mut conn = raw_conn(&db).await;
    let applied = sqlx::query_scalar!(r#"SELECT COUNT(*) AS "n!" FROM _sqlx_migrations"#)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        applied,
        MIGRATOR.iter().count() as i64,
        "each migration applied exactly once"
    );
    conn.close().await.unwrap();
    second.close().await;
    db.drop_db().await;
}

/// A new database migrated up to schema `version` only, and a connection to it
/// for seeding what an older Keeper wrote.
async fn migrated_to(version: i64) -> (ScratchDb, PgConnection) {
    let db = ScratchDb::create().await;
    let mut conn = raw_conn(&db).await;
    keeper_store_postgres::MIGRATOR
        .run_to(version, &mut conn)
        .await
        .unwrap();
    (db, conn)
}

/// Close the seeding connection and open the store, which migrates the
/// database to this build's version.
async fn upgraded(conn: PgConnection, db: &ScratchDb) -> PgStore {
    conn.close().await.unwrap();
    let store = PgStore::connect(&db.config()).await.expect("upgrade");
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    store
}

/// A database at schema v2 (leaderboard index on XP) with members in it: opening
/// it applies 0003, which fills every member's XP bucket.
#[tokio::test]
async fn an_upgrade_from_v2_fills_the_xp_buckets() {
    use keeper_store::{conformance, levels::level_for_xp};
    let (db, mut conn) = migrated_to(2).await;
    for (user, xp) in conformance::V2_MEMBERS {
        sqlx::query!(
            "INSERT INTO member_xp (guild_id, user_id, xp, level, messages) VALUES (1, $1, $2, $3, 1)",
            user as i64,
            xp,
            level_for_xp(xp),
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let store = upgraded(conn, &db).await;
    conformance::check_upgraded_from_v2(&store).await;
    store.close().await;
    db.drop_db().await;
}

/// A database at schema v6 with cases in it: opening it applies 0008 (the new
/// kinds' CHECK, the columns with their defaults); every case is kept, Keeper's
/// own and done.
#[tokio::test]
async fn an_upgrade_from_v6_keeps_every_case() {
    use keeper_store::conformance;
    let (db, mut conn) = migrated_to(6).await;
    let t0 = chrono::DateTime::from_timestamp(conformance::T0_SECS, 0).unwrap();
    sqlx::query!(
        "INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
                                created_at, expires_at, revoked_by, revoked_at)
         VALUES (1, 1, 10, 9, 'warn', 'old', $1::timestamptz, $1::timestamptz + interval '1 hour', NULL, NULL),
                (1, 2, 10, 9, 'ban', NULL, $1::timestamptz, NULL, 8, $1::timestamptz + interval '1 minute')",
        t0,
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query!("INSERT INTO case_counters (guild_id, last_case) VALUES (1, 2)")
        .execute(&mut conn)
        .await
        .unwrap();
    let store = upgraded(conn, &db).await;
    conformance::check_upgraded_cases(&store).await;
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_boots_on_an_empty_database_do_not_race() {
    let db = ScratchDb::create().await;
    let config = db.config();
    let boots = (0..4).map(|_| {
        let config = config.clone();
        tokio::spawn(async move { PgStore::connect(&config).await })
    });
    let stores: Vec<PgStore> = futures_util::future::join_all(boots)
        .await
        .into_iter()
        .map(|joined| {
            joined
                .expect("boot task")
                .expect("every concurrent boot succeeds")
        })
        .collect();
    for store in &stores {
        assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    }
    let mut conn = raw_conn(&db).await;
    let applied = sqlx::query_scalar!(r#"SELECT COUNT(*) AS "n!" FROM _sqlx_migrations"#)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        applied,
        MIGRATOR.iter().count() as i64,
        "no migration applied twice"
    );
    conn.close().await.unwrap();
    for store in stores {
        store.close().await;
    }
    db.drop_db().await;
}

#[tokio::test]
async fn refuses_a_schema_newer_than_the_binary() {
    let db = ScratchDb::create().await;
    PgStore::connect(&db.config()).await.unwrap().close().await;
    let future = SCHEMA_VERSION + 41;
    let mut conn = raw_conn(&db).await;
    // What a newer Keeper would have left behind.
    sqlx::query!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, 'from the future', TRUE, '\\x00'::bytea, 0)",
        future,
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let err = PgStore::connect(&db.config())
        .await
        .expect_err("a newer schema is refused");
    assert!(
        matches!(err, StoreError::SchemaTooNew { database, binary } if database == future && binary == SCHEMA_VERSION),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&future.to_string()), "{message}");
    assert!(message.contains(&SCHEMA_VERSION.to_string()), "{message}");
    db.drop_db().await;
}

#[tokio::test]
async fn unreachable_server_is_unavailable_after_the_configured_attempts() {
    // Port 1 is reserved and nothing listens there: every attempt is refused.
    let config = PgConfig {
        url: "postgres://postgres@127.0.0.1:1/keeper".into(),
        pool_size: 2,
        connect_attempts: 2,
        pooler: Pooler::None,
    };
    let err = PgStore::connect(&config)
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_unavailable(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("127.0.0.1:1"),
        "names host and port: {message}"
    );
    assert!(
        message.contains("2 attempts"),
        "names the attempts: {message}"
    );
}

#[tokio::test]
async fn invalid_url_is_a_config_error() {
    for url in [
        "postgres://user@host:notaport/db",
        "not a url at all",
        "postgres://[::1/db",
    ] {
        let err = PgStore::connect(&PgConfig::new(url)).await.expect_err(url);
        assert!(matches!(err, StoreError::Config(_)), "{url}: {err:?}");
    }
}

#[tokio::test]
async fn a_missing_database_is_a_config_error_at_once() {
    let db = ScratchDb::create().await;
    let mut config = db.config();
    config.url = config
        .url
        .replace(&db.name, &format!("{}_missing", db.name));
    config.connect_attempts = 5;
    let err = PgStore::connect(&config)
        .await
        .expect_err("no such database");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    db.drop_db().await;
}

/// The upsert computes the bucket in SQL (0015) while imports, copies and the
/// reads compute it in Rust: both must agree everywhere, edges of every bucket
/// included, or ranks and counts would drift.
#[tokio::test]
async fn the_sql_bucket_is_keepers_bucket() {
    use keeper_store::levels::{XP_BUCKET_CAP, xp_bucket, xp_bucket_floor};
    let db = ScratchDb::create().await;
    let store = PgStore::connect(&db.config()).await.unwrap();
    let mut xps = vec![
        i64::MIN,
        -1,
        0,
        1,
        2,
        63,
        64,
        65,
        i64::MAX,
        XP_BUCKET_CAP + 1,
    ];
    for b in 0..=xp_bucket(XP_BUCKET_CAP) {
        let floor = xp_bucket_floor(b);
        xps.extend([floor - 1, floor, floor + 1]);
    }
    // A spread of ordinary totals between the edges.
    let mut x: i64 = 1;
    while x < XP_BUCKET_CAP {
        xps.push(x);
        x = x * 21 / 20 + 7;
    }
    let in_sql: Vec<i64> = sqlx::query_scalar!(
        r#"SELECT member_xp_bucket(x) AS "b!"
           FROM UNNEST($1::int8[]) WITH ORDINALITY AS a(x, i) ORDER BY i"#,
        &xps
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(in_sql.len(), xps.len());
    let differ: Vec<_> = (xps.iter().zip(&in_sql))
        .filter(|&(&x, &b)| xp_bucket(x) != b)
        .map(|(&x, &b)| (x, b, xp_bucket(x)))
        .collect();
    assert!(
        differ.is_empty(),
        "(xp, SQL, Rust): {:?}",
        &differ[..differ.len().min(10)]
    );
    store.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn every_table_is_commented() {
    let db = ScratchDb::create().await;
    let store = PgStore::connect(&db.config()).await.unwrap();
    // `\d+` shows these comments to whoever opens the database in psql.
    let tables = sqlx::query!(
        r#"SELECT c.relname AS "table!", obj_description(c.oid, 'pg_class') AS comment
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_sqlx_migrations'
           ORDER BY c.relname"#
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(
        names,
        [
            "applied_interactions",
            "backup_runs",
            "case_amendments",
            "case_counters",
            "escalation_rules",
            "gateway_sessions",
            "guild_roles",
            "guild_settings",
            "guilds",
            "identify_slots",
            "level_rewards",
            "member_profiles",
            "member_xp",
            "member_xp_buckets",
            "mod_cases",
            "welcomed_members",
        ]
    );
    for t in &tables {
        assert!(
            t.comment.as_deref().is_some_and(|c| !c.is_empty()),
            "table {} has no COMMENT ON",
            t.table
        );
    }
    store.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_stopped_pool_reports_unavailable_not_internal() {
    let db = ScratchDb::create().await;
    let store = PgStore::connect(&db.config()).await.unwrap();
    store.close().await;
    let err = store.health_check().await.expect_err("the pool is closed");
    assert!(err.is_unavailable(), "{err:?}");
    db.drop_db().await;
}

#[tokio::test]
async fn default_config() {
    let config = PgConfig::new("postgres://localhost/keeper");
    assert_eq!(config.pool_size, 10);
    assert!(config.connect_attempts > 1);
}

/// Every connection of the pool carries the limits that keep a silent client
/// from holding the server: statement and idle-transaction timeouts, keepalives.
#[tokio::test]
async fn connections_carry_the_session_limits() {
    let db = ScratchDb::create().await;
    let store = PgStore::connect(&db.config()).await.expect("boot");
    let mut conn = store.pool().acquire().await.unwrap();
    for (setting, expected) in [
        ("statement_timeout", "10s"),
        ("idle_in_transaction_session_timeout", "30s"),
        ("tcp_keepalives_idle", "30"),
        ("tcp_keepalives_interval", "10"),
        ("tcp_keepalives_count", "3"),
    ] {
        let value: String = sqlx::query_scalar("SELECT current_setting($1)")
            .bind(setting)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(value, expected, "{setting}");
    }
    drop(conn);
    store.close().await;
    db.drop_db().await;
}

/// Two processes (two pools on one database) warn members of one guild at once,
/// with a rule at 3: numbers exact across both, and each member escalated once,
/// from their third warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_warning_at_once_escalate_once() {
    use keeper_store::{CaseKind, EscalationAction, EscalationRule, NewCase};
    let db = ScratchDb::create().await;
    let first = std::sync::Arc::new(PgStore::connect(&db.config()).await.unwrap());
    let second = std::sync::Arc::new(PgStore::connect(&db.config()).await.unwrap());
    let guild = Id::new(1);
    first
        .set_escalation(&EscalationRule {
            guild_id: guild,
            warnings: 3,
            action: EscalationAction::Timeout,
            duration_secs: Some(600),
        })
        .await
        .unwrap();
    let now = chrono::Utc::now();
    const MEMBERS: u64 = 5;
    const EACH: u64 = 8;
    let tasks: Vec<_> = (0..MEMBERS * EACH)
        .map(|i| {
            let store = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                let warning = NewCase::new(
                    guild,
                    Id::new(10 + i % MEMBERS),
                    Id::new(9),
                    CaseKind::Warn,
                    now,
                );
                store
                    .add_warning(&warning, now, None)
                    .await
                    .unwrap()
                    .now()
                    .unwrap()
            })
        })
        .collect();
    let mut escalations = 0;
    for t in tasks {
        escalations += usize::from(t.await.unwrap().escalation.is_some());
    }
    assert_eq!(escalations, MEMBERS as usize, "once per member");
    let cases = first.cases(guild, None, 1000).await.unwrap();
    let total = (MEMBERS * EACH + MEMBERS) as i64;
    let numbers: Vec<i64> = cases.iter().map(|c| c.number).collect();
    assert_eq!(
        numbers,
        (1..=total).rev().collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    for member in 0..MEMBERS {
        let target = Id::new(10 + member);
        let theirs: Vec<_> = cases.iter().filter(|c| c.target_id == target).collect();
        let warnings: Vec<i64> = theirs
            .iter()
            .filter(|c| c.kind == CaseKind::Warn)
            .map(|c| c.number)
            .collect();
        let timeouts: Vec<_> = theirs
            .iter()
            .filter(|c| c.kind == CaseKind::Timeout)
            .collect();
        assert_eq!(warnings.len() as u64, EACH);
        assert_eq!(timeouts.len(), 1, "member {member}");
        // Warnings are listed newest first: the third is third from the end.
        assert_eq!(
            timeouts[0].escalated_from,
            Some(warnings[warnings.len() - 3])
        );
    }
    first.close().await;
    second.close().await;
    db.drop_db().await;
}

/// The views for psql (migration 0010) show what the store's own reads say:
/// places, the warnings that count, each guild's totals; and each is
/// commented, so `\d+` explains it.
#[tokio::test]
async fn the_views_show_what_the_store_reads() {
    let db = ScratchDb::create().await;
    let store = PgStore::connect(&db.config()).await.unwrap();
    let expected = keeper_store::conformance::fill_for_views(&store).await;
    let leaderboard = sqlx::query!(
        r#"SELECT guild_id AS "guild_id!", rank AS "rank!", user_id AS "user_id!",
                  xp AS "xp!", level::BIGINT AS "level!", display_name
           FROM leaderboard ORDER BY guild_id, rank"#
    )
    .fetch_all(store.pool())
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
        r#"SELECT guild_id AS "guild_id!", case_number AS "case_number!"
           FROM active_warnings ORDER BY guild_id, case_number"#
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let active: Vec<_> = active
        .into_iter()
        .map(|r| (r.guild_id as u64, r.case_number))
        .collect();
    assert_eq!(active, expected.active_warnings);
    let overview = sqlx::query!(
        r#"SELECT guild_id AS "guild_id!", members_with_xp AS "members_with_xp!",
                  total_xp AS "total_xp!", cases AS "cases!",
                  active_warnings AS "active_warnings!", prefix
           FROM guild_overview ORDER BY guild_id"#
    )
    .fetch_all(store.pool())
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
    let views = sqlx::query!(
        r#"SELECT c.relname AS "view!", obj_description(c.oid, 'pg_class') AS comment
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'v' ORDER BY c.relname"#
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let names: Vec<&str> = views.iter().map(|v| v.view.as_str()).collect();
    assert_eq!(names, ["active_warnings", "guild_overview", "leaderboard"]);
    assert!(views.iter().all(|v| v.comment.is_some()), "{names:?}");
    store.close().await;
    db.drop_db().await;
}

/// An operator who puts PgBouncer in transaction mode in front without telling
/// Keeper is told at start-up what to set, rather than meeting "prepared
/// statement already exists" under load; told, Keeper starts through it.
#[tokio::test]
async fn a_transaction_pooler_not_declared_is_named_at_start() {
    let db = ScratchDb::create().await;
    let Some(pooled) = db.pooled_config() else {
        db.drop_db().await;
        return;
    };
    let undeclared = PgConfig {
        pooler: Pooler::None,
        ..pooled.clone()
    };
    let err = PgStore::connect(&undeclared)
        .await
        .expect_err("PgBouncer refuses the startup options of a direct connection");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("KEEPER_PG_POOLER=transaction"),
        "{err}"
    );
    let store = PgStore::connect(&pooled)
        .await
        .expect("declared, it starts");
    store.health_check().await.expect("and answers");
    store.close().await;
    db.drop_db().await;
}

/// An operator's edits in psql (0019): totals changed with their buckets, a
/// row inserted, a member deleted or moved to another guild, in statements that
/// move many members at once. The counts follow, and ranks and pages are those of
/// the totals.
#[tokio::test]
async fn hand_edits_in_psql_keep_buckets_counts_and_ranks_exact() {
    let db = ScratchDb::create().await;
    let store = PgStore::connect(&db.config()).await.unwrap();
    let g = Id::new(1);
    let awards: Vec<XpAward> = (1..=30u64)
        .map(|u| XpAward {
            guild_id: g,
            user_id: Id::new(u),
            xp: 37 * u as i64,
            messages: 1,
            at: chrono::DateTime::UNIX_EPOCH,
        })
        .collect();
    store.award_xp(&awards, &[]).await.unwrap();

    let mut conn = raw_conn(&db).await;
    let edits = [
        sqlx::query!(
            "UPDATE member_xp SET xp = xp + 5000, xp_bucket = member_xp_bucket(xp + 5000)
             WHERE guild_id = 1 AND user_id <= 10"
        ),
        sqlx::query!(
            "INSERT INTO member_xp (guild_id, user_id, xp, xp_bucket)
             VALUES (1, 99, 123456, member_xp_bucket(123456))"
        ),
        sqlx::query!("DELETE FROM member_xp WHERE guild_id = 1 AND user_id = 30"),
        sqlx::query!("UPDATE member_xp SET guild_id = 2 WHERE guild_id = 1 AND user_id = 29"),
        sqlx::query!(
            "UPDATE member_xp SET xp = 0, xp_bucket = 0 WHERE guild_id = 1 AND user_id = 11"
        ),
    ];
    for edit in edits {
        edit.execute(&mut conn).await.unwrap();
    }

    let _ = conn.close().await;
    let [stored, counted] = db.bucket_counts().await;
    assert_eq!(stored, counted);

    // Guild 1 by XP: 99 (123,456), 10..1 (5,370..5,037), 28..12, 11 (0).
    let mut expected: Vec<(u64, i64)> = vec![(99, 123_456)];
    expected.extend((1..=10u64).rev().map(|u| (u, 5_000 + 37 * u as i64)));
    expected.extend((12..=28u64).rev().map(|u| (u, 37 * u as i64)));
    expected.push((11, 0));
    let board: Vec<(u64, i64)> = store
        .leaderboard(g, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.user_id.get(), m.xp))
        .collect();
    assert_eq!(board, expected);
    for (place, &(u, _)) in expected.iter().enumerate() {
        let rank = store.member_rank(g, Id::new(u)).await.unwrap().unwrap();
        assert_eq!(
            (rank.position, rank.out_of),
            (place as u64 + 1, expected.len() as u64),
            "user {u}"
        );
    }
    let moved = store
        .member_rank(Id::new(2), Id::new(29))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.position, moved.out_of, moved.member.xp),
        (1, 1, 37 * 29)
    );
    store.close().await;
    db.drop_db().await;
}

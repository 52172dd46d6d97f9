//! The store test suite, written once and run against every backend.
//!
//! A backend crate provides a [`Fixture`] (a fresh, migrated, empty database per
//! test) and invokes [`conformance_tests!`](crate::conformance_tests) in one of its
//! integration tests; every test below then runs against that backend.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Duration, TimeZone, Utc};
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, RoleMarker, UserMarker},
};

use crate::{
    AwardOutcome, CaseKind, EscalationAction, EscalationRule, GatewaySession, GuildSettings,
    LevelUpTarget, NewCase, SettingsPatch, Store, StoreError, XpAward, levels::level_for_xp,
};

/// A fresh, empty, migrated database for one test, and how to clean it up.
pub trait Fixture: Sized + Send {
    /// Create the database, migrate it and open a store on it.
    fn create() -> impl Future<Output = Self> + Send;
    /// The store under test.
    fn store(&self) -> Arc<dyn Store>;
    /// Open a second store on the same database, as a restarted process would
    /// (migrations run again at its boot).
    fn reopen(&self) -> impl Future<Output = Arc<dyn Store>> + Send;
    /// Close the stores and remove the database.
    fn cleanup(self) -> impl Future<Output = ()> + Send;
}

/// Generate one `#[tokio::test]` per conformance test for a backend's fixture.
#[macro_export]
macro_rules! conformance_tests {
    ($fixture:ty) => {
        $crate::conformance_tests!(@each $fixture;
            health_version_and_counts,
            settings_default_when_never_set,
            settings_patch_is_partial_and_validated,
            settings_concurrent_patches_keep_every_field,
            award_batch_returns_totals_and_level_ups,
            award_batch_sums_duplicate_keys,
            award_batch_writes_checkpoints_atomically,
            concurrent_awards_are_exact,
            set_add_reset_xp,
            leaderboard_order_ties_and_pages,
            member_rank_positions,
            leaderboard_and_rank_exact_across_xp_buckets,
            guild_isolation,
            snowflakes_round_trip_exactly,
            level_rewards_crud,
            cases_numbered_and_listed,
            concurrent_cases_have_no_gaps,
            case_revoke_and_clear_warnings,
            active_warnings_respect_expiry,
            reasons_stored_verbatim,
            escalation_rules_crud,
            export_and_delete_user,
            sessions_save_load_delete,
            reopen_keeps_data_and_reruns_migrations,
        );
    };
    (@each $fixture:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let fixture = <$fixture as $crate::conformance::Fixture>::create().await;
                $crate::conformance::$name(&fixture).await;
                $crate::conformance::Fixture::cleanup(fixture).await;
            }
        )*
    };
}

fn guild(n: u64) -> Id<GuildMarker> {
    Id::new(n)
}

fn user(n: u64) -> Id<UserMarker> {
    Id::new(n)
}

fn channel(n: u64) -> Id<ChannelMarker> {
    Id::new(n)
}

fn role(n: u64) -> Id<RoleMarker> {
    Id::new(n)
}

/// A fixed instant, whole milliseconds: both backends keep at least that precision.
fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + secs, 0).unwrap()
}

fn award(g: u64, u: u64, xp: i64, at: i64) -> XpAward {
    XpAward {
        guild_id: guild(g),
        user_id: user(u),
        xp,
        messages: 1,
        at: t(at),
    }
}

fn new_case(g: u64, target: u64, kind: CaseKind, reason: &str, at: i64) -> NewCase {
    NewCase {
        guild_id: guild(g),
        target_id: user(target),
        moderator_id: user(9),
        kind,
        reason: Some(reason.to_owned()),
        created_at: t(at),
        expires_at: None,
    }
}

fn session(shard: u32, seq: u64) -> GatewaySession {
    GatewaySession {
        shard_id: shard,
        shard_total: 4,
        session_id: format!("session-{shard}"),
        resume_url: "wss://gateway-us-east1-b.discord.gg".to_owned(),
        sequence: seq,
        updated_at: t(seq as i64),
    }
}

pub async fn health_version_and_counts<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    store.health_check().await.expect("health check");
    assert!(["sqlite", "postgres"].contains(&store.backend()));
    assert!(store.schema_version().await.unwrap() >= 1);
    let counts: HashMap<_, _> = store.table_counts().await.unwrap().into_iter().collect();
    for table in [
        "guild_settings",
        "member_xp",
        "mod_cases",
        "level_rewards",
        "escalation_rules",
        "gateway_sessions",
    ] {
        assert_eq!(counts.get(table), Some(&0), "{table} in {counts:?}");
    }
    store
        .award_xp(&[award(1, 2, 10, 0), award(1, 3, 10, 0)], &[])
        .await
        .unwrap();
    let counts: HashMap<_, _> = store.table_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts["member_xp"], 2);
}

pub async fn settings_default_when_never_set<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let settings = store.settings(guild(42)).await.unwrap();
    assert_eq!(settings, GuildSettings::defaults(guild(42)));
    assert_eq!(settings.prefix, "!");
    assert_eq!(
        (settings.xp_min, settings.xp_max, settings.xp_cooldown_secs),
        (15, 25, 60)
    );
    assert!(settings.dm_on_warn);
    assert_eq!(settings.warn_expiry_secs, None);
    assert_eq!(settings.levelup, LevelUpTarget::Here);
}

pub async fn settings_patch_is_partial_and_validated<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(7);
    let patch = SettingsPatch {
        prefix: Some("?".into()),
        welcome_channel: Some(Some(channel(100))),
        welcome_message: Some(Some("Hi {user}, welcome to {server}".into())),
        modlog_channel: Some(Some(channel(101))),
        levelup: Some(LevelUpTarget::Channel(channel(102))),
        levelup_message: Some(Some("{user} is level {level}".into())),
        xp_min: Some(1),
        xp_max: Some(2),
        xp_cooldown_secs: Some(0),
        warn_expiry_secs: Some(Some(86_400)),
        dm_on_warn: Some(false),
    };
    let stored = store.update_settings(g, &patch, t(10)).await.unwrap();
    let mut expected = GuildSettings::defaults(g);
    expected.apply(&patch).unwrap();
    expected.created_at = stored.created_at;
    expected.updated_at = stored.updated_at;
    assert_eq!(stored, expected);
    assert_eq!(stored.updated_at, Some(t(10)));
    assert_eq!(store.settings(g).await.unwrap(), stored);

    // A second patch touches only what it names; clearing optional fields works.
    let stored = store
        .update_settings(
            g,
            &SettingsPatch {
                welcome_channel: Some(None),
                welcome_message: Some(None),
                levelup: Some(LevelUpTarget::Off),
                ..Default::default()
            },
            t(20),
        )
        .await
        .unwrap();
    assert_eq!(stored.prefix, "?");
    assert_eq!(stored.welcome_channel, None);
    assert_eq!(stored.welcome_message, None);
    assert_eq!(stored.modlog_channel, Some(channel(101)));
    assert_eq!(stored.levelup, LevelUpTarget::Off);
    assert_eq!(
        stored.levelup_message.as_deref(),
        Some("{user} is level {level}")
    );
    assert_eq!(stored.created_at, Some(t(10)));
    assert_eq!(stored.updated_at, Some(t(20)));

    // Refused patches change nothing.
    let err = store
        .update_settings(
            g,
            &SettingsPatch {
                xp_min: Some(50),
                prefix: Some("$".into()),
                ..Default::default()
            },
            t(30),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let after = store.settings(g).await.unwrap();
    assert_eq!(after, stored);
}

pub async fn settings_concurrent_patches_keep_every_field<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(8);
    // Each task changes a different field at the same time; none may undo another.
    let patches = vec![
        SettingsPatch {
            prefix: Some("%".into()),
            ..Default::default()
        },
        SettingsPatch {
            welcome_channel: Some(Some(channel(5))),
            ..Default::default()
        },
        SettingsPatch {
            modlog_channel: Some(Some(channel(6))),
            ..Default::default()
        },
        SettingsPatch {
            xp_cooldown_secs: Some(5),
            ..Default::default()
        },
        SettingsPatch {
            dm_on_warn: Some(false),
            ..Default::default()
        },
        SettingsPatch {
            warn_expiry_secs: Some(Some(60)),
            ..Default::default()
        },
    ];
    let tasks: Vec<_> = patches
        .into_iter()
        .map(|p| {
            let store = store.clone();
            tokio::spawn(async move { store.update_settings(g, &p, t(1)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let s = store.settings(g).await.unwrap();
    assert_eq!(s.prefix, "%");
    assert_eq!(s.welcome_channel, Some(channel(5)));
    assert_eq!(s.modlog_channel, Some(channel(6)));
    assert_eq!(s.xp_cooldown_secs, 5);
    assert!(!s.dm_on_warn);
    assert_eq!(s.warn_expiry_secs, Some(60));
}

fn by_member(outcomes: &[AwardOutcome]) -> HashMap<(u64, u64), AwardOutcome> {
    outcomes
        .iter()
        .map(|o| ((o.guild_id.get(), o.user_id.get()), *o))
        .collect()
}

pub async fn award_batch_returns_totals_and_level_ups<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let out = store
        .award_xp(&[award(1, 10, 60, 0), award(1, 11, 99, 0)], &[])
        .await
        .unwrap();
    let out = by_member(&out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[&(1, 10)].xp, 60);
    assert_eq!((out[&(1, 10)].old_level, out[&(1, 10)].new_level), (0, 0));
    assert!(!out[&(1, 11)].levelled_up());

    let out = store
        .award_xp(&[award(1, 10, 60, 5), award(1, 11, 1, 5)], &[])
        .await
        .unwrap();
    let out = by_member(&out);
    assert_eq!(out[&(1, 10)].xp, 120);
    assert_eq!((out[&(1, 10)].old_level, out[&(1, 10)].new_level), (0, 1));
    assert!(out[&(1, 11)].levelled_up());
    assert_eq!(out[&(1, 11)].xp, 100);

    // A jump over several levels reports the level before and after.
    let out = store
        .award_xp(&[award(1, 11, 10_000, 9)], &[])
        .await
        .unwrap();
    assert_eq!(out[0].old_level, 1);
    assert_eq!(out[0].new_level, level_for_xp(10_100));

    // Messages without XP (cooldown) count messages and keep the last award time.
    let quiet = XpAward {
        xp: 0,
        messages: 3,
        ..award(1, 10, 0, 3)
    };
    let out = store.award_xp(&[quiet], &[]).await.unwrap();
    assert_eq!(out[0].xp, 120);
    let rank = store
        .member_rank(guild(1), user(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rank.member.messages, 5);
    assert_eq!(rank.member.level, 1);
    assert_eq!(
        rank.member.last_award_at,
        Some(t(5)),
        "the stored time never moves back"
    );
    assert!(store.award_xp(&[], &[]).await.unwrap().is_empty());
}

pub async fn award_batch_sums_duplicate_keys<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let batch = [
        award(1, 10, 20, 1),
        award(1, 11, 5, 1),
        award(1, 10, 30, 3),
        award(1, 10, 50, 2),
    ];
    let out = by_member(&store.award_xp(&batch, &[]).await.unwrap());
    assert_eq!(out.len(), 2, "one outcome per member");
    assert_eq!(out[&(1, 10)].xp, 100);
    assert_eq!(out[&(1, 10)].new_level, 1);
    assert_eq!(out[&(1, 11)].xp, 5);
    let rank = store
        .member_rank(guild(1), user(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rank.member.messages, 3);
    assert_eq!(rank.member.last_award_at, Some(t(3)));
}

pub async fn award_batch_writes_checkpoints_atomically<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    store
        .award_xp(&[award(1, 10, 20, 1)], &[session(0, 41), session(1, 7)])
        .await
        .unwrap();
    assert_eq!(store.session(0).await.unwrap(), Some(session(0, 41)));
    assert_eq!(store.session(1).await.unwrap(), Some(session(1, 7)));
    store
        .award_xp(&[award(1, 10, 20, 2)], &[session(0, 42)])
        .await
        .unwrap();
    assert_eq!(store.session(0).await.unwrap().unwrap().sequence, 42);
    // Events that award nothing still move the checkpoint.
    assert!(
        store
            .award_xp(&[], &[session(2, 9)])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.session(2).await.unwrap(), Some(session(2, 9)));

    // A batch that fails writes neither its awards nor its checkpoint.
    let bad = XpAward {
        xp: -1_000,
        ..award(1, 10, 0, 3)
    };
    assert!(store.award_xp(&[bad], &[session(0, 99)]).await.is_err());
    assert_eq!(store.session(0).await.unwrap().unwrap().sequence, 42);
    assert_eq!(
        store
            .member_rank(guild(1), user(10))
            .await
            .unwrap()
            .unwrap()
            .member
            .xp,
        40
    );
}

pub async fn concurrent_awards_are_exact<F: Fixture>(fixture: &F) {
    const TASKS: u64 = 8;
    const AWARDS: u64 = 10_000;
    const MEMBERS: u64 = 50;
    let store = fixture.store();
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            // Batches of mixed sizes, with the members overlapping between tasks, so
            // concurrent upserts of one row really happen.
            let awards: Vec<XpAward> = (0..AWARDS)
                .map(|i| {
                    award(
                        1 + i % 2,
                        1 + (i * 7 + task) % MEMBERS,
                        ((i % 11) + 1) as i64,
                        i as i64,
                    )
                })
                .collect();
            for chunk in awards.chunks(1 + (task as usize * 37) % 400) {
                store.award_xp(chunk, &[]).await.expect("award batch");
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let mut expected: HashMap<(u64, u64), (i64, i64)> = HashMap::new();
    for task in 0..TASKS {
        for i in 0..AWARDS {
            let e = expected
                .entry((1 + i % 2, 1 + (i * 7 + task) % MEMBERS))
                .or_default();
            e.0 += ((i % 11) + 1) as i64;
            e.1 += 1;
        }
    }
    let mut seen = 0;
    for g in [1, 2] {
        let board = store.leaderboard(guild(g), 0, 1_000).await.unwrap();
        for row in board {
            let (xp, messages) = expected[&(g, row.user_id.get())];
            assert_eq!(
                (row.xp, row.messages),
                (xp, messages),
                "guild {g} user {}",
                row.user_id
            );
            assert_eq!(row.level, level_for_xp(xp));
            seen += 1;
        }
    }
    assert_eq!(seen, expected.len());
}

pub async fn set_add_reset_xp<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let (g, u) = (guild(1), user(2));
    let out = store.set_xp(g, u, 300, t(0)).await.unwrap();
    assert_eq!((out.xp, out.old_level, out.new_level), (300, 0, 2));
    let out = store.add_xp(g, u, 200, t(1)).await.unwrap();
    assert_eq!((out.xp, out.old_level, out.new_level), (500, 2, 3));
    let out = store.add_xp(g, u, -450, t(2)).await.unwrap();
    assert_eq!((out.xp, out.new_level), (50, 0));
    let out = store.add_xp(g, u, -1_000, t(3)).await.unwrap();
    assert_eq!(out.xp, 0, "XP never goes below zero");
    let out = store.set_xp(g, u, -5, t(4)).await.unwrap();
    assert_eq!(out.xp, 0);
    let out = store.add_xp(g, user(3), 120, t(4)).await.unwrap();
    assert_eq!(
        (out.old_level, out.new_level),
        (0, 1),
        "adding creates the member"
    );
    assert!(store.reset_xp(g, u).await.unwrap());
    assert!(!store.reset_xp(g, u).await.unwrap());
    assert_eq!(store.member_rank(g, u).await.unwrap(), None);
    store.add_xp(guild(5), user(3), 10, t(0)).await.unwrap();
    assert_eq!(store.reset_guild_xp(g).await.unwrap(), 1);
    assert_eq!(store.leaderboard_len(g).await.unwrap(), 0);
    assert_eq!(
        store.leaderboard_len(guild(5)).await.unwrap(),
        1,
        "other guilds untouched"
    );
}

pub async fn leaderboard_order_ties_and_pages<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    // 25 members; ties at several XP values, inserted in scrambled order.
    let xp_of = |u: u64| ((u * 37) % 10) as i64 * 100;
    let batch: Vec<_> = (1..=25).rev().map(|u| award(1, u, xp_of(u), 0)).collect();
    store.award_xp(&batch, &[]).await.unwrap();
    let mut expected: Vec<(i64, u64)> = (1..=25).map(|u| (xp_of(u), u)).collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    let mut all = Vec::new();
    for page in 0..3 {
        let rows = store.leaderboard(g, page * 10, 10).await.unwrap();
        assert_eq!(rows.len(), if page < 2 { 10 } else { 5 });
        all.extend(rows.into_iter().map(|r| (r.xp, r.user_id.get())));
    }
    assert_eq!(all, expected);
    assert!(store.leaderboard(g, 30, 10).await.unwrap().is_empty());
    assert_eq!(store.leaderboard_len(g).await.unwrap(), 25);
    assert!(store.leaderboard(guild(2), 0, 10).await.unwrap().is_empty());
}

pub async fn member_rank_positions<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    store
        .award_xp(
            &[
                award(1, 5, 300, 0),
                award(1, 3, 200, 0),
                award(1, 4, 200, 0),
                award(1, 1, 50, 0),
            ],
            &[],
        )
        .await
        .unwrap();
    let pos = |u| {
        let store = store.clone();
        async move {
            store
                .member_rank(g, user(u))
                .await
                .unwrap()
                .map(|r| (r.position, r.out_of, r.member.xp))
        }
    };
    assert_eq!(pos(5).await, Some((1, 4, 300)));
    assert_eq!(
        pos(3).await,
        Some((2, 4, 200)),
        "ties: lower id first, as on the leaderboard"
    );
    assert_eq!(pos(4).await, Some((3, 4, 200)));
    assert_eq!(pos(1).await, Some((4, 4, 50)));
    assert_eq!(pos(99).await, None);
    let rank = store.member_rank(g, user(5)).await.unwrap().unwrap();
    assert_eq!(rank.member.level, 2);
    assert_eq!(rank.member.guild_id, g);
}

/// The leaderboard index orders by XP bucket (`levels::xp_bucket`); the order
/// must still be exact XP, whichever way a total moved across buckets: awards
/// (batched, duplicates summed), set, add and take away.
pub async fn leaderboard_and_rank_exact_across_xp_buckets<F: Fixture>(fixture: &F) {
    use crate::levels::{XP_BUCKET_WIDTH, xp_bucket};
    let store = fixture.store();
    let g = guild(1);
    let mut model = std::collections::BTreeMap::<u64, i64>::new();
    // A fixed pseudo-random walk: 40 members, totals around several bucket edges.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    for round in 0..12 {
        let batch: Vec<XpAward> = (0..60)
            .map(|_| award(1, 1 + next(40), 1 + next(700) as i64, round))
            .collect();
        for a in &batch {
            *model.entry(a.user_id.get()).or_default() += a.xp;
        }
        store.award_xp(&batch, &[]).await.unwrap();
        // One member set just below or on an edge, one pushed up, one pulled down.
        let u = 1 + next(40);
        let xp = (1 + next(4) as i64) * XP_BUCKET_WIDTH - next(2) as i64;
        store.set_xp(g, user(u), xp, t(round)).await.unwrap();
        model.insert(u, xp);
        let u = 1 + next(40);
        let out = store.add_xp(g, user(u), 950, t(round)).await.unwrap();
        *model.entry(u).or_default() += 950;
        assert_eq!(out.xp, model[&u]);
        let u = 1 + next(40);
        let out = store.add_xp(g, user(u), -1_200, t(round)).await.unwrap();
        let total = model.entry(u).or_default();
        *total = (*total - 1_200).max(0);
        assert_eq!(out.xp, *total);
    }
    let mut expected: Vec<(i64, u64)> = model.iter().map(|(&u, &xp)| (xp, u)).collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let buckets: std::collections::BTreeSet<i64> =
        expected.iter().map(|&(xp, _)| xp_bucket(xp)).collect();
    assert!(
        buckets.len() >= 4,
        "the walk spans several buckets: {buckets:?}"
    );

    let expected: Vec<(u64, i64)> = expected.into_iter().map(|(xp, u)| (u, xp)).collect();
    // Page by page too: an offset lands inside buckets.
    let mut board = Vec::new();
    for page in 0..5 {
        let rows = store.leaderboard(g, page * 10, 10).await.unwrap();
        board.extend(rows.into_iter().map(|r| (r.user_id.get(), r.xp)));
    }
    assert_eq!(board, expected, "leaderboard order is exact XP");
    expect_board_and_ranks(store.as_ref(), &expected).await;
}

/// Members of guild 1 as a test writes them into a schema-v2 database (before
/// `xp_bucket`): (user, XP), on both sides of bucket edges.
pub const V2_MEMBERS: [(u64, i64); 6] = [
    (1, 999),
    (2, 1_000),
    (3, 123_456),
    (4, 2_500),
    (5, 0),
    (6, 123_457),
];

/// After a database holding [`V2_MEMBERS`] at schema v2 was opened (and so
/// migrated): the leaderboard, every rank, and an award across a bucket edge come
/// out in exact XP order, which needs migration 0003 to have filled each member's
/// bucket.
pub async fn check_upgraded_from_v2(store: &dyn Store) {
    let mut expected: Vec<(u64, i64)> = V2_MEMBERS.to_vec();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    expect_board_and_ranks(store, &expected).await;

    // 999 + 2 = 1,001: user 1 moves into the next bucket, past user 2.
    store.award_xp(&[award(1, 1, 2, 0)], &[]).await.unwrap();
    let after = [
        (6, 123_457),
        (3, 123_456),
        (4, 2_500),
        (1, 1_001),
        (2, 1_000),
        (5, 0),
    ];
    expect_board_and_ranks(store, &after).await;
}

/// Guild 1's leaderboard is `expected` (user, XP), and so is every member's rank.
async fn expect_board_and_ranks(store: &dyn Store, expected: &[(u64, i64)]) {
    let g = guild(1);
    let rows = store.leaderboard(g, 0, 100).await.unwrap();
    let board: Vec<(u64, i64)> = rows.iter().map(|m| (m.user_id.get(), m.xp)).collect();
    assert_eq!(board, expected);
    for (i, &(u, xp)) in expected.iter().enumerate() {
        let rank = store.member_rank(g, user(u)).await.unwrap().unwrap();
        assert_eq!(
            (rank.position, rank.out_of, rank.member.xp),
            (i as u64 + 1, expected.len() as u64, xp),
            "rank of user {u}"
        );
        assert_eq!(rank.member.level, crate::levels::level_for_xp(xp));
    }
}

pub async fn guild_isolation<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    store
        .award_xp(&[award(1, 7, 100, 0), award(2, 7, 5, 0)], &[])
        .await
        .unwrap();
    store
        .update_settings(
            guild(1),
            &SettingsPatch {
                prefix: Some("?".into()),
                ..Default::default()
            },
            t(0),
        )
        .await
        .unwrap();
    store
        .add_case(&new_case(1, 7, CaseKind::Warn, "a", 0))
        .await
        .unwrap();
    store.set_level_reward(guild(1), 5, role(50)).await.unwrap();
    store
        .set_escalation(&EscalationRule {
            guild_id: guild(1),
            warnings: 3,
            action: EscalationAction::Kick,
            duration_secs: None,
        })
        .await
        .unwrap();

    assert_eq!(store.settings(guild(2)).await.unwrap().prefix, "!");
    assert_eq!(
        store
            .member_rank(guild(2), user(7))
            .await
            .unwrap()
            .unwrap()
            .member
            .xp,
        5
    );
    assert!(store.cases(guild(2), None, 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .active_warnings(guild(2), user(7), t(1))
            .await
            .unwrap(),
        0
    );
    assert!(store.level_rewards(guild(2)).await.unwrap().is_empty());
    assert!(store.escalations(guild(2)).await.unwrap().is_empty());
    // Case numbers are per guild.
    let case = store
        .add_case(&new_case(2, 7, CaseKind::Warn, "b", 0))
        .await
        .unwrap();
    assert_eq!(case.number, 1);
    assert!(
        store
            .revoke_case(guild(2), 2, user(9), t(1))
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn snowflakes_round_trip_exactly<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let ids: [u64; 5] = [
        1,
        i64::MAX as u64,
        1_234_567_890_123_456_789,
        81_384_788_765_712_384,
        175_928_847_299_117_063,
    ];
    for (i, &id) in ids.iter().enumerate() {
        let g = guild(id);
        store
            .add_xp(g, user(id), 10 + i as i64, t(0))
            .await
            .unwrap();
        let board = store.leaderboard(g, 0, 10).await.unwrap();
        assert_eq!(board[0].guild_id.get(), id);
        assert_eq!(board[0].user_id.get(), id);
        let s = store
            .update_settings(
                g,
                &SettingsPatch {
                    welcome_channel: Some(Some(channel(id))),
                    levelup: Some(LevelUpTarget::Channel(channel(id))),
                    ..Default::default()
                },
                t(0),
            )
            .await
            .unwrap();
        assert_eq!(store.settings(g).await.unwrap(), s);
        assert_eq!(s.welcome_channel.unwrap().get(), id);
        assert_eq!(s.levelup, LevelUpTarget::Channel(channel(id)));
        store.set_level_reward(g, 1, role(id)).await.unwrap();
        assert_eq!(store.level_rewards(g).await.unwrap()[0].role_id.get(), id);
        let case = store
            .add_case(&NewCase {
                moderator_id: user(id),
                ..new_case(id, id, CaseKind::Note, "x", 0)
            })
            .await
            .unwrap();
        let read = store.case(g, case.number).await.unwrap().unwrap();
        assert_eq!((read.target_id.get(), read.moderator_id.get()), (id, id));
    }
}

pub async fn level_rewards_crud<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    store.set_level_reward(g, 10, role(100)).await.unwrap();
    store.set_level_reward(g, 5, role(50)).await.unwrap();
    store.set_level_reward(g, 10, role(101)).await.unwrap();
    let rewards = store.level_rewards(g).await.unwrap();
    let got: Vec<_> = rewards.iter().map(|r| (r.level, r.role_id.get())).collect();
    assert_eq!(got, vec![(5, 50), (10, 101)]);
    assert!(store.remove_level_reward(g, 5).await.unwrap());
    assert!(!store.remove_level_reward(g, 5).await.unwrap());
    assert_eq!(store.level_rewards(g).await.unwrap().len(), 1);
}

pub async fn cases_numbered_and_listed<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let mut made = Vec::new();
    for (i, kind) in CaseKind::ALL.into_iter().enumerate() {
        let mut case = new_case(1, 10 + (i as u64 % 2), kind, kind.as_str(), i as i64);
        if kind == CaseKind::Timeout {
            case.expires_at = Some(t(600));
        }
        let stored = store.add_case(&case).await.unwrap();
        assert_eq!(stored.number, i as i64 + 1);
        assert_eq!(stored.kind, kind);
        assert_eq!(stored.reason.as_deref(), Some(kind.as_str()));
        assert_eq!(stored.created_at, t(i as i64));
        assert_eq!(stored.revoked_by, None);
        made.push(stored);
    }
    assert_eq!(store.case(g, 2).await.unwrap().as_ref(), Some(&made[1]));
    assert_eq!(made[1].expires_at, Some(t(600)));
    assert_eq!(store.case(g, 99).await.unwrap(), None);
    let all = store.cases(g, None, 100).await.unwrap();
    let numbers: Vec<_> = all.iter().map(|c| c.number).collect();
    assert_eq!(numbers, vec![6, 5, 4, 3, 2, 1], "newest first");
    let about_11 = store.cases(g, Some(user(11)), 100).await.unwrap();
    assert_eq!(
        about_11.iter().map(|c| c.number).collect::<Vec<_>>(),
        vec![6, 4, 2]
    );
    assert_eq!(store.cases(g, None, 2).await.unwrap().len(), 2);
    let no_reason = store
        .add_case(&NewCase {
            reason: None,
            ..new_case(1, 10, CaseKind::Kick, "", 9)
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .case(g, no_reason.number)
            .await
            .unwrap()
            .unwrap()
            .reason,
        None
    );
}

pub async fn concurrent_cases_have_no_gaps<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .add_case(&new_case(1, 100 + i, CaseKind::Warn, "race", i as i64))
                    .await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(h.await.unwrap().expect("add case").number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>());
    let stored: Vec<_> = store
        .cases(guild(1), None, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.number)
        .collect();
    assert_eq!(stored, (1..=50).rev().collect::<Vec<_>>());
}

pub async fn case_revoke_and_clear_warnings<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    for i in 0..3 {
        store
            .add_case(&new_case(1, 10, CaseKind::Warn, "w", i))
            .await
            .unwrap();
    }
    store
        .add_case(&new_case(1, 10, CaseKind::Note, "n", 3))
        .await
        .unwrap();
    store
        .add_case(&new_case(1, 11, CaseKind::Warn, "other", 4))
        .await
        .unwrap();
    assert_eq!(store.active_warnings(g, user(10), t(10)).await.unwrap(), 3);

    let revoked = store
        .revoke_case(g, 2, user(8), t(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (revoked.revoked_by, revoked.revoked_at),
        (Some(user(8)), Some(t(20)))
    );
    // Revoking again keeps the first revocation.
    let again = store
        .revoke_case(g, 2, user(7), t(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.revoked_by, again.revoked_at),
        (Some(user(8)), Some(t(20)))
    );
    assert_eq!(store.active_warnings(g, user(10), t(40)).await.unwrap(), 2);
    assert!(
        store
            .revoke_case(g, 77, user(8), t(20))
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        store
            .clear_warnings(g, user(10), user(8), t(50))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.active_warnings(g, user(10), t(60)).await.unwrap(), 0);
    assert_eq!(
        store
            .clear_warnings(g, user(10), user(8), t(50))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.active_warnings(g, user(11), t(60)).await.unwrap(),
        1,
        "others untouched"
    );
    let note = store.case(g, 4).await.unwrap().unwrap();
    assert_eq!(
        note.revoked_by, None,
        "clearing warnings leaves notes alone"
    );
    assert_eq!(
        store.cases(g, Some(user(10)), 10).await.unwrap().len(),
        4,
        "revoked cases stay on record"
    );
}

pub async fn active_warnings_respect_expiry<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let mut w = new_case(1, 10, CaseKind::Warn, "expires", 0);
    w.expires_at = Some(t(0) + Duration::hours(1));
    store.add_case(&w).await.unwrap();
    store
        .add_case(&new_case(1, 10, CaseKind::Warn, "forever", 0))
        .await
        .unwrap();
    store
        .add_case(&new_case(1, 10, CaseKind::Timeout, "not a warning", 0))
        .await
        .unwrap();
    assert_eq!(store.active_warnings(g, user(10), t(60)).await.unwrap(), 2);
    assert_eq!(
        store.active_warnings(g, user(10), t(3_600)).await.unwrap(),
        1,
        "expired at its instant"
    );
    assert_eq!(
        store.active_warnings(g, user(10), t(7_200)).await.unwrap(),
        1
    );
}

pub async fn reasons_stored_verbatim<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let long: String = "ab\u{1F600}'\"".chars().cycle().take(4_000).collect();
    let reasons = [
        r#"He said "hi" and 'bye'"#.to_owned(),
        "'; DROP TABLE mod_cases; --".to_owned(),
        "Robert'); DROP TABLE member_xp;--".to_owned(),
        "emoji \u{1F525}\u{1F44D}\u{1F3FD} and NUL-free unicode: \u{00E9}\u{4E2D}\u{6587}"
            .to_owned(),
        "line one\nline two\ttabbed \\ backslash %_ like wildcards".to_owned(),
        long,
    ];
    for (i, reason) in reasons.iter().enumerate() {
        let case = store
            .add_case(&new_case(1, 10, CaseKind::Note, reason, i as i64))
            .await
            .unwrap();
        let read = store.case(guild(1), case.number).await.unwrap().unwrap();
        assert_eq!(read.reason.as_deref(), Some(reason.as_str()));
        assert_eq!(
            read.reason.as_ref().unwrap().chars().count(),
            reason.chars().count()
        );
    }
    assert_eq!(
        store.cases(guild(1), None, 100).await.unwrap().len(),
        reasons.len()
    );
    // The tables the injections name are still there and working.
    store.add_xp(guild(1), user(10), 5, t(0)).await.unwrap();
    let patch = SettingsPatch {
        welcome_message: Some(Some("'; DROP TABLE guild_settings; -- {user}".into())),
        ..Default::default()
    };
    let s = store.update_settings(guild(1), &patch, t(0)).await.unwrap();
    assert_eq!(
        store.settings(guild(1)).await.unwrap().welcome_message,
        s.welcome_message
    );
}

pub async fn escalation_rules_crud<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let rule = |warnings, action, duration_secs| EscalationRule {
        guild_id: g,
        warnings,
        action,
        duration_secs,
    };
    store
        .set_escalation(&rule(5, EscalationAction::Ban, None))
        .await
        .unwrap();
    store
        .set_escalation(&rule(3, EscalationAction::Timeout, Some(3_600)))
        .await
        .unwrap();
    store
        .set_escalation(&rule(4, EscalationAction::Kick, None))
        .await
        .unwrap();
    store
        .set_escalation(&rule(3, EscalationAction::Timeout, Some(600)))
        .await
        .unwrap();
    assert_eq!(
        store.escalations(g).await.unwrap(),
        vec![
            rule(3, EscalationAction::Timeout, Some(600)),
            rule(4, EscalationAction::Kick, None),
            rule(5, EscalationAction::Ban, None)
        ]
    );
    assert!(store.remove_escalation(g, 4).await.unwrap());
    assert!(!store.remove_escalation(g, 4).await.unwrap());
    assert_eq!(store.escalations(g).await.unwrap().len(), 2);
}

pub async fn export_and_delete_user<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let alice = user(1_000_000_000_000_000_001);
    store
        .award_xp(
            &[
                award(1, alice.get(), 150, 0),
                award(2, alice.get(), 30, 0),
                award(1, 5, 10, 0),
            ],
            &[],
        )
        .await
        .unwrap();
    store
        .add_case(&new_case(1, alice.get(), CaseKind::Warn, "spam", 1))
        .await
        .unwrap();
    store
        .add_case(&new_case(2, alice.get(), CaseKind::Note, "nice", 2))
        .await
        .unwrap();
    store
        .add_case(&NewCase {
            moderator_id: alice,
            ..new_case(1, 5, CaseKind::Kick, "by alice", 3)
        })
        .await
        .unwrap();

    let export = store.export_user(alice).await.unwrap();
    assert_eq!(export.user_id, alice);
    let mut xp: Vec<_> = export.xp.iter().map(|m| (m.guild_id.get(), m.xp)).collect();
    xp.sort_unstable();
    assert_eq!(xp, vec![(1, 150), (2, 30)]);
    assert_eq!(export.cases.len(), 2);
    assert_eq!(export.moderated.len(), 1);
    assert_eq!(export.moderated[0].target_id, user(5));
    // Ids are strings in JSON, as in Discord's own payloads.
    let json = serde_json::to_value(&export).unwrap();
    assert_eq!(json["user_id"], "1000000000000000001");
    assert_eq!(json["xp"][0]["user_id"], "1000000000000000001");

    let deleted = store.delete_user(alice).await.unwrap();
    assert_eq!((deleted.xp_rows, deleted.cases), (2, 2));
    let export = store.export_user(alice).await.unwrap();
    assert!(export.xp.is_empty() && export.cases.is_empty());
    assert_eq!(
        export.moderated.len(),
        1,
        "cases alice issued stay on the guild's record"
    );
    assert_eq!(store.leaderboard_len(guild(1)).await.unwrap(), 1);
    // Case numbers are not reused after a deletion.
    assert_eq!(
        store
            .add_case(&new_case(1, 5, CaseKind::Note, "next", 4))
            .await
            .unwrap()
            .number,
        3
    );
}

pub async fn sessions_save_load_delete<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    assert_eq!(store.session(0).await.unwrap(), None);
    store.save_session(&session(0, 10)).await.unwrap();
    store
        .save_session(&session(3, u64::from(u32::MAX) + 5))
        .await
        .unwrap();
    assert_eq!(store.session(0).await.unwrap(), Some(session(0, 10)));
    assert_eq!(
        store.session(3).await.unwrap(),
        Some(session(3, u64::from(u32::MAX) + 5))
    );
    let mut replaced = session(0, 11);
    replaced.session_id = "another".into();
    replaced.shard_total = 8;
    store.save_session(&replaced).await.unwrap();
    assert_eq!(store.session(0).await.unwrap(), Some(replaced));
    store.delete_session(0).await.unwrap();
    assert_eq!(store.session(0).await.unwrap(), None);
    store.delete_session(0).await.unwrap();
    assert!(store.session(3).await.unwrap().is_some());
}

pub async fn reopen_keeps_data_and_reruns_migrations<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    store
        .award_xp(&[award(1, 2, 120, 0)], &[session(0, 5)])
        .await
        .unwrap();
    let version = store.schema_version().await.unwrap();
    let again = fixture.reopen().await;
    assert_eq!(again.schema_version().await.unwrap(), version);
    let rank = again.member_rank(guild(1), user(2)).await.unwrap().unwrap();
    assert_eq!((rank.member.xp, rank.member.level), (120, 1));
    assert_eq!(again.session(0).await.unwrap().unwrap().sequence, 5);
    again.close().await;
}

//! [`XpStore`](crate::XpStore): awards (with their gateway checkpoints, which the
//! award writes), manual changes, the leaderboard and ranks.

use std::collections::HashMap;

use super::{Fixture, award, guild, session, t, user};
use chrono::{DateTime, Utc};
use twilight_model::id::Id;

use crate::{Applied, AwardOutcome, SettingsPatch, Store, XpAward, levels::level_for_xp};

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

/// Award flushes and moderators' `/xp add` in the same guild at once, over
/// totals that cross a bucket every few awards (buckets are narrow near 0): no
/// writer fails (a deadlock would abort one), every total is the sum of what was
/// given, and the bucket counts equal a count of the members.
pub async fn awards_and_commands_at_once_keep_counts_exact<F: Fixture>(fixture: &F) {
    const MEMBERS: u64 = 40;
    const ROUNDS: u64 = 150;
    let store = fixture.store();
    let mut handles = Vec::new();
    for task in 0..4u64 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                if task < 2 {
                    // A flush: every member of one guild and some of the other.
                    let awards: Vec<XpAward> = (1..=MEMBERS)
                        .map(|u| award(1 + (u + round) % 2, u, 1 + ((u + task) % 7) as i64, 0))
                        .collect();
                    store.award_xp(&awards, &[]).await.expect("award batch");
                } else {
                    // A command, one member at a time, the way a moderator's are.
                    let u = 1 + (round * 13 + task) % MEMBERS;
                    store
                        .add_xp(guild(1 + round % 2), user(u), 5, t(0), None)
                        .await
                        .expect("/xp add");
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let mut expected: HashMap<(u64, u64), i64> = HashMap::new();
    for task in 0..4u64 {
        for round in 0..ROUNDS {
            if task < 2 {
                for u in 1..=MEMBERS {
                    *expected.entry((1 + (u + round) % 2, u)).or_default() +=
                        1 + ((u + task) % 7) as i64;
                }
            } else {
                let u = 1 + (round * 13 + task) % MEMBERS;
                *expected.entry((1 + round % 2, u)).or_default() += 5;
            }
        }
    }
    let mut seen = 0;
    for g in [1, 2] {
        for row in store.leaderboard(guild(g), 0, 1_000).await.unwrap() {
            assert_eq!(
                row.xp,
                expected[&(g, row.user_id.get())],
                "guild {g} {}",
                row.user_id
            );
            seen += 1;
        }
    }
    assert_eq!(seen, expected.len());
    let [stored, counted] = fixture.xp_bucket_counts().await;
    assert_eq!(stored, counted, "member_xp_buckets");
}

pub async fn set_add_reset_xp<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let (g, u) = (guild(1), user(2));
    let out = store
        .set_xp(g, u, 300, t(0), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    assert_eq!((out.xp, out.old_level, out.new_level), (300, 0, 2));
    let out = store
        .add_xp(g, u, 200, t(1), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    assert_eq!((out.xp, out.old_level, out.new_level), (500, 2, 3));
    let out = store
        .add_xp(g, u, -450, t(2), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    assert_eq!((out.xp, out.new_level), (50, 0));
    let out = store
        .add_xp(g, u, -1_000, t(3), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    assert_eq!(out.xp, 0, "XP never goes below zero");
    let out = store
        .set_xp(g, u, -5, t(4), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    assert_eq!(out.xp, 0);
    let out = store
        .add_xp(g, user(3), 120, t(4), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    assert_eq!(
        (out.old_level, out.new_level),
        (0, 1),
        "adding creates the member"
    );
    assert_eq!(
        store.reset_xp(g, u, t(9), None).await.unwrap(),
        Applied::Now(true)
    );
    assert_eq!(
        store.reset_xp(g, u, t(9), None).await.unwrap(),
        Applied::Now(false)
    );
    assert_eq!(store.member_rank(g, u).await.unwrap(), None);
    store
        .add_xp(guild(5), user(3), 10, t(0), None)
        .await
        .unwrap();
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
    use crate::levels::{xp_bucket, xp_bucket_floor};
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
        // The floors of buckets 40, 80, 120, 160: 1,000, 8,000, 27,000, 64,000 XP.
        let xp = xp_bucket_floor(40 * (1 + next(4) as i64)) - next(2) as i64;
        store.set_xp(g, user(u), xp, t(round), None).await.unwrap();
        model.insert(u, xp);
        let u = 1 + next(40);
        let out = store
            .add_xp(g, user(u), 950, t(round), None)
            .await
            .unwrap()
            .now()
            .unwrap();
        *model.entry(u).or_default() += 950;
        assert_eq!(out.xp, model[&u]);
        let u = 1 + next(40);
        let out = store
            .add_xp(g, user(u), -1_200, t(round), None)
            .await
            .unwrap()
            .now()
            .unwrap();
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

/// Members still inside their guild's cooldown (plus the margin) at `now`, by
/// each guild's own cooldown (the default where it set none); nobody else.
pub async fn cooling_down_follows_each_guilds_cooldown<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    // Guild 1: the default cooldown (60 s). Guild 2: 600 s. Guild 3: none (0 s).
    for (g, secs) in [(2, 600), (3, 0)] {
        let patch = SettingsPatch {
            xp_cooldown_secs: Some(secs),
            ..SettingsPatch::default()
        };
        store.update_settings(guild(g), &patch, t(0)).await.unwrap();
    }
    let now = 10_000;
    let batch = [
        award(1, 10, 20, now - 30),  // 30 s ago: inside 60 s
        award(1, 11, 20, now - 90),  // 90 s ago: outside 60 s
        award(2, 10, 20, now - 500), // inside 600 s
        award(2, 12, 20, now - 700), // outside 600 s
        award(3, 10, 20, now - 1),   // no cooldown at all
    ];
    store.award_xp(&batch, &[]).await.unwrap();
    let found = |margin| {
        let store = store.clone();
        async move {
            let mut found: Vec<(u64, u64, DateTime<Utc>)> = store
                .cooling_down(t(now), margin)
                .await
                .unwrap()
                .into_iter()
                .map(|a| (a.guild_id.get(), a.user_id.get(), a.at))
                .collect();
            found.sort();
            found
        }
    };
    assert_eq!(
        found(0).await,
        vec![(1, 10, t(now - 30)), (2, 10, t(now - 500))]
    );
    // A margin of 120 s takes in the member 90 s away in the 60 s guild, and the
    // one 1 s away in the guild without a cooldown.
    assert_eq!(
        found(120).await,
        vec![
            (1, 10, t(now - 30)),
            (1, 11, t(now - 90)),
            (2, 10, t(now - 500)),
            (2, 12, t(now - 700)),
            (3, 10, t(now - 1)),
        ]
    );
}

/// A batch retried after its answer was lost (its checkpoints already stored)
/// changes nothing; a later batch of the same session, or one of a new session,
/// is written.
pub async fn a_batch_written_already_is_not_counted_twice<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let batch = [award(1, 10, 50, 1), award(1, 11, 20, 1)];
    let first = store.award_xp(&batch, &[session(0, 40)]).await.unwrap();
    assert_eq!(first.len(), 2);
    let again = store.award_xp(&batch, &[session(0, 40)]).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    let older = store.award_xp(&batch, &[session(0, 39)]).await.unwrap();
    assert!(older.is_empty(), "a batch before the stored checkpoint");
    let rank = store
        .member_rank(guild(1), user(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rank.member.xp, rank.member.messages), (50, 1));

    store
        .award_xp(&[award(1, 10, 5, 2)], &[session(0, 41)])
        .await
        .unwrap();
    let mut new_session = session(0, 1);
    new_session.session_id = "another".into();
    store
        .award_xp(&[award(1, 10, 5, 3)], &[new_session])
        .await
        .unwrap();
    // Without checkpoints nothing tells a retry from a new batch.
    store.award_xp(&[award(1, 10, 5, 4)], &[]).await.unwrap();
    store.award_xp(&[award(1, 10, 5, 4)], &[]).await.unwrap();
    let rank = store
        .member_rank(guild(1), user(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rank.member.xp, rank.member.messages), (70, 5));
}

/// A write made for an interaction happens once, however often Discord
/// delivers the interaction; other interactions, and writes made for none,
/// apply as usual. Pruned records are forgotten.
pub async fn a_write_for_an_interaction_is_applied_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let (g, u) = (guild(1), user(10));
    let (first, second) = (Some(Id::new(9_001)), Some(Id::new(9_002)));
    let added = store.add_xp(g, u, 100, t(1), first).await.unwrap();
    assert_eq!(added.now().map(|o| o.xp), Some(100));
    assert_eq!(
        store.add_xp(g, u, 100, t(2), first).await.unwrap(),
        Applied::Before
    );
    assert_eq!(
        store.set_xp(g, u, 5, t(2), first).await.unwrap(),
        Applied::Before
    );
    assert_eq!(
        store.reset_xp(g, u, t(2), first).await.unwrap(),
        Applied::Before
    );
    let rank = store.member_rank(g, u).await.unwrap().unwrap();
    assert_eq!(rank.member.xp, 100, "the replays wrote nothing");
    let set = store.set_xp(g, u, 40, t(3), second).await.unwrap();
    assert_eq!(set.now().map(|o| o.xp), Some(40));
    store.add_xp(g, u, 1, t(3), None).await.unwrap();
    store.add_xp(g, u, 1, t(3), None).await.unwrap();
    assert_eq!(
        store.member_rank(g, u).await.unwrap().unwrap().member.xp,
        42
    );
    // Pruned, an interaction is no longer known (no session replays a day back).
    assert_eq!(
        store.prune_applied(t(3)).await.unwrap(),
        1,
        "the one from t(1)"
    );
    let again = store.add_xp(g, u, 8, t(4), first).await.unwrap();
    assert_eq!(again.now().map(|o| o.xp), Some(50));
    assert_eq!(
        store.add_xp(g, u, 8, t(4), second).await.unwrap(),
        Applied::Before
    );
}

/// Members by (guild, user) with their XP: what the store should hold.
type Model = std::collections::BTreeMap<(u64, u64), i64>;

/// A fixed xorshift: the same "random" data on every backend and every run.
struct Walk(u64);

impl Walk {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// XP spread like a guild's: many at 0 (ties), many low, a long tail to
    /// 300,000, and repeated values, so buckets of every width hold ties.
    fn xp(&mut self) -> i64 {
        match self.below(10) {
            0 | 1 => 0,
            2 => 1 + self.below(60) as i64,
            3 => [100, 999, 1_000, 4_096, 15_625][self.below(5) as usize],
            _ => {
                let r = self.below(1 << 20) as f64 / f64::from(1 << 20);
                (r * r * r * 300_000.0) as i64
            }
        }
    }
}

/// The counts table equals a `GROUP BY` of `member_xp`, and both equal the
/// model's; every guild's leaderboard, page by page at offsets landing
/// anywhere, its length, and every member's rank and `out_of` equal a brute-force
/// sort of the model.
async fn expect_exact<F: Fixture>(fixture: &F, model: &Model, when: &str) {
    use crate::levels::xp_bucket;
    let store = fixture.store();
    let [stored, counted] = fixture.xp_bucket_counts().await;
    assert_eq!(stored, counted, "member_xp_buckets after {when}");
    let mut expected_counts = std::collections::BTreeMap::<(i64, i64), i64>::new();
    for (&(g, _), &xp) in model {
        *expected_counts
            .entry((g as i64, xp_bucket(xp)))
            .or_default() += 1;
    }
    let expected_counts: Vec<(i64, i64, i64)> = expected_counts
        .into_iter()
        .map(|((g, b), n)| (g, b, n))
        .collect();
    assert_eq!(counted, expected_counts, "member_xp after {when}");

    let guilds: std::collections::BTreeSet<u64> =
        model.keys().map(|&(g, _)| g).chain([1, 2, 3]).collect();
    for g in guilds {
        let mut order: Vec<(i64, u64)> = model
            .iter()
            .filter(|&(&(mg, _), _)| mg == g)
            .map(|(&(_, u), &xp)| (xp, u))
            .collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let order: Vec<(u64, i64)> = order.into_iter().map(|(xp, u)| (u, xp)).collect();
        let n = order.len() as u64;
        assert_eq!(
            store.leaderboard_len(guild(g)).await.unwrap(),
            n,
            "guild {g} after {when}"
        );
        // Every offset of a few strides and page sizes, past the end too.
        for (step, limit) in [(10, 10), (7, 3), (37, 25)] {
            let mut offset = 0;
            while offset <= n + step {
                let page: Vec<(u64, i64)> = store
                    .leaderboard(guild(g), offset, limit)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|m| (m.user_id.get(), m.xp))
                    .collect();
                let from = (offset as usize).min(order.len());
                let to = (from + limit as usize).min(order.len());
                assert_eq!(
                    page,
                    order[from..to],
                    "guild {g}, page at {offset} of {limit}, after {when}"
                );
                offset += step;
            }
        }
        for (i, &(u, xp)) in order.iter().enumerate() {
            let rank = store.member_rank(guild(g), user(u)).await.unwrap().unwrap();
            assert_eq!(
                (rank.position, rank.out_of, rank.member.xp),
                (i as u64 + 1, n, xp),
                "rank of user {u} in guild {g} after {when}"
            );
        }
    }
}

/// Ranks, `out_of` and pages are exact against a brute-force order, and the
/// per-bucket counts against `member_xp`, after each kind of write: awards
/// (new members and members crossing buckets, in one batch over several
/// guilds), set, add, take away, reset, a guild's reset, a user's deletion
/// (all their data, or their XP), an import, and a transfer's clear and write.
pub async fn ranks_and_pages_exact_against_brute_force<F: Fixture>(fixture: &F) {
    use crate::{
        import::{ImportGuild, ImportMember, ImportSettings},
        transfer::{MemberXpRow, Rows},
    };
    let store = fixture.store();
    let mut walk = Walk(0x2545_f491_4f6c_dd1d);
    let mut model = Model::new();
    expect_exact(fixture, &model, "nothing").await;

    // Three guilds, 400 members in guild 1; users shared between guilds.
    let mut batch = Vec::new();
    for (g, members) in [(1, 400), (2, 120), (3, 60)] {
        for u in 1..=members {
            let xp = walk.xp();
            batch.push(award(g, u, xp, 0));
            model.insert((g, u), xp);
        }
    }
    store.award_xp(&batch, &[]).await.unwrap();
    expect_exact(fixture, &model, "the first awards").await;

    // Awards as a flush writes them: duplicates, new members, many crossings.
    for round in 1..=3 {
        let batch: Vec<XpAward> = (0..300)
            .map(|_| {
                let g = 1 + walk.below(3);
                let u = 1 + walk.below(450);
                let xp = [0, 15, 25, 400, 5_000][walk.below(5) as usize];
                award(g, u, xp, round)
            })
            .collect();
        for a in &batch {
            *model
                .entry((a.guild_id.get(), a.user_id.get()))
                .or_default() += a.xp;
        }
        store.award_xp(&batch, &[]).await.unwrap();
    }
    expect_exact(fixture, &model, "awards").await;

    // Set (down to 0, onto a cube where a bucket starts, a new member), add, take
    // away below 0.
    for (u, xp) in [(1, 0), (2, 64), (3, 1_000), (4, 999), (451, 27_000)] {
        store
            .set_xp(guild(1), user(u), xp, t(5), None)
            .await
            .unwrap();
        model.insert((1, u), xp);
    }
    for (u, delta) in [(5, 1), (6, 100_000), (7, -50), (8, -1_000_000), (452, 7)] {
        let out = store
            .add_xp(guild(1), user(u), delta, t(5), None)
            .await
            .unwrap()
            .now()
            .unwrap();
        let total = model.entry((1, u)).or_default();
        *total = (*total + delta).max(0);
        assert_eq!(out.xp, *total);
    }
    expect_exact(fixture, &model, "set and add").await;

    for u in [9, 10, 11, 999] {
        store.reset_xp(guild(1), user(u), t(6), None).await.unwrap();
        model.remove(&(1, u));
    }
    expect_exact(fixture, &model, "resets").await;

    let in_guild_3 = model.keys().filter(|&&(g, _)| g == 3).count() as u64;
    assert_eq!(store.reset_guild_xp(guild(3)).await.unwrap(), in_guild_3);
    model.retain(|&(g, _), _| g != 3);
    expect_exact(fixture, &model, "a guild's reset").await;

    store.delete_user(user(12)).await.unwrap();
    store
        .delete_user_xp(user(13), guild(1), None, t(7))
        .await
        .unwrap();
    model.retain(|&(_, u), _| u != 12 && u != 13);
    expect_exact(fixture, &model, "user deletions").await;

    store.reset_guild_data(guild(2), None, t(8)).await.unwrap();
    model.retain(|&(g, _), _| g != 2);
    expect_exact(fixture, &model, "a guild's data reset").await;

    // An import: new members, and existing ones raised (a lower total is kept).
    let members: Vec<ImportMember> = (380..=470)
        .map(|u| ImportMember {
            user_id: user(u),
            xp: walk.xp(),
            messages: 1,
            warnings: Vec::new(),
        })
        .collect();
    for m in &members {
        let total = model.entry((1, m.user_id.get())).or_insert(m.xp);
        *total = (*total).max(m.xp);
    }
    store
        .import_guilds(
            &[ImportGuild {
                guild_id: guild(1),
                settings: ImportSettings::default(),
                members,
            }],
            t(9),
            false,
        )
        .await
        .unwrap();
    expect_exact(fixture, &model, "an import").await;

    // A restore or copy: every table emptied, then member_xp written page by page.
    store.clear_all().await.unwrap();
    expect_exact(fixture, &Model::new(), "clearing every table").await;
    let rows: Vec<MemberXpRow> = model
        .iter()
        .map(|(&(g, u), &xp)| MemberXpRow {
            guild_id: guild(g),
            user_id: user(u),
            xp,
            messages: 1,
            last_award_at: None,
        })
        .collect();
    for page in rows.chunks(100) {
        store
            .write_rows(&Rows::MemberXp(page.to_vec()))
            .await
            .unwrap();
    }
    expect_exact(fixture, &model, "a transfer").await;
}

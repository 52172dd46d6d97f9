//! What only MySQL needs testing beyond the shared suite.

mod common;

use chrono::{DateTime, Utc};
use keeper_store::{
    MemberProfile, XpAward, XpStore,
    levels::{XP_BUCKET_CAP, xp_bucket, xp_bucket_floor},
    prelude::*,
};
use keeper_store_mysql::MySqlStore;
use twilight_model::id::Id;

/// When every award and sighting in these tests happens.
fn at() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(1_764_000_000_000).unwrap()
}

/// One message's award of `xp` to `user` in `guild`, at [`at`].
fn award(guild: u64, user: u64, xp: i64) -> XpAward {
    XpAward {
        guild_id: Id::new(guild),
        user_id: Id::new(user),
        xp,
        messages: 1,
        at: at(),
    }
}

/// The award flush moves a known member's bucket after its upsert and counts
/// the move itself (`xp.rs`, migration 0020): whatever edge of a bucket a total
/// lands on, the stored bucket is Rust's, and the counts are the members'.
#[tokio::test]
async fn awards_landing_on_every_bucket_edge_store_keepers_bucket() {
    let db = common::ScratchDb::create().await;
    let store = MySqlStore::connect(&db.config()).await.unwrap();
    let mut totals = vec![
        1,
        2,
        63,
        64,
        65,
        XP_BUCKET_CAP,
        XP_BUCKET_CAP + 1,
        i64::MAX / 2,
    ];
    for b in 1..=2_000 {
        let floor = xp_bucket_floor(b);
        totals.extend([floor - 1, floor, floor + 1]);
    }
    let mut x: i64 = 100_000;
    while x < XP_BUCKET_CAP {
        totals.push(x);
        x = x * 3 / 2 + 7;
    }
    totals.retain(|&t| t >= 1);
    // Each member exists first with 1 XP, so the second award is an update
    // (the upsert's own bucket move), not an insert.
    let first: Vec<_> = (0..totals.len())
        .map(|i| award(7, 1 + i as u64, 1))
        .collect();
    let second: Vec<_> = (totals.iter().enumerate())
        .filter(|&(_, &t)| t > 1)
        .map(|(i, &t)| award(7, 1 + i as u64, t - 1))
        .collect();
    for part in first.chunks(500).chain(second.chunks(500)) {
        store.award_xp(part, &[]).await.unwrap();
    }
    let stored = sqlx::query!("SELECT user_id, xp, xp_bucket FROM member_xp ORDER BY user_id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), totals.len());
    let differ: Vec<_> = stored
        .iter()
        .filter(|r| r.xp_bucket != xp_bucket(r.xp))
        .map(|r| (r.xp, r.xp_bucket, xp_bucket(r.xp)))
        .collect();
    assert!(
        differ.is_empty(),
        "(xp, stored, Rust): {:?}",
        &differ[..differ.len().min(10)]
    );
    let [counts, counted] = db.bucket_counts().await;
    assert_eq!(counts, counted);
    store.close().await;
    db.drop_db().await;
}

/// The flush mutes the update trigger on its own connection
/// (`@keeper_buckets_counted`). A flush abandoned part way (as Keeper abandons
/// one at its write timeout) must not hand that connection to the next write:
/// with a pool of one, every `/xp`-style change after many cancelled flushes
/// still moves its member between the counts.
#[tokio::test]
async fn an_abandoned_flush_leaves_no_connection_with_the_trigger_muted() {
    let db = common::ScratchDb::create().await;
    let mut config = db.config();
    config.pool_size = 1;
    let store = MySqlStore::connect(&config).await.unwrap();
    let at = at();
    let members: Vec<_> = (1..=2_000).map(|u| award(7, u, 1)).collect();
    store.award_xp(&members, &[]).await.unwrap();
    let raise: Vec<_> = (1..=2_000).map(|u| award(7, u, 5_000)).collect();
    let mut cancelled = 0;
    for round in 0..40u64 {
        // Cut off at a different point each round: before, inside and after
        // the transaction.
        let within = std::time::Duration::from_micros(200 + round * 400);
        if tokio::time::timeout(within, store.award_xp(&raise, &[]))
            .await
            .is_err()
        {
            cancelled += 1;
        }
        // Moves a member across buckets through the trigger, on the pool's one
        // connection (up from 1 and back down again, so each round moves).
        let user = Id::new(1 + round);
        store
            .set_xp(Id::new(7), user, 1_000_000, at, None)
            .await
            .unwrap();
        store.set_xp(Id::new(7), user, 3, at, None).await.unwrap();
        let [counts, counted] = db.bucket_counts().await;
        assert_eq!(counts, counted, "after round {round}");
    }
    assert!(
        cancelled > 0,
        "no flush was cut off: the test proves nothing"
    );
    store.close().await;
    db.drop_db().await;
}

/// The award flush reads its members with a locking read, then inserts those
/// it did not find; at READ COMMITTED nothing stops another writer inserting
/// one of them in between (`xp.rs`, `upsert_awards`). Made to happen here: a
/// transaction holds member 2's row, so the flush's read passes member 1
/// (absent) and waits on member 2; the transaction inserts member 1 and
/// commits. The flush's insert then meets member 1's key, and the flush must
/// run again, adding to the row it now finds, rather than fail or lose either
/// writer's XP.
#[tokio::test]
async fn a_member_inserted_during_a_flush_gets_both_writers_xp() {
    let db = common::ScratchDb::create().await;
    let store = MySqlStore::connect(&db.config()).await.unwrap();
    store.award_xp(&[award(7, 2, 40)], &[]).await.unwrap();

    let mut other = store.pool().begin().await.unwrap();
    sqlx::query!("SELECT xp FROM member_xp WHERE guild_id = 7 AND user_id = 2 FOR UPDATE")
        .fetch_one(&mut *other)
        .await
        .unwrap();
    let flush = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .award_xp(&[award(7, 1, 30), award(7, 2, 10)], &[])
                .await
        }
    });
    // Until the flush's read waits on member 2's lock (past member 1).
    let waited = std::time::Instant::now();
    loop {
        let waiting = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64"
               FROM information_schema.INNODB_TRX t
               JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
               WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()"#
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(20),
            "the flush never waited on member 2's row"
        );
        // InnoDB refreshes INNODB_TRX only when it was not read in the last
        // 100 ms: polled faster, it never shows the wait.
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    let (bucket, at_ms) = (xp_bucket(100), at().timestamp_millis());
    sqlx::query!(
        "INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages, last_award_at)
         VALUES (7, 1, 100, 1, ?, 1, ?)",
        bucket,
        at_ms
    )
    .execute(&mut *other)
    .await
    .unwrap();
    other.commit().await.unwrap();

    let outcomes = flush
        .await
        .unwrap()
        .expect("the flush runs again, not fails");
    let totals: Vec<_> = outcomes
        .iter()
        .map(|o| (o.user_id.get(), o.xp, o.old_level, o.new_level))
        .collect();
    // Member 1 was already at level 1 (100 XP) when the flush added its 30.
    assert_eq!(totals, [(1, 130, 1, 1), (2, 50, 0, 0)]);
    let stored = sqlx::query!("SELECT user_id, xp, messages FROM member_xp ORDER BY user_id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let stored: Vec<_> = stored
        .iter()
        .map(|r| (r.user_id, r.xp, r.messages))
        .collect();
    assert_eq!(stored, [(1, 130, 2), (2, 50, 2)]);
    let [counts, counted] = db.bucket_counts().await;
    assert_eq!(counts, counted);
    store.close().await;
    db.drop_db().await;
}

/// A search looks through the guild's top members first and scans the
/// profiles only when they hold too few matches, or when the buckets holding
/// the top 2,000 hold more than 8,000 members (`profiles.rs`,
/// `search_members`). In a guild of 3,000 (more than the 2,000 looked through
/// first), a text in every name, a rare one, a rare one with a small limit and
/// one only the quietest members have each give what a brute-force search of
/// the whole guild gives, with `/rank`'s places; so do the first two in a
/// guild of 9,000 members in one bucket.
#[tokio::test]
async fn a_search_finds_what_a_scan_of_the_whole_guild_finds() {
    let db = common::ScratchDb::create().await;
    let store = MySqlStore::connect(&db.config()).await.unwrap();
    let name = |i: u64, quiet: bool| {
        let mut name = format!("Member {i}");
        if i.is_multiple_of(97) {
            name.push_str(" Rare");
        }
        if quiet {
            name.push_str(" Quiet");
        }
        name
    };
    // XP spread over many buckets, with ties (member i and i + 1,000 often
    // share a total).
    let spread: Vec<_> = (1..=3_000)
        .map(|i| {
            let xp = ((i * 7_919) % 4_001) as i64 + 1;
            (i, xp, name(i, xp <= 40))
        })
        .collect();
    let searches = [("member", 100), ("rare", 100), ("RARE", 5), ("quiet", 100)];
    search_as_brute_force(&store, 7, &spread, &searches).await;
    // 21 or 22 XP each: all in bucket 11.
    let one_bucket: Vec<_> = (1..=9_000)
        .map(|i| (i, 21 + (i % 2) as i64, name(i, false)))
        .collect();
    assert_eq!(xp_bucket(21), xp_bucket(22));
    search_as_brute_force(&store, 8, &one_bucket, &searches[..2]).await;
    store.close().await;
    db.drop_db().await;
}

/// Give guild `guild` the `members` (user, XP, name), then check that each
/// search (text, limit) finds the members and places a brute-force search of
/// them finds.
async fn search_as_brute_force(
    store: &MySqlStore,
    guild: u64,
    members: &[(u64, i64, String)],
    searches: &[(&str, u32)],
) {
    let awards: Vec<_> = (members.iter())
        .map(|&(user, xp, _)| award(guild, user, xp))
        .collect();
    for chunk in awards.chunks(500) {
        store.award_xp(chunk, &[]).await.unwrap();
    }
    let profiles: Vec<_> = (members.iter())
        .map(|(user, _, name)| MemberProfile {
            guild_id: Id::new(guild),
            user_id: Id::new(*user),
            display_name: name.clone(),
            avatar: None,
            seen_at: at(),
        })
        .collect();
    for chunk in profiles.chunks(500) {
        store.save_profiles(chunk).await.unwrap();
    }
    // The leaderboard's order: more XP first, then the lower id.
    let mut order: Vec<&(u64, i64, String)> = members.iter().collect();
    order.sort_by_key(|&&(user, xp, _)| (std::cmp::Reverse(xp), user));
    for &(text, limit) in searches {
        let expected: Vec<(u64, u64)> = (order.iter().enumerate())
            .filter(|(_, (_, _, name))| name.to_lowercase().contains(&text.to_lowercase()))
            .map(|(place, &&(user, _, _))| (user, place as u64 + 1))
            .take(limit as usize)
            .collect();
        assert!(!expected.is_empty(), "{text}: the test guild has matches");
        let found = (store.search_members(Id::new(guild), text, limit).await).unwrap();
        let found: Vec<(u64, u64)> = (found.iter())
            .map(|r| {
                assert_eq!(r.out_of, members.len() as u64, "{text}");
                (r.member.user_id.get(), r.position)
            })
            .collect();
        assert_eq!(found, expected, "guild {guild}: {text}, limit {limit}");
    }
}

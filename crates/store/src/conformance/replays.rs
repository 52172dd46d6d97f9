//! [`ReplayStore`](crate::ReplayStore): members' joins and departures counted
//! once. (Interactions applied once are tested with the writes made for them,
//! in `xp.rs`.)

use crate::{Delivery, GuildFacts, Store};

use super::{Fixture, guild, t, user};

/// Where an event was delivered: session `s`, sequence number `seq`.
fn at(s: &str, seq: u64) -> Delivery {
    Delivery {
        session_id: s.into(),
        sequence: seq,
    }
}

/// A guild stored with `count` members.
async fn with_members(store: &dyn Store, g: u64, count: u64) {
    let facts = GuildFacts {
        member_count: count,
        ..GuildFacts::unknown(guild(g))
    };
    store.save_guild(&facts, t(1)).await.unwrap();
}

async fn members(store: &dyn Store, g: u64) -> u64 {
    let all = store.all_guilds().await.unwrap();
    let found = all.iter().find(|f| f.guild_id == guild(g));
    found
        .unwrap_or_else(|| panic!("guild {g} not stored"))
        .member_count
}

/// A join moves the count once: delivered again (the same `joined_at`, or a
/// replay in the same session) it changes nothing; a later join counts again.
pub async fn a_join_is_counted_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let store = store.as_ref();
    let (g, u) = (guild(1), user(10));
    with_members(store, 1, 10).await;
    assert!(
        store
            .count_join(g, u, t(100), &at("s1", 5), t(100))
            .await
            .unwrap()
    );
    assert_eq!(members(store, 1).await, 11);
    assert!(
        !store
            .count_join(g, u, t(100), &at("s1", 5), t(101))
            .await
            .unwrap(),
        "a replay"
    );
    assert!(
        !store
            .count_join(g, u, t(100), &at("s1", 9), t(101))
            .await
            .unwrap(),
        "the same join delivered again"
    );
    assert!(
        !store
            .count_join(g, u, t(50), &at("s2", 1), t(101))
            .await
            .unwrap(),
        "an older join"
    );
    assert_eq!(members(store, 1).await, 11);
    assert!(
        store
            .count_join(guild(2), u, t(100), &at("s1", 6), t(101))
            .await
            .unwrap(),
        "another guild (not stored: no row is made for it)"
    );
    assert!(
        store
            .count_join(g, user(11), t(100), &at("s1", 7), t(101))
            .await
            .unwrap(),
        "another member"
    );
    assert_eq!(members(store, 1).await, 12);
    assert_eq!(store.all_guilds().await.unwrap().len(), 1);
    store.delete_user(u).await.unwrap();
    assert!(
        store
            .count_join(g, u, t(100), &at("s2", 2), t(102))
            .await
            .unwrap(),
        "forgotten with the user"
    );
    assert_eq!(members(store, 1).await, 13);
}

/// A departure moves the count once, even when the member came back before
/// the replay; a new session's departure is new whatever its number; a
/// departure of a member whose join was never seen counts; the count never
/// goes below 0.
pub async fn a_departure_is_counted_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let store = store.as_ref();
    let (g, u) = (guild(1), user(10));
    with_members(store, 1, 10).await;
    assert!(
        store
            .count_join(g, u, t(100), &at("s1", 5), t(100))
            .await
            .unwrap()
    );
    assert!(store.count_leave(g, u, &at("s1", 8), t(110)).await.unwrap());
    assert_eq!(members(store, 1).await, 10);
    assert!(
        !store.count_leave(g, u, &at("s1", 8), t(111)).await.unwrap(),
        "a replay"
    );
    assert_eq!(members(store, 1).await, 10);
    assert!(
        store
            .count_join(g, u, t(200), &at("s1", 12), t(200))
            .await
            .unwrap(),
        "back again"
    );
    assert_eq!(members(store, 1).await, 11);
    // The whole stretch replayed after a crash: nothing moves.
    assert!(
        !store
            .count_join(g, u, t(100), &at("s1", 5), t(201))
            .await
            .unwrap()
    );
    assert!(
        !store.count_leave(g, u, &at("s1", 8), t(201)).await.unwrap(),
        "the departure before the return, replayed after it"
    );
    assert!(
        !store
            .count_join(g, u, t(200), &at("s1", 12), t(201))
            .await
            .unwrap()
    );
    assert_eq!(members(store, 1).await, 11);

    assert!(
        store
            .count_leave(g, user(12), &at("s1", 20), t(210))
            .await
            .unwrap(),
        "a member whose join Keeper never saw"
    );
    assert!(
        !store
            .count_leave(g, user(12), &at("s1", 20), t(211))
            .await
            .unwrap()
    );
    assert_eq!(members(store, 1).await, 10);
    assert!(
        store.count_leave(g, u, &at("s2", 3), t(220)).await.unwrap(),
        "another session: not a replay"
    );
    assert_eq!(members(store, 1).await, 9);
    // Another guild's departures move only its own count.
    with_members(store, 2, 0).await;
    assert!(
        store
            .count_leave(guild(2), u, &at("s1", 30), t(230))
            .await
            .unwrap()
    );
    assert_eq!(members(store, 2).await, 0, "never below 0");
    assert_eq!(members(store, 1).await, 9);
}

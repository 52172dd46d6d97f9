//! [`ReplayStore`](crate::ReplayStore): joins welcomed once. (Interactions
//! applied once are tested with the writes made for them, in `xp.rs`.)

use super::{Fixture, guild, t, user};

/// The same join delivered again is not welcomed again; a later join is, in
/// each guild on its own; and forgetting a user forgets their joins.
pub async fn a_join_is_welcomed_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let (g, u) = (guild(1), user(10));
    assert!(store.welcome_once(g, u, t(100)).await.unwrap());
    assert!(!store.welcome_once(g, u, t(100)).await.unwrap(), "a replay");
    assert!(
        !store.welcome_once(g, u, t(50)).await.unwrap(),
        "an older join"
    );
    assert!(
        store.welcome_once(guild(2), u, t(100)).await.unwrap(),
        "another guild"
    );
    assert!(
        store.welcome_once(g, user(11), t(100)).await.unwrap(),
        "another member"
    );
    assert!(
        store.welcome_once(g, u, t(200)).await.unwrap(),
        "left and came back"
    );
    assert!(!store.welcome_once(g, u, t(200)).await.unwrap());
    store.delete_user(u).await.unwrap();
    assert!(
        store.welcome_once(g, u, t(200)).await.unwrap(),
        "forgotten with the user"
    );
}

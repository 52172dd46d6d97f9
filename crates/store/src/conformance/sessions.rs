//! [`SessionStore`](crate::SessionStore). Checkpoints written with an award are
//! tested in `xp.rs`.

use super::{Fixture, session};

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

/// Identify claims (the identify queue's): of claims racing for one bucket
/// from two handles on the database (two processes), exactly one wins; the
/// losers are told to wait what is left of the window, never more; another
/// bucket is free meanwhile; once the window has passed, the next claim wins.
pub async fn identify_claims_are_one_per_bucket_per_window<F: Fixture>(fixture: &F) {
    use std::time::{Duration, Instant};
    let window = Duration::from_millis(600);
    let (one, other) = (fixture.store(), fixture.reopen().await);
    let started = Instant::now();
    let mut claims = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = if i % 2 == 0 {
            one.clone()
        } else {
            other.clone()
        };
        claims.spawn(async move { store.claim_identify(0, window).await.unwrap() });
    }
    let answers = claims.join_all().await;
    let won = answers.iter().filter(|a| a.is_none()).count();
    assert_eq!(won, 1, "{answers:?}");
    for wait in answers.iter().flatten() {
        assert!(
            *wait > Duration::ZERO && *wait <= window,
            "told to wait {wait:?} in a {window:?} window"
        );
    }
    assert_eq!(other.claim_identify(1, window).await.unwrap(), None);
    let wait = one
        .claim_identify(0, window)
        .await
        .unwrap()
        .expect("still within the window");
    assert!(wait <= window.saturating_sub(started.elapsed()) + Duration::from_millis(50));
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(one.claim_identify(0, window).await.unwrap(), None);
    assert!(other.claim_identify(0, window).await.unwrap().is_some());
}

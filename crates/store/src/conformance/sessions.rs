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

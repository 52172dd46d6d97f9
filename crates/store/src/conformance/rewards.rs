//! [`RewardStore`](crate::RewardStore).

use super::{Fixture, guild, role};

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

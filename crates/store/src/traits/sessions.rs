use std::time::Duration;

use async_trait::async_trait;

use crate::{GatewaySession, StoreResult};

/// How long to wait before claiming an identify bucket again, from the
/// seconds left of its window as the database computed them: what is left
/// (none left: a moment, and the next claim decides), never more than the
/// window (a clock set back must not stall a shard).
pub fn identify_wait(left_secs: Option<f64>, window: Duration) -> Duration {
    let left = left_secs.filter(|s| s.is_finite()).unwrap_or(0.0);
    Duration::from_secs_f64(left.clamp(0.001, window.as_secs_f64().max(0.001)))
}

/// Gateway sessions: what each shard needs to resume after a restart.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Store (insert or replace) one shard's session.
    async fn save_session(&self, session: &GatewaySession) -> StoreResult<()>;

    /// The stored session of one shard.
    async fn session(&self, shard_id: u32) -> StoreResult<Option<GatewaySession>>;

    /// Forget a shard's session (after Discord invalidated it).
    async fn delete_session(&self, shard_id: u32) -> StoreResult<()>;

    /// Claim the next IDENTIFY of `bucket` (shard id % `max_concurrency`) for
    /// the caller: `Ok(None)` when claimed (the bucket's last claim, by any
    /// process on this database, is at least `window` old, or there is none),
    /// `Ok(Some(wait))` when one came within the window (ask again after
    /// `wait`, at most `window`). Of claims racing for one bucket, exactly one
    /// wins each window.
    async fn claim_identify(&self, bucket: u32, window: Duration) -> StoreResult<Option<Duration>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_what_is_left_of_the_window() {
        let window = Duration::from_secs(5);
        assert_eq!(
            identify_wait(Some(2.5), window),
            Duration::from_millis(2500)
        );
        // Past the window by the time it was read: ask again at once.
        assert_eq!(identify_wait(Some(-0.2), window), Duration::from_millis(1));
        assert_eq!(identify_wait(None, window), Duration::from_millis(1));
        assert_eq!(
            identify_wait(Some(f64::NAN), window),
            Duration::from_millis(1)
        );
        // A claim "in the future" (a clock set back): one window at most.
        assert_eq!(identify_wait(Some(3_600.0), window), window);
    }
}

use async_trait::async_trait;

use crate::{GatewaySession, StoreResult};

/// Gateway sessions: what each shard needs to resume after a restart.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Store (insert or replace) one shard's session.
    async fn save_session(&self, session: &GatewaySession) -> StoreResult<()>;

    /// The stored session of one shard.
    async fn session(&self, shard_id: u32) -> StoreResult<Option<GatewaySession>>;

    /// Forget a shard's session (after Discord invalidated it).
    async fn delete_session(&self, shard_id: u32) -> StoreResult<()>;
}

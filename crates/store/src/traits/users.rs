use async_trait::async_trait;
use twilight_model::id::{Id, marker::UserMarker};

use crate::{DeletedCounts, StoreResult, UserExport};

/// Personal data: what a user may ask to see, and to have deleted.
#[async_trait]
pub trait UserDataStore: Send + Sync {
    /// Everything stored about one user, in every guild.
    async fn export_user(&self, user: Id<UserMarker>) -> StoreResult<UserExport>;

    /// Delete the user's XP rows and the cases about them, in every guild. Cases
    /// they issued as a moderator stay: they are the guild's record, not theirs.
    async fn delete_user(&self, user: Id<UserMarker>) -> StoreResult<DeletedCounts>;
}

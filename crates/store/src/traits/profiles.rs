//! [`ProfileStore`]: how members look in each guild, for the web leaderboard.

use async_trait::async_trait;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{MemberProfile, MemberRank, StoreResult};

/// Each member's display name and avatar in each guild, as Keeper last saw
/// them in their messages. The leaderboard page shows them; Discord's API
/// would cost a request per member, and a page has a hundred.
///
/// The bot offers a member's profile at most once a day
/// (`src/xp/profiles.rs`), so awards stay as cheap as they were.
#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Write these profiles in one statement. A stored profile that already
    /// says the same is left as it is (not rewritten); the last of several
    /// for one member wins. Returns how many rows were written.
    async fn save_profiles(&self, profiles: &[MemberProfile]) -> StoreResult<u64>;

    /// The stored profiles of `users` in `guild`, in no order (members Keeper
    /// never saw speak have none).
    async fn profiles(
        &self,
        guild: Id<GuildMarker>,
        users: &[Id<UserMarker>],
    ) -> StoreResult<Vec<MemberProfile>>;

    /// Members of `guild` on its leaderboard whose stored display name
    /// contains `text`, ignoring case, with their place: highest XP first (ties
    /// by lower user id, as the leaderboard), at most `limit`.
    async fn search_members(
        &self,
        guild: Id<GuildMarker>,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemberRank>>;
}

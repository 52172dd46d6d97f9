//! [`ReplayStore`]: what Discord may deliver twice (applied interactions,
//! members' joins and departures), remembered so its effect happens once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{Delivery, ReplayStore, StoreResult, id_to_db};
use sqlx::{PgConnection, Postgres, Transaction};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, UserMarker},
};

use crate::{
    PgStore,
    error::{db_error, out_of_range},
    guilds::move_member_count,
};

impl PgStore {
    /// A write transaction for a write made for `once`'s interaction, with the
    /// interaction recorded in it; `None` when it was applied before (a replay:
    /// the caller writes nothing). Without an interaction, a plain write.
    pub(crate) async fn begin_once(
        &self,
        once: Option<Id<InteractionMarker>>,
        guild: Id<GuildMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Transaction<'static, Postgres>>> {
        let mut tx = self.begin_write().await?;
        Ok(record_applied(&mut tx, once, guild, at)
            .await?
            .then_some(tx))
    }
}

/// Record in `tx` that `once`'s write is applied: false when it was already.
async fn record_applied(
    tx: &mut PgConnection,
    once: Option<Id<InteractionMarker>>,
    guild: Id<GuildMarker>,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let Some(interaction) = once else {
        return Ok(true);
    };
    let done = sqlx::query!(
        "INSERT INTO applied_interactions (interaction_id, guild_id, applied_at)
         VALUES ($1, $2, $3) ON CONFLICT (interaction_id) DO NOTHING",
        id_to_db(interaction),
        id_to_db(guild),
        at,
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

/// A sequence number as stored.
fn stored_sequence(seen: &Delivery) -> StoreResult<i64> {
    i64::try_from(seen.sequence).map_err(|_| out_of_range("The sequence number"))
}

/// Finish a join's or departure's transaction: when it was `new`, the guild's
/// member count moves by `delta` in it.
async fn counted(
    mut tx: Transaction<'static, Postgres>,
    new: bool,
    guild_id: i64,
    delta: i64,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    if new {
        move_member_count(&mut tx, guild_id, delta, at).await?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(new)
}

#[async_trait]
impl ReplayStore for PgStore {
    /// The row is written exactly when the event is new (a row the upsert's
    /// `WHERE` skipped is not counted; a concurrent write of the same member's
    /// row is waited for and the `WHERE` read again on it), and the count moves
    /// with it.
    async fn count_join(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        joined_at: DateTime<Utc>,
        seen: &Delivery,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (guild_id, sequence) = (id_to_db(guild), stored_sequence(seen)?);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query!(
            "INSERT INTO welcomed_members AS w (guild_id, user_id, joined_at, session_id, sequence)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (guild_id, user_id) DO UPDATE
             SET joined_at = excluded.joined_at, left_at = NULL,
                 session_id = excluded.session_id, sequence = excluded.sequence
             WHERE w.joined_at < excluded.joined_at
               AND NOT (w.session_id IS NOT DISTINCT FROM excluded.session_id
                        AND w.sequence >= excluded.sequence)",
            guild_id,
            id_to_db(user),
            joined_at,
            seen.session_id,
            sequence,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        counted(tx, done.rows_affected() == 1, guild_id, 1, at).await
    }

    async fn count_leave(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        seen: &Delivery,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (guild_id, sequence) = (id_to_db(guild), stored_sequence(seen)?);
        let mut tx = self.begin_write().await?;
        // joined_at the epoch: a member whose join Keeper never saw.
        let done = sqlx::query!(
            "INSERT INTO welcomed_members AS w
                 (guild_id, user_id, joined_at, left_at, session_id, sequence)
             VALUES ($1, $2, 'epoch', $3, $4, $5)
             ON CONFLICT (guild_id, user_id) DO UPDATE
             SET left_at = excluded.left_at,
                 session_id = excluded.session_id, sequence = excluded.sequence
             WHERE NOT (w.session_id IS NOT DISTINCT FROM excluded.session_id
                        AND w.sequence >= excluded.sequence)",
            guild_id,
            id_to_db(user),
            at,
            seen.session_id,
            sequence,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        counted(tx, done.rows_affected() == 1, guild_id, -1, at).await
    }

    async fn prune_applied(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut work = self.work().await?;
        let done = sqlx::query!(
            "DELETE FROM applied_interactions WHERE applied_at < $1",
            before
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(done.rows_affected())
    }
}

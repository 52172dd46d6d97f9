//! [`ReplayStore`]: what Discord may deliver twice (applied interactions,
//! welcomed joins), remembered so its effect happens once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{ReplayStore, StoreResult, id_to_db};
use sqlx::{PgConnection, Postgres, Transaction};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, UserMarker},
};

use crate::{PgStore, error::db_error};

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

#[async_trait]
impl ReplayStore for PgStore {
    /// One statement: the row is written (or moved to a later join) exactly when
    /// the join is new; a row the upsert's `WHERE` skipped is not counted.
    async fn welcome_once(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        joined_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query!(
            "INSERT INTO welcomed_members AS w (guild_id, user_id, joined_at) VALUES ($1, $2, $3)
             ON CONFLICT (guild_id, user_id) DO UPDATE SET joined_at = excluded.joined_at
             WHERE w.joined_at < excluded.joined_at",
            id_to_db(guild),
            id_to_db(user),
            joined_at,
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune_applied(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query!(
            "DELETE FROM applied_interactions WHERE applied_at < $1",
            before
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

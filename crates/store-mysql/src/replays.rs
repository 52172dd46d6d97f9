//! [`ReplayStore`]: what Discord may deliver twice (applied interactions,
//! members' joins and departures), remembered so its effect happens once.
//!
//! MySQL's upsert has no `WHERE` and counts an insert and an unchanged row
//! alike (1, with the CLIENT_FOUND_ROWS sqlx sets), so neither "was it new?"
//! can be read from one statement as on the other backends: an interaction is
//! a plain insert whose duplicate-key error means "applied before", and a
//! member's event locks the member's row, decides in Rust, then writes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{Delivery, ReplayStore, StoreResult, id_to_db};
use sqlx::{MySql, MySqlConnection, Transaction};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, UserMarker},
};

use crate::{
    MySqlStore,
    convert::to_ms,
    error::{Stop, out_of_range, retrying},
    guilds::move_member_count,
};

impl MySqlStore {
    /// A write transaction for a write made for `once`'s interaction, with the
    /// interaction recorded in it; `None` when it was applied before (a replay:
    /// the caller writes nothing). Without an interaction, a plain write.
    ///
    /// For the body of a [`retrying`] transaction: the error keeps InnoDB's, so
    /// a deadlock or lock wait timeout runs the caller's transaction again.
    pub(crate) async fn begin_once(
        &self,
        once: Option<Id<InteractionMarker>>,
        guild: Id<GuildMarker>,
        at: DateTime<Utc>,
    ) -> Result<Option<Transaction<'static, MySql>>, Stop> {
        let mut tx = self.begin_write().await?;
        Ok(record_applied(&mut tx, once, guild, at)
            .await?
            .then_some(tx))
    }
}

/// Record in `tx` that `once`'s write is applied: false when it was already.
///
/// A plain insert: a duplicate key is the interaction applied before (by a
/// transaction that committed; one still running is waited for, and if it
/// rolls back this insert goes through). A failed statement leaves MySQL's
/// transaction usable, unlike PostgreSQL's.
async fn record_applied(
    tx: &mut MySqlConnection,
    once: Option<Id<InteractionMarker>>,
    guild: Id<GuildMarker>,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let Some(interaction) = once else {
        return Ok(true);
    };
    let done = sqlx::query!(
        "INSERT INTO applied_interactions (interaction_id, guild_id, applied_at)
         VALUES (?, ?, ?)",
        id_to_db(interaction),
        id_to_db(guild),
        to_ms(at)
    )
    .execute(&mut *tx)
    .await;
    match done {
        Ok(_) => Ok(true),
        Err(e) if is_duplicate(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the insert met a row with the same key.
fn is_duplicate(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

/// A sequence number as stored.
fn stored_sequence(seen: &Delivery) -> StoreResult<i64> {
    i64::try_from(seen.sequence).map_err(|_| out_of_range("The sequence number"))
}

/// A `welcomed_members` row as the replay checks read it, locked.
struct SeenRow {
    joined_at: i64,
    session_id: Option<String>,
    sequence: Option<i64>,
}

impl SeenRow {
    /// Whether the event at `seen` (`sequence` as stored) is at or below the
    /// last one counted for the member in the same session: a replay. Read as
    /// the other backends' SQL reads it, where a row without a sequence in the
    /// same session is not known to be older, so not counted again.
    fn replays(&self, seen: &Delivery, sequence: i64) -> bool {
        self.session_id.as_deref() == Some(seen.session_id.as_str())
            && self.sequence.is_none_or(|stored| stored >= sequence)
    }
}

/// The member's row, locked until the transaction ends; `None` when there is
/// none (then nothing is locked: READ COMMITTED takes no gap locks, and the
/// insert that follows meets a racing one as a duplicate key).
async fn lock_seen(
    tx: &mut MySqlConnection,
    guild_id: i64,
    user_id: i64,
) -> Result<Option<SeenRow>, sqlx::Error> {
    sqlx::query_as!(
        SeenRow,
        "SELECT joined_at, session_id, sequence FROM welcomed_members
         WHERE guild_id = ? AND user_id = ? FOR UPDATE",
        guild_id,
        user_id
    )
    .fetch_optional(&mut *tx)
    .await
}

/// Finish a join's or departure's transaction: when it was `new`, the guild's
/// member count moves by `delta` in it.
async fn counted(
    mut tx: Transaction<'static, MySql>,
    new: bool,
    guild_id: i64,
    delta: i64,
    at: DateTime<Utc>,
) -> Result<bool, Stop> {
    if new {
        move_member_count(&mut tx, guild_id, delta, at).await?;
    }
    tx.commit().await?;
    Ok(new)
}

#[async_trait]
impl ReplayStore for MySqlStore {
    /// The member's row is locked, the event compared with it in Rust, and the
    /// row written exactly when the event is new, the count moving with it in
    /// the same transaction. A member without a row is inserted; should a
    /// racing transaction insert it first, the duplicate key sends this one
    /// back to lock and compare with that row.
    async fn count_join(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        joined_at: DateTime<Utc>,
        seen: &Delivery,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (guild_id, user_id, joined_ms) = (id_to_db(guild), id_to_db(user), to_ms(joined_at));
        let (session, sequence) = (seen.session_id.as_str(), stored_sequence(seen)?);
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            let new = loop {
                let Some(row) = lock_seen(&mut tx, guild_id, user_id).await? else {
                    let inserted = sqlx::query!(
                        "INSERT INTO welcomed_members
                             (guild_id, user_id, joined_at, session_id, sequence)
                         VALUES (?, ?, ?, ?, ?)",
                        guild_id,
                        user_id,
                        joined_ms,
                        session,
                        sequence
                    )
                    .execute(&mut *tx)
                    .await;
                    match inserted {
                        Ok(_) => break true,
                        Err(e) if is_duplicate(&e) => continue,
                        Err(e) => return Err(e.into()),
                    }
                };
                // The same join (or an older one), or a replay in its session.
                if row.joined_at >= joined_ms || row.replays(seen, sequence) {
                    break false;
                }
                sqlx::query!(
                    "UPDATE welcomed_members
                     SET joined_at = ?, left_at = NULL, session_id = ?, sequence = ?
                     WHERE guild_id = ? AND user_id = ?",
                    joined_ms,
                    session,
                    sequence,
                    guild_id,
                    user_id
                )
                .execute(&mut *tx)
                .await?;
                break true;
            };
            counted(tx, new, guild_id, 1, at).await
        })
        .await
    }

    /// As [`count_join`](Self::count_join): the row locked, compared in Rust,
    /// written when the departure is new.
    async fn count_leave(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        seen: &Delivery,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (guild_id, user_id, at_ms) = (id_to_db(guild), id_to_db(user), to_ms(at));
        let (session, sequence) = (seen.session_id.as_str(), stored_sequence(seen)?);
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            let new = loop {
                let Some(row) = lock_seen(&mut tx, guild_id, user_id).await? else {
                    // joined_at 0: a member whose join Keeper never saw.
                    let inserted = sqlx::query!(
                        "INSERT INTO welcomed_members
                             (guild_id, user_id, joined_at, left_at, session_id, sequence)
                         VALUES (?, ?, 0, ?, ?, ?)",
                        guild_id,
                        user_id,
                        at_ms,
                        session,
                        sequence
                    )
                    .execute(&mut *tx)
                    .await;
                    match inserted {
                        Ok(_) => break true,
                        Err(e) if is_duplicate(&e) => continue,
                        Err(e) => return Err(e.into()),
                    }
                };
                if row.replays(seen, sequence) {
                    break false;
                }
                sqlx::query!(
                    "UPDATE welcomed_members SET left_at = ?, session_id = ?, sequence = ?
                     WHERE guild_id = ? AND user_id = ?",
                    at_ms,
                    session,
                    sequence,
                    guild_id,
                    user_id
                )
                .execute(&mut *tx)
                .await?;
                break true;
            };
            counted(tx, new, guild_id, -1, at).await
        })
        .await
    }

    /// One statement, retried: it may meet a guild's reset deleting the same
    /// rows in another order.
    async fn prune_applied(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let before_ms = to_ms(before);
        retrying(|| async move {
            let done = sqlx::query!(
                "DELETE FROM applied_interactions WHERE applied_at < ?",
                before_ms
            )
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(session: Option<&str>, sequence: Option<i64>) -> SeenRow {
        SeenRow {
            joined_at: 0,
            session_id: session.map(str::to_owned),
            sequence,
        }
    }

    #[test]
    fn a_replay_is_at_or_below_the_last_event_of_its_session() {
        let seen = Delivery {
            session_id: "s1".into(),
            sequence: 8,
        };
        assert!(row(Some("s1"), Some(8)).replays(&seen, 8));
        assert!(row(Some("s1"), Some(9)).replays(&seen, 8));
        assert!(!row(Some("s1"), Some(7)).replays(&seen, 8));
        assert!(
            !row(Some("s2"), Some(9)).replays(&seen, 8),
            "another session"
        );
        assert!(
            !row(None, None).replays(&seen, 8),
            "never counted in a session"
        );
        assert!(
            row(Some("s1"), None).replays(&seen, 8),
            "not known to be older, as SQL's NULL reads it"
        );
    }
}

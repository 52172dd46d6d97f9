//! [`UserDataStore`]: personal data, everything stored about one user, and
//! deleting it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{Applied, DeletedCounts, StoreResult, UserDataStore, UserExport, id_to_db};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, UserMarker},
};

use crate::{
    MySqlStore,
    cases::CaseRow,
    convert::from_rows,
    error::{db_error, retrying},
    profiles::ProfileRow,
    xp::XpRow,
};

#[async_trait]
impl UserDataStore for MySqlStore {
    /// One read transaction (one snapshot), so the four parts describe the same
    /// moment.
    async fn export_user(&self, user: Id<UserMarker>) -> StoreResult<UserExport> {
        let user_id = id_to_db(user);
        let mut tx = self.begin_read().await?;
        let xp = sqlx::query_as!(
            XpRow,
            "SELECT guild_id, user_id, xp, level, messages, last_award_at
             FROM member_xp WHERE user_id = ? ORDER BY guild_id",
            user_id
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let profiles = sqlx::query_as!(
            ProfileRow,
            "SELECT guild_id, user_id, display_name, avatar, seen_at
             FROM member_profiles WHERE user_id = ? ORDER BY guild_id",
            user_id
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let cases = sqlx::query_as!(
            CaseRow,
            "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                    expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                    action_status, action_error, lift_status, lift_error, lift_claimed_by,
                    lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
             FROM mod_cases WHERE target_id = ? ORDER BY guild_id, case_number",
            user_id
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let moderated = sqlx::query_as!(
            CaseRow,
            "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                    expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                    action_status, action_error, lift_status, lift_error, lift_claimed_by,
                    lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
             FROM mod_cases WHERE moderator_id = ? ORDER BY guild_id, case_number",
            user_id
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(UserExport {
            user_id: user,
            xp: from_rows(xp)?,
            profiles: from_rows(profiles)?,
            cases: from_rows(cases)?,
            moderated: from_rows(moderated)?,
        })
    }

    /// The user's XP rows and the cases about them, in every guild, atomically. The
    /// guilds' case counters are left alone, so deleted numbers are never reused.
    /// Retried whole if InnoDB rolls it back: deleting XP rows moves the
    /// guilds' bucket counts (`member_xp`'s triggers), which award flushes
    /// lock too, in their own order.
    async fn delete_user(&self, user: Id<UserMarker>) -> StoreResult<DeletedCounts> {
        let user_id = id_to_db(user);
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            let xp_rows = sqlx::query!("DELETE FROM member_xp WHERE user_id = ?", user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let profiles = sqlx::query!("DELETE FROM member_profiles WHERE user_id = ?", user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // The reason history of the cases about them goes with the cases.
            sqlx::query!(
                "DELETE a FROM case_amendments a
                 JOIN mod_cases c ON c.guild_id = a.guild_id AND c.case_number = a.case_number
                 WHERE c.target_id = ?",
                user_id
            )
            .execute(&mut *tx)
            .await?;
            // Cases they issued as a moderator stay: they are the guild's record.
            let cases = sqlx::query!("DELETE FROM mod_cases WHERE target_id = ?", user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // When they last joined each guild (kept so a replayed join isn't welcomed
            // twice) is theirs too.
            sqlx::query!("DELETE FROM welcomed_members WHERE user_id = ?", user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(DeletedCounts {
                xp_rows,
                profiles,
                cases,
            })
        })
        .await
    }

    /// Retried whole as [`delete_user`](Self::delete_user) is, the interaction's
    /// record with it.
    async fn delete_user_xp(
        &self,
        user: Id<UserMarker>,
        guild: Id<GuildMarker>,
        once: Option<Id<InteractionMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<Applied<u64>> {
        let user_id = id_to_db(user);
        retrying(|| async move {
            let Some(mut tx) = self.begin_once(once, guild, at).await? else {
                return Ok(Applied::Before);
            };
            let xp = sqlx::query!("DELETE FROM member_xp WHERE user_id = ?", user_id)
                .execute(&mut *tx)
                .await?;
            // Their names and avatars go with it: the leaderboard page no longer
            // shows them.
            sqlx::query!("DELETE FROM member_profiles WHERE user_id = ?", user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Applied::Now(xp.rows_affected()))
        })
        .await
    }
}

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
    PgStore, cases::CaseRow, convert::from_rows, error::db_error, profiles::ProfileRow, xp::XpRow,
};

#[async_trait]
impl UserDataStore for PgStore {
    async fn export_user(&self, user: Id<UserMarker>) -> StoreResult<UserExport> {
        let user_id = id_to_db(user);
        // One snapshot for the four reads, so the export is consistent with itself.
        let mut tx = self.begin_read().await?;
        let xp = sqlx::query_as!(
            XpRow,
            "SELECT guild_id, user_id, xp, level, messages, last_award_at
         FROM member_xp WHERE user_id = $1 ORDER BY guild_id",
            user_id,
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let profiles = sqlx::query_as!(
            ProfileRow,
            "SELECT guild_id, user_id, display_name, avatar, seen_at
             FROM member_profiles WHERE user_id = $1 ORDER BY guild_id",
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
         FROM mod_cases WHERE target_id = $1 ORDER BY guild_id, case_number",
            user_id,
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
         FROM mod_cases WHERE moderator_id = $1 ORDER BY guild_id, case_number",
            user_id,
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

    async fn delete_user(&self, user: Id<UserMarker>) -> StoreResult<DeletedCounts> {
        let user_id = id_to_db(user);
        let mut tx = self.begin_write().await?;
        let xp_rows = sqlx::query!("DELETE FROM member_xp WHERE user_id = $1", user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        let profiles = sqlx::query!("DELETE FROM member_profiles WHERE user_id = $1", user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        // The reason history of the cases about them goes with the cases.
        sqlx::query!(
            "DELETE FROM case_amendments WHERE (guild_id, case_number) IN
             (SELECT guild_id, case_number FROM mod_cases WHERE target_id = $1)",
            user_id
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // Cases they issued as a moderator stay: they are the guild's record.
        let cases = sqlx::query!("DELETE FROM mod_cases WHERE target_id = $1", user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        // When they last joined each guild (kept so a replayed join isn't welcomed
        // twice) is theirs too.
        sqlx::query!("DELETE FROM welcomed_members WHERE user_id = $1", user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(DeletedCounts {
            xp_rows,
            profiles,
            cases,
        })
    }

    async fn delete_user_xp(
        &self,
        user: Id<UserMarker>,
        guild: Id<GuildMarker>,
        once: Option<Id<InteractionMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<Applied<u64>> {
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        let user_id = id_to_db(user);
        let xp = sqlx::query!("DELETE FROM member_xp WHERE user_id = $1", user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        // Their names and avatars go with it: the leaderboard page no longer
        // shows them.
        sqlx::query!("DELETE FROM member_profiles WHERE user_id = $1", user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(xp.rows_affected()))
    }
}

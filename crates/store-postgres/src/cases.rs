//! [`CaseStore`]: moderation cases, numbered 1, 2, 3... per guild.
//!
//! Numbers come from `case_counters` (not `MAX(case_number) + 1`), so a number is
//! never reused even after the cases about a user are deleted.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{Case, CaseStore, NewCase, StoreError, StoreResult, id_from_db, id_to_db};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{PgStore, convert::from_rows, error::db_error};

/// A `mod_cases` row as stored.
pub(crate) struct CaseRow {
    pub(crate) guild_id: i64,
    pub(crate) case_number: i64,
    pub(crate) target_id: i64,
    pub(crate) moderator_id: i64,
    pub(crate) kind: String,
    pub(crate) reason: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) revoked_by: Option<i64>,
    pub(crate) revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<CaseRow> for Case {
    type Error = StoreError;

    fn try_from(r: CaseRow) -> StoreResult<Self> {
        Ok(Case {
            guild_id: id_from_db(r.guild_id)?,
            number: r.case_number,
            target_id: id_from_db(r.target_id)?,
            moderator_id: id_from_db(r.moderator_id)?,
            kind: r.kind.parse()?,
            reason: r.reason,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_by: r.revoked_by.map(id_from_db).transpose()?,
            revoked_at: r.revoked_at,
        })
    }
}

#[async_trait]
impl CaseStore for PgStore {
    /// One statement: bump (or start) the guild's counter and insert the case with
    /// the new number. The counter row stays locked until the statement's transaction
    /// ends, so concurrent moderators get consecutive numbers, never the same one.
    async fn add_case(&self, case: &NewCase) -> StoreResult<Case> {
        sqlx::query_as!(
            CaseRow,
            r#"WITH n AS (
               INSERT INTO case_counters AS c (guild_id, last_case) VALUES ($1, 1)
               ON CONFLICT (guild_id) DO UPDATE SET last_case = c.last_case + 1
               RETURNING last_case
           )
           INSERT INTO mod_cases
               (guild_id, case_number, target_id, moderator_id, kind, reason, created_at, expires_at)
           SELECT $1, n.last_case, $2, $3, $4, $5, $6, $7 FROM n
           RETURNING guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                     expires_at, revoked_by, revoked_at"#,
            id_to_db(case.guild_id),
            id_to_db(case.target_id),
            id_to_db(case.moderator_id),
            case.kind.as_str(),
            case.reason.as_deref(),
            case.created_at,
            case.expires_at,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?
        .try_into()
    }

    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>> {
        sqlx::query_as!(
            CaseRow,
            "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at
         FROM mod_cases WHERE guild_id = $1 AND case_number = $2",
            id_to_db(guild),
            number,
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(Case::try_from)
        .transpose()
    }

    async fn cases(
        &self,
        guild: Id<GuildMarker>,
        target: Option<Id<UserMarker>>,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        // Two statements rather than `($2 IS NULL OR target_id = $2)`: a prepared
        // statement's generic plan could not use the (guild_id, target_id) index.
        let rows = match target {
            Some(target) => {
                sqlx::query_as!(
                CaseRow,
                "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                    expires_at, revoked_by, revoked_at
             FROM mod_cases WHERE guild_id = $1 AND target_id = $2
             ORDER BY case_number DESC LIMIT $3",
                id_to_db(guild),
                id_to_db(target),
                i64::from(limit),
            )
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query_as!(
                CaseRow,
                "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                    expires_at, revoked_by, revoked_at
             FROM mod_cases WHERE guild_id = $1
             ORDER BY case_number DESC LIMIT $2",
                id_to_db(guild),
                i64::from(limit),
            )
                .fetch_all(&self.pool)
                .await
            }
        };
        from_rows(rows.map_err(db_error)?)
    }

    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Case>> {
        // Only a case in force is changed: revoking twice keeps the first revocation.
        let revoked = sqlx::query_as!(
            CaseRow,
            "UPDATE mod_cases SET revoked_by = $3, revoked_at = $4
         WHERE guild_id = $1 AND case_number = $2 AND revoked_at IS NULL
         RETURNING guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                   expires_at, revoked_by, revoked_at",
            id_to_db(guild),
            number,
            id_to_db(by),
            at,
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        match revoked {
            Some(row) => row.try_into().map(Some),
            // Already revoked (returned unchanged) or no such case.
            None => self.case(guild, number).await,
        }
    }

    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        // "Active" as in `active_warnings`: not revoked and not expired at `at`.
        let done = sqlx::query!(
            "UPDATE mod_cases SET revoked_by = $3, revoked_at = $4
         WHERE guild_id = $1 AND target_id = $2 AND kind = 'warn' AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > $4)",
            id_to_db(guild),
            id_to_db(target),
            id_to_db(by),
            at,
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!" FROM mod_cases
           WHERE guild_id = $1 AND target_id = $2 AND kind = 'warn' AND revoked_at IS NULL
             AND (expires_at IS NULL OR expires_at > $3)"#,
            id_to_db(guild),
            id_to_db(target),
            now,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)
    }
}

//! [`CaseStore`]: moderation cases, numbered 1, 2, 3... per guild.
//!
//! Numbers come from `case_counters` (not `MAX(case_number) + 1`), so a number is
//! never reused even after the cases about a user are deleted.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{Case, CaseStore, NewCase, StoreError, StoreResult, id_from_db, id_to_db};
use sqlx::SqliteConnection;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{
    SqliteStore,
    convert::{from_ms, from_ms_opt, from_rows, to_ms},
    error::db_error,
};

/// A `mod_cases` row as stored.
pub(crate) struct CaseRow {
    pub(crate) guild_id: i64,
    pub(crate) case_number: i64,
    pub(crate) target_id: i64,
    pub(crate) moderator_id: i64,
    pub(crate) kind: String,
    pub(crate) reason: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) revoked_by: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
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
            created_at: from_ms(r.created_at)?,
            expires_at: from_ms_opt(r.expires_at)?,
            revoked_by: r.revoked_by.map(id_from_db).transpose()?,
            revoked_at: from_ms_opt(r.revoked_at)?,
        })
    }
}

/// One case's row, on a connection: `case` reads it, `revoke_case` reads it back
/// in its write transaction.
async fn fetch_case(
    conn: &mut SqliteConnection,
    guild_id: i64,
    number: i64,
) -> StoreResult<Option<CaseRow>> {
    let rows = sqlx::query_as!(
        CaseRow,
        r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                  expires_at, revoked_by, revoked_at
           FROM mod_cases WHERE guild_id = ?1 AND case_number = ?2"#,
        guild_id,
        number
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(rows.into_iter().next())
}

#[async_trait]
impl CaseStore for SqliteStore {
    /// Allocate the guild's next number and insert the case, in one write transaction
    /// on the single writer: concurrent moderators get 1..n with no gap or duplicate.
    async fn add_case(&self, case: &NewCase) -> StoreResult<Case> {
        let guild_id = id_to_db(case.guild_id);
        let target_id = id_to_db(case.target_id);
        let moderator_id = id_to_db(case.moderator_id);
        let kind = case.kind.as_str();
        let created_at = to_ms(case.created_at);
        let expires_at = case.expires_at.map(to_ms);

        let mut tx = self.begin_write().await?;
        // RETURNING read with fetch_all: see the crate docs.
        let numbers = sqlx::query_scalar!(
            r#"INSERT INTO case_counters (guild_id, last_case) VALUES (?1, 1)
           ON CONFLICT (guild_id) DO UPDATE SET last_case = last_case + 1
           RETURNING last_case AS "last_case!: i64""#,
            guild_id
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let number = numbers
            .first()
            .copied()
            .ok_or_else(|| StoreError::Internal("the case counter returned no row".into()))?;
        sqlx::query!(
            r#"INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
                                  created_at, expires_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"#,
            guild_id,
            number,
            target_id,
            moderator_id,
            kind,
            case.reason,
            created_at,
            expires_at
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;

        Ok(Case {
            guild_id: case.guild_id,
            number,
            target_id: case.target_id,
            moderator_id: case.moderator_id,
            kind: case.kind,
            reason: case.reason.clone(),
            // What a later read returns: times are stored in milliseconds.
            created_at: from_ms(created_at)?,
            expires_at: from_ms_opt(expires_at)?,
            revoked_by: None,
            revoked_at: None,
        })
    }

    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        let row = fetch_case(&mut conn, id_to_db(guild), number).await?;
        row.map(Case::try_from).transpose()
    }

    /// Newest first; about one target when given (then the `mod_cases_target` index).
    async fn cases(
        &self,
        guild: Id<GuildMarker>,
        target: Option<Id<UserMarker>>,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        let guild_id = id_to_db(guild);
        let limit = i64::from(limit);
        let rows = match target {
            Some(target) => {
                let target_id = id_to_db(target);
                sqlx::query_as!(
                    CaseRow,
                    r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason,
                          created_at, expires_at, revoked_by, revoked_at
                   FROM mod_cases WHERE guild_id = ?1 AND target_id = ?2
                   ORDER BY case_number DESC LIMIT ?3"#,
                    guild_id,
                    target_id,
                    limit
                )
                .fetch_all(&self.reader)
                .await
            }
            None => {
                sqlx::query_as!(
                    CaseRow,
                    r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason,
                          created_at, expires_at, revoked_by, revoked_at
                   FROM mod_cases WHERE guild_id = ?1
                   ORDER BY case_number DESC LIMIT ?2"#,
                    guild_id,
                    limit
                )
                .fetch_all(&self.reader)
                .await
            }
        }
        .map_err(db_error)?;
        from_rows(rows)
    }

    /// Mark a case revoked unless it already is, and return it as stored.
    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Case>> {
        let (guild_id, by_id, at_ms) = (id_to_db(guild), id_to_db(by), to_ms(at));
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            r#"UPDATE mod_cases SET revoked_by = ?3, revoked_at = ?4
           WHERE guild_id = ?1 AND case_number = ?2 AND revoked_by IS NULL"#,
            guild_id,
            number,
            by_id,
            at_ms
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let row = fetch_case(&mut tx, guild_id, number).await?;
        tx.commit().await.map_err(db_error)?;
        row.map(Case::try_from).transpose()
    }

    /// Revoke the target's warnings that are still in force at `at`.
    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let (guild_id, target_id, by_id, at_ms) =
            (id_to_db(guild), id_to_db(target), id_to_db(by), to_ms(at));
        let done = sqlx::query!(
            r#"UPDATE mod_cases SET revoked_by = ?3, revoked_at = ?4
           WHERE guild_id = ?1 AND target_id = ?2 AND kind = 'warn' AND revoked_by IS NULL
             AND (expires_at IS NULL OR expires_at > ?4)"#,
            guild_id,
            target_id,
            by_id,
            at_ms
        )
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    /// Warnings neither revoked nor expired at `now`.
    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let (guild_id, target_id, now_ms) = (id_to_db(guild), id_to_db(target), to_ms(now));
        let counts = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64" FROM mod_cases
           WHERE guild_id = ?1 AND target_id = ?2 AND kind = 'warn' AND revoked_by IS NULL
             AND (expires_at IS NULL OR expires_at > ?3)"#,
            guild_id,
            target_id,
            now_ms
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        Ok(counts.first().copied().unwrap_or(0))
    }
}

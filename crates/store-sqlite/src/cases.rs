//! [`CaseStore`]: moderation cases, numbered 1, 2, 3... per guild, and the state
//! of each act at Discord (pending actions, temporary bans' lifts).
//!
//! Numbers come from `case_counters` (not `MAX(case_number) + 1`), so a number is
//! never reused even after the cases about a user are deleted. Every write runs
//! on the single writer in a `BEGIN IMMEDIATE` transaction, so the writes of a
//! guild (of every guild) are serialized: a warning's count sees every warning
//! committed before it, and two warnings can't both cross a rule's count.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use keeper_store::{
    ActionOutcome, ActionStatus, Amendment, Applied, Case, CaseKind, CasePage, CaseStore,
    LiftOutcome, NewCase, StoreError, StoreResult, Warned, id_from_db, id_to_db,
    moderation::{discord_act, discord_act_changes_state, ensure_warning, escalation_after},
};
use sqlx::SqliteConnection;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, InteractionMarker, MessageMarker, UserMarker},
};

use crate::{
    SqliteStore,
    convert::{from_ms, from_ms_opt, from_rows, to_ms},
    error::db_error,
    escalations::rules_of,
};

/// A `mod_cases` row as stored.
pub(crate) struct CaseRow {
    pub(crate) guild_id: i64,
    pub(crate) case_number: i64,
    pub(crate) target_id: i64,
    pub(crate) moderator_id: Option<i64>,
    pub(crate) kind: String,
    pub(crate) reason: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) revoked_by: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) source: String,
    pub(crate) escalated_from: Option<i64>,
    pub(crate) duration_secs: Option<i64>,
    pub(crate) action_status: String,
    pub(crate) action_error: Option<String>,
    pub(crate) lift_status: Option<String>,
    pub(crate) lift_error: Option<String>,
    pub(crate) lift_claimed_by: Option<String>,
    pub(crate) lift_claimed_until: Option<i64>,
    pub(crate) lifted_at: Option<i64>,
    pub(crate) log_channel_id: Option<i64>,
    pub(crate) log_message_id: Option<i64>,
    pub(crate) dm_status: Option<String>,
}

impl TryFrom<CaseRow> for Case {
    type Error = StoreError;

    fn try_from(r: CaseRow) -> StoreResult<Self> {
        Ok(Case {
            guild_id: id_from_db(r.guild_id)?,
            number: r.case_number,
            target_id: id_from_db(r.target_id)?,
            moderator_id: r.moderator_id.map(id_from_db).transpose()?,
            kind: r.kind.parse()?,
            reason: r.reason,
            created_at: from_ms(r.created_at)?,
            expires_at: from_ms_opt(r.expires_at)?,
            revoked_by: r.revoked_by.map(id_from_db).transpose()?,
            revoked_at: from_ms_opt(r.revoked_at)?,
            source: r.source.parse()?,
            escalated_from: r.escalated_from,
            duration_secs: r.duration_secs,
            action_status: r.action_status.parse()?,
            action_error: r.action_error,
            lift_status: r.lift_status.map(|s| s.parse()).transpose()?,
            lift_error: r.lift_error,
            lift_claimed_by: r.lift_claimed_by,
            lift_claimed_until: from_ms_opt(r.lift_claimed_until)?,
            lifted_at: from_ms_opt(r.lifted_at)?,
            log_channel_id: r.log_channel_id.map(id_from_db).transpose()?,
            log_message_id: r.log_message_id.map(id_from_db).transpose()?,
            dm_status: r.dm_status.map(|s| s.parse()).transpose()?,
        })
    }
}

/// An `case_amendments` row as stored.
struct AmendmentRow {
    guild_id: i64,
    case_number: i64,
    amendment: i64,
    amended_at: i64,
    amended_by: i64,
    old_reason: Option<String>,
    new_reason: String,
}

impl TryFrom<AmendmentRow> for Amendment {
    type Error = StoreError;

    fn try_from(r: AmendmentRow) -> StoreResult<Self> {
        Ok(Amendment {
            guild_id: id_from_db(r.guild_id)?,
            case_number: r.case_number,
            number: r.amendment,
            amended_at: from_ms(r.amended_at)?,
            amended_by: id_from_db(r.amended_by)?,
            old_reason: r.old_reason,
            new_reason: r.new_reason,
        })
    }
}

/// A member's latest case of `kinds` (a [`keeper_store::moderation::state_kinds`]
/// pair) whose act did not fail: where they stand.
async fn latest_state_case(
    conn: &mut SqliteConnection,
    guild_id: i64,
    target_id: i64,
    [a, b]: [CaseKind; 2],
) -> StoreResult<Option<Case>> {
    let (a, b) = (a.as_str(), b.as_str());
    let latest = sqlx::query_scalar!(
        r#"SELECT case_number AS "n!: i64" FROM mod_cases
           WHERE guild_id = ?1 AND target_id = ?2 AND kind IN (?3, ?4)
             AND action_status <> 'failed'
           ORDER BY case_number DESC LIMIT 1"#,
        guild_id,
        target_id,
        a,
        b
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    match latest.first() {
        Some(&n) => fetch_case(conn, guild_id, n).await,
        None => Ok(None),
    }
}

/// One case's row, on a connection: reads, and writes reading back what they
/// changed in their own transaction.
async fn fetch_case(
    conn: &mut SqliteConnection,
    guild_id: i64,
    number: i64,
) -> StoreResult<Option<Case>> {
    let rows = sqlx::query_as!(
        CaseRow,
        r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                  expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                  action_status, action_error, lift_status, lift_error, lift_claimed_by,
                  lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
           FROM mod_cases WHERE guild_id = ?1 AND case_number = ?2"#,
        guild_id,
        number
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    rows.into_iter().next().map(Case::try_from).transpose()
}

/// [`fetch_case`] for a case the caller's transaction just wrote.
async fn fetch_written(
    conn: &mut SqliteConnection,
    guild_id: i64,
    number: i64,
) -> StoreResult<Case> {
    fetch_case(conn, guild_id, number)
        .await?
        .ok_or_else(|| StoreError::Internal("a case just written is not there".into()))
}

/// Allocate the guild's next case number in `tx` (the counter row is created at
/// the first case).
async fn next_number(tx: &mut SqliteConnection, guild_id: i64) -> StoreResult<i64> {
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
    numbers
        .first()
        .copied()
        .ok_or_else(|| StoreError::Internal("the case counter returned no row".into()))
}

/// Give `case` the guild's next number and insert it in `tx`: its action status
/// and lift follow from it ([`NewCase::action_status`], [`NewCase::schedules_lift`]).
async fn insert_case(tx: &mut SqliteConnection, case: &NewCase) -> StoreResult<Case> {
    let guild_id = id_to_db(case.guild_id);
    let number = next_number(tx, guild_id).await?;
    let target_id = id_to_db(case.target_id);
    let moderator_id = case.moderator_id.map(id_to_db);
    let kind = case.kind.as_str();
    let created_at = to_ms(case.created_at);
    let expires_at = case.expires_at.map(to_ms);
    let source = case.source.as_str();
    let status = case.action_status().as_str();
    let lift = case.schedules_lift().then_some("scheduled");
    sqlx::query!(
        r#"INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
                              created_at, expires_at, source, escalated_from, duration_secs,
                              action_status, lift_status)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"#,
        guild_id,
        number,
        target_id,
        moderator_id,
        kind,
        case.reason,
        created_at,
        expires_at,
        source,
        case.escalated_from,
        case.duration_secs,
        status,
        lift
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    fetch_written(tx, guild_id, number).await
}

/// Drop a scheduled lift (and its claim): whether one was scheduled.
async fn drop_lift(conn: &mut SqliteConnection, guild_id: i64, number: i64) -> StoreResult<bool> {
    let done = sqlx::query!(
        r#"UPDATE mod_cases SET lift_status = NULL, lift_claimed_by = NULL,
               lift_claimed_until = NULL
           WHERE guild_id = ?1 AND case_number = ?2 AND lift_status = 'scheduled'"#,
        guild_id,
        number
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

/// Warnings of a target neither revoked nor expired at `now_ms`.
async fn count_active(
    conn: &mut SqliteConnection,
    guild_id: i64,
    target_id: i64,
    now_ms: i64,
) -> StoreResult<i64> {
    let counts = sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM mod_cases
           WHERE guild_id = ?1 AND target_id = ?2 AND kind = 'warn' AND revoked_by IS NULL
             AND (expires_at IS NULL OR expires_at > ?3)"#,
        guild_id,
        target_id,
        now_ms
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(counts.first().copied().unwrap_or(0))
}

/// A page of a target's cases, newest first (the `mod_cases_target` index).
async fn target_cases(
    conn: &mut SqliteConnection,
    guild_id: i64,
    target_id: i64,
    offset: i64,
    limit: i64,
) -> StoreResult<Vec<Case>> {
    let rows = sqlx::query_as!(
        CaseRow,
        r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                  expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                  action_status, action_error, lift_status, lift_error, lift_claimed_by,
                  lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
           FROM mod_cases WHERE guild_id = ?1 AND target_id = ?2
           ORDER BY case_number DESC LIMIT ?3 OFFSET ?4"#,
        guild_id,
        target_id,
        limit,
        offset
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    from_rows(rows)
}

/// Cases of `(guild, number)` keys a write's RETURNING gave, read back in its
/// transaction, lowest (guild, number) first.
async fn fetch_keys(
    conn: &mut SqliteConnection,
    mut keys: Vec<(i64, i64)>,
) -> StoreResult<Vec<Case>> {
    keys.sort_unstable();
    let mut cases = Vec::with_capacity(keys.len());
    for (guild_id, number) in keys {
        cases.push(fetch_written(conn, guild_id, number).await?);
    }
    Ok(cases)
}

#[async_trait]
impl CaseStore for SqliteStore {
    async fn add_case(
        &self,
        case: &NewCase,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Case>> {
        let Some(mut tx) = self
            .begin_once(once, case.guild_id, case.created_at)
            .await?
        else {
            return Ok(Applied::Before);
        };
        let case = insert_case(&mut tx, case).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(case))
    }

    /// One write transaction on the single writer: the count sees every warning
    /// committed before, so each crossing happens once.
    async fn add_warning(
        &self,
        warning: &NewCase,
        now: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Warned>> {
        ensure_warning(warning)?;
        let Some(mut tx) = self
            .begin_once(once, warning.guild_id, warning.created_at)
            .await?
        else {
            return Ok(Applied::Before);
        };
        let (guild_id, target_id) = (id_to_db(warning.guild_id), id_to_db(warning.target_id));
        let case = insert_case(&mut tx, warning).await?;
        let active = count_active(&mut tx, guild_id, target_id, to_ms(now)).await?;
        let rules = rules_of(&mut tx, guild_id).await?;
        let escalation = match escalation_after(&rules, &case, active, now) {
            Some(escalation) => Some(insert_case(&mut tx, &escalation).await?),
            None => None,
        };
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(Warned {
            warning: case,
            active,
            escalation,
        }))
    }

    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        fetch_case(&mut conn, id_to_db(guild), number).await
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
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        if let Some(target) = target {
            return target_cases(&mut conn, guild_id, id_to_db(target), 0, limit).await;
        }
        let rows = sqlx::query_as!(
            CaseRow,
            r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                  expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                  action_status, action_error, lift_status, lift_error, lift_claimed_by,
                  lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
           FROM mod_cases WHERE guild_id = ?1
           ORDER BY case_number DESC LIMIT ?2"#,
            guild_id,
            limit
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    /// One read transaction, so the page, the total and the count agree.
    async fn member_cases(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<CasePage> {
        let (guild_id, target_id) = (id_to_db(guild), id_to_db(target));
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut tx = self.begin_read().await?;
        let cases = target_cases(&mut tx, guild_id, target_id, offset, i64::from(limit)).await?;
        let totals = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64" FROM mod_cases WHERE guild_id = ?1 AND target_id = ?2"#,
            guild_id,
            target_id
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let active_warnings = count_active(&mut tx, guild_id, target_id, to_ms(now)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(CasePage {
            cases,
            total: totals.first().copied().unwrap_or(0).max(0) as u64,
            active_warnings,
        })
    }

    /// Mark a case revoked unless it already is, and return it as stored.
    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Option<Case>>> {
        let (guild_id, by_id, at_ms) = (id_to_db(guild), id_to_db(by), to_ms(at));
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
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
        let case = fetch_case(&mut tx, guild_id, number).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(case))
    }

    /// Revoke the target's warnings that are still in force at `at`.
    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Vec<Case>>> {
        let (guild_id, target_id, by_id, at_ms) =
            (id_to_db(guild), id_to_db(target), id_to_db(by), to_ms(at));
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        let numbers = sqlx::query_scalar!(
            r#"UPDATE mod_cases SET revoked_by = ?3, revoked_at = ?4
           WHERE guild_id = ?1 AND target_id = ?2 AND kind = 'warn' AND revoked_by IS NULL
             AND (expires_at IS NULL OR expires_at > ?4)
           RETURNING case_number AS "case_number!: i64""#,
            guild_id,
            target_id,
            by_id,
            at_ms
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let keys = numbers.into_iter().map(|n| (guild_id, n)).collect();
        let cases = fetch_keys(&mut tx, keys).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(cases))
    }

    /// Warnings neither revoked nor expired at `now`.
    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        count_active(&mut conn, id_to_db(guild), id_to_db(target), to_ms(now)).await
    }

    /// The case's row changes first, then its history gains the amendment
    /// numbered after the last one, in the same write transaction.
    async fn amend_reason(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        reason: &str,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Option<Case>>> {
        let (guild_id, by_id, at_ms) = (id_to_db(guild), id_to_db(by), to_ms(at));
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        let Some(old) = fetch_case(&mut tx, guild_id, number).await? else {
            tx.commit().await.map_err(db_error)?;
            return Ok(Applied::Now(None));
        };
        sqlx::query!(
            "UPDATE mod_cases SET reason = ?3 WHERE guild_id = ?1 AND case_number = ?2",
            guild_id,
            number,
            reason
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query!(
            r#"INSERT INTO case_amendments (guild_id, case_number, amendment, amended_at, amended_by,
                                        old_reason, new_reason)
           SELECT ?1, ?2, coalesce(MAX(amendment), 0) + 1, ?3, ?4, ?5, ?6
           FROM case_amendments WHERE guild_id = ?1 AND case_number = ?2"#,
            guild_id,
            number,
            at_ms,
            by_id,
            old.reason,
            reason
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let case = fetch_written(&mut tx, guild_id, number).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(Some(case)))
    }

    async fn amendments(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Vec<Amendment>> {
        let guild_id = id_to_db(guild);
        let rows = sqlx::query_as!(
            AmendmentRow,
            r#"SELECT guild_id, case_number, amendment, amended_at, amended_by, old_reason, new_reason
           FROM case_amendments WHERE guild_id = ?1 AND case_number = ?2 ORDER BY amendment"#,
            guild_id,
            number
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    async fn set_action_status(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        outcome: ActionOutcome,
    ) -> StoreResult<Option<Case>> {
        let guild_id = id_to_db(guild);
        let (status, error) = match outcome {
            ActionOutcome::Done => (ActionStatus::Done, None),
            ActionOutcome::Failed(error) => (ActionStatus::Failed, Some(error)),
        };
        let status = status.as_str();
        let mut tx = self.begin_write().await?;
        // A failed ban has nothing to lift.
        let done = sqlx::query!(
            r#"UPDATE mod_cases SET action_status = ?3, action_error = ?4,
                   lift_status = CASE WHEN ?3 = 'failed' THEN NULL ELSE lift_status END
           WHERE guild_id = ?1 AND case_number = ?2 AND action_status = 'pending'"#,
            guild_id,
            number,
            status,
            error
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let case = if done.rows_affected() == 1 {
            Some(fetch_written(&mut tx, guild_id, number).await?)
        } else {
            None
        };
        tx.commit().await.map_err(db_error)?;
        Ok(case)
    }

    async fn pending_actions(&self, limit: u32) -> StoreResult<Vec<Case>> {
        let limit = i64::from(limit);
        let rows = sqlx::query_as!(
            CaseRow,
            r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                  expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                  action_status, action_error, lift_status, lift_error, lift_claimed_by,
                  lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
           FROM mod_cases WHERE action_status = 'pending'
           ORDER BY created_at, guild_id, case_number LIMIT ?1"#,
            limit
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    /// One UPDATE on the single writer: no other claim can interleave.
    async fn claim_due_lifts(
        &self,
        now: DateTime<Utc>,
        claimer: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        let (now_ms, until_ms, limit) = (to_ms(now), to_ms(now + lease), i64::from(limit));
        let mut tx = self.begin_write().await?;
        let keys = sqlx::query!(
            r#"UPDATE mod_cases SET lift_claimed_by = ?2, lift_claimed_until = ?3
           WHERE (guild_id, case_number) IN (
               SELECT guild_id, case_number FROM mod_cases
               WHERE lift_status = 'scheduled' AND expires_at <= ?1 AND action_status = 'done'
                 AND (lift_claimed_until IS NULL OR lift_claimed_until <= ?1)
               ORDER BY expires_at LIMIT ?4)
           RETURNING guild_id AS "guild_id!: i64", case_number AS "case_number!: i64""#,
            now_ms,
            claimer,
            until_ms,
            limit
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let keys = keys
            .into_iter()
            .map(|k| (k.guild_id, k.case_number))
            .collect();
        let mut cases = fetch_keys(&mut tx, keys).await?;
        tx.commit().await.map_err(db_error)?;
        cases.sort_by_key(|c| (c.expires_at, c.guild_id, c.number));
        Ok(cases)
    }

    async fn finish_lift(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        claimer: &str,
        outcome: LiftOutcome,
    ) -> StoreResult<bool> {
        let guild_id = id_to_db(guild);
        let (status, lifted_at, error) = match outcome {
            LiftOutcome::Lifted { at } => ("lifted", Some(to_ms(at)), None),
            LiftOutcome::Failed(error) => ("failed", None, Some(error)),
        };
        let done = sqlx::query!(
            r#"UPDATE mod_cases SET lift_status = ?4, lifted_at = ?5, lift_error = ?6,
                   lift_claimed_by = NULL, lift_claimed_until = NULL
           WHERE guild_id = ?1 AND case_number = ?2 AND lift_status = 'scheduled'
             AND lift_claimed_by = ?3"#,
            guild_id,
            number,
            claimer,
            status,
            lifted_at,
            error
        )
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn cancel_lift(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<bool> {
        let mut conn = self.writer.acquire().await.map_err(db_error)?;
        drop_lift(&mut conn, id_to_db(guild), number).await
    }

    async fn next_lift_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let next = sqlx::query_scalar!(
            r#"SELECT MIN(max(expires_at, coalesce(lift_claimed_until, expires_at))) AS "at: i64"
           FROM mod_cases WHERE lift_status = 'scheduled' AND action_status = 'done'"#
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        from_ms_opt(next.into_iter().next().flatten())
    }

    async fn set_log_message(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        channel: Id<ChannelMarker>,
        message: Id<MessageMarker>,
    ) -> StoreResult<bool> {
        let (guild_id, channel_id, message_id) =
            (id_to_db(guild), id_to_db(channel), id_to_db(message));
        let done = sqlx::query!(
            r#"UPDATE mod_cases SET log_channel_id = ?3, log_message_id = ?4
           WHERE guild_id = ?1 AND case_number = ?2"#,
            guild_id,
            number,
            channel_id,
            message_id
        )
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_dm_status(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        sent: bool,
    ) -> StoreResult<bool> {
        let guild_id = id_to_db(guild);
        let status = if sent { "sent" } else { "failed" };
        let done = sqlx::query!(
            "UPDATE mod_cases SET dm_status = ?3 WHERE guild_id = ?1 AND case_number = ?2",
            guild_id,
            number,
            status
        )
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    /// One write transaction on the single writer: the latest case read is the
    /// latest there is when the new one is inserted.
    async fn record_discord_act(&self, act: &NewCase) -> StoreResult<Option<Case>> {
        let (act, [a, b]) = discord_act(act)?;
        let (guild_id, target_id) = (id_to_db(act.guild_id), id_to_db(act.target_id));
        // Most acts seen are echoes of Keeper's own or replays, and every
        // member update is seen as one: decided on a reader first, they
        // never queue for the writer. Decided again below, in the write.
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        let latest = latest_state_case(&mut conn, guild_id, target_id, [a, b]).await?;
        drop(conn);
        if !discord_act_changes_state(&act, latest.as_ref()) {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        let latest = latest_state_case(&mut tx, guild_id, target_id, [a, b]).await?;
        if !discord_act_changes_state(&act, latest.as_ref()) {
            tx.commit().await.map_err(db_error)?;
            return Ok(None);
        }
        if let Some(ban) = latest.filter(|_| act.kind == CaseKind::Unban) {
            // The hand unban ends the ban: nothing left to lift.
            drop_lift(&mut tx, guild_id, ban.number).await?;
        }
        let case = insert_case(&mut tx, &act).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(case))
    }

    async fn attribute_discord_act(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        moderator: Id<UserMarker>,
        reason: Option<&str>,
    ) -> StoreResult<Option<Case>> {
        let (guild_id, moderator) = (id_to_db(guild), id_to_db(moderator));
        let mut tx = self.begin_write().await?;
        let done = sqlx::query!(
            r#"UPDATE mod_cases SET moderator_id = ?3, reason = ?4
           WHERE guild_id = ?1 AND case_number = ?2
             AND source = 'discord' AND moderator_id IS NULL"#,
            guild_id,
            number,
            moderator,
            reason
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let case = if done.rows_affected() == 1 {
            Some(fetch_written(&mut tx, guild_id, number).await?)
        } else {
            None
        };
        tx.commit().await.map_err(db_error)?;
        Ok(case)
    }
}

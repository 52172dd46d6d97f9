//! [`CaseStore`]: moderation cases, numbered 1, 2, 3... per guild, and the state
//! of each act at Discord (pending actions, temporary bans' lifts).
//!
//! Numbers come from `case_counters` (not `MAX(case_number) + 1`), so a number is
//! never reused even after the cases about a user are deleted.
//!
//! # Serialized per guild
//!
//! Every write that allocates a number or decides from the cases already there
//! (`add_warning`, `record_discord_act`) first writes the guild's
//! `case_counters` row (`INSERT ... ON DUPLICATE KEY UPDATE` takes an exclusive
//! lock on it, inserted or found; a number comes back through
//! `LAST_INSERT_ID(expr)`, a lock alone is held by a read `FOR UPDATE`); the
//! lock holds until the transaction ends. A second such write in the same guild waits on
//! the lock; when it gets it, the first has committed, and in READ COMMITTED
//! each later statement of the second reads a fresh snapshot, which holds every
//! case the first wrote. So two warnings landing together are counted one
//! after the other (3, then 4) and a rule at 3 fires once, in one process or
//! several.
//!
//! Without `RETURNING`, what a write changed is read back in its transaction:
//! rows it locked first (`FOR UPDATE`, or `FOR UPDATE SKIP LOCKED` for the
//! claims of lifts) are updated by key, then read. A new case is the one
//! exception: it is exactly what was inserted ([`Case::recorded`]).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use keeper_store::{
    ActionOutcome, ActionStatus, Amendment, Applied, Case, CaseKind, CasePage, CaseStore,
    LiftOutcome, NewCase, StoreError, StoreResult, Warned, id_from_db, id_to_db,
    moderation::{discord_act, discord_act_changes_state, ensure_warning, escalation_after},
};
use sqlx::MySqlConnection;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, InteractionMarker, MessageMarker, UserMarker},
};

use crate::{
    MySqlStore,
    convert::{from_ms, from_ms_opt, from_rows, to_ms},
    error::{Stop, db_error, retrying},
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

/// A `case_amendments` row as stored.
struct AmendmentRow {
    guild_id: i64,
    case_number: i64,
    amendment: i32,
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
            number: i64::from(r.amendment),
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
    conn: &mut MySqlConnection,
    guild_id: i64,
    target_id: i64,
    [a, b]: [CaseKind; 2],
) -> Result<Option<Case>, Stop> {
    let latest = sqlx::query_scalar!(
        "SELECT case_number FROM mod_cases
         WHERE guild_id = ? AND target_id = ? AND kind IN (?, ?)
           AND action_status <> 'failed'
         ORDER BY case_number DESC LIMIT 1",
        guild_id,
        target_id,
        a.as_str(),
        b.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?;
    match latest {
        Some(n) => fetch_case(conn, guild_id, n).await,
        None => Ok(None),
    }
}

/// One case's row, on a connection: reads, and writes reading back what they
/// changed in their own transaction.
async fn fetch_case(
    conn: &mut MySqlConnection,
    guild_id: i64,
    number: i64,
) -> Result<Option<Case>, Stop> {
    let row = sqlx::query_as!(
        CaseRow,
        "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                action_status, action_error, lift_status, lift_error, lift_claimed_by,
                lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
         FROM mod_cases WHERE guild_id = ? AND case_number = ?",
        guild_id,
        number
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(Case::try_from).transpose()?)
}

/// [`fetch_case`] for a case the caller's transaction just wrote.
async fn fetch_written(
    conn: &mut MySqlConnection,
    guild_id: i64,
    number: i64,
) -> Result<Case, Stop> {
    fetch_case(conn, guild_id, number).await?.ok_or_else(|| {
        Stop::Store(StoreError::Internal(
            "a case just written is not there".into(),
        ))
    })
}

/// Allocate the guild's next case number in `tx`, locking its counter row until
/// `tx` ends (see the module docs). One round trip: the upsert takes the row's
/// lock and bumps it, and `LAST_INSERT_ID(expr)` makes the server send the
/// number back in the statement's OK packet (MySQL has no `RETURNING`; a
/// locking read after it was one more round trip with the lock held).
async fn next_number(tx: &mut MySqlConnection, guild_id: i64) -> Result<i64, Stop> {
    let done = sqlx::query!(
        "INSERT INTO case_counters (guild_id, last_case) VALUES (?, LAST_INSERT_ID(1))
         ON DUPLICATE KEY UPDATE last_case = LAST_INSERT_ID(last_case + 1)",
        guild_id
    )
    .execute(&mut *tx)
    .await?;
    i64::try_from(done.last_insert_id())
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            Stop::Store(StoreError::Internal(
                format!("the case counter answered {}", done.last_insert_id()).into(),
            ))
        })
}

/// Lock the guild's counter row until `tx` ends without allocating a number:
/// for a write that decides from the cases there whether to add one. The
/// upsert creates the row of a guild without cases (a locking read of a
/// missing row locks nothing under READ COMMITTED) and leaves any other as it
/// is. Either way it holds the row: InnoDB takes an exclusive lock on the
/// record an `ON DUPLICATE KEY UPDATE` finds, even when the update changes
/// nothing, so no locking read needs to follow (PostgreSQL's `ON CONFLICT DO
/// UPDATE` does the same).
async fn lock_counter(tx: &mut MySqlConnection, guild_id: i64) -> Result<(), Stop> {
    sqlx::query!(
        "INSERT INTO case_counters (guild_id, last_case) VALUES (?, 0)
         ON DUPLICATE KEY UPDATE last_case = last_case",
        guild_id
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Give `case` the guild's next number and insert it in `tx`: its action status
/// and lift follow from it ([`NewCase::action_status`], [`NewCase::schedules_lift`]).
async fn insert_case(tx: &mut MySqlConnection, case: &NewCase) -> Result<Case, Stop> {
    let guild_id = id_to_db(case.guild_id);
    let number = next_number(tx, guild_id).await?;
    sqlx::query!(
        "INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
                                created_at, expires_at, source, escalated_from, duration_secs,
                                action_status, lift_status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        guild_id,
        number,
        id_to_db(case.target_id),
        case.moderator_id.map(id_to_db),
        case.kind.as_str(),
        case.reason.as_deref(),
        to_ms(case.created_at),
        case.expires_at.map(to_ms),
        case.source.as_str(),
        case.escalated_from,
        case.duration_secs,
        case.action_status().as_str(),
        case.schedules_lift().then_some("scheduled")
    )
    .execute(&mut *tx)
    .await?;
    // What a read would give back, without the read: the row is exactly what
    // was inserted, its times at the milliseconds they are stored in.
    let mut recorded = case.clone();
    recorded.created_at = from_ms(to_ms(case.created_at))?;
    recorded.expires_at = from_ms_opt(case.expires_at.map(to_ms))?;
    Ok(Case::recorded(recorded, number))
}

/// Drop a scheduled lift (and its claim): whether one was scheduled.
async fn drop_lift(conn: &mut MySqlConnection, guild_id: i64, number: i64) -> Result<bool, Stop> {
    let done = sqlx::query!(
        "UPDATE mod_cases SET lift_status = NULL, lift_claimed_by = NULL,
             lift_claimed_until = NULL
         WHERE guild_id = ? AND case_number = ? AND lift_status = 'scheduled'",
        guild_id,
        number
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Warnings of a target neither revoked nor expired at `now_ms`.
async fn count_active(
    conn: &mut MySqlConnection,
    guild_id: i64,
    target_id: i64,
    now_ms: i64,
) -> Result<i64, Stop> {
    let n = sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM mod_cases
           WHERE guild_id = ? AND target_id = ? AND kind = 'warn' AND revoked_by IS NULL
             AND (expires_at IS NULL OR expires_at > ?)"#,
        guild_id,
        target_id,
        now_ms
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// A page of a target's cases, newest first (the `mod_cases_target` index).
async fn target_cases(
    conn: &mut MySqlConnection,
    guild_id: i64,
    target_id: i64,
    offset: i64,
    limit: i64,
) -> Result<Vec<Case>, Stop> {
    let rows = sqlx::query_as!(
        CaseRow,
        "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                action_status, action_error, lift_status, lift_error, lift_claimed_by,
                lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
         FROM mod_cases WHERE guild_id = ? AND target_id = ?
         ORDER BY case_number DESC LIMIT ? OFFSET ?",
        guild_id,
        target_id,
        limit,
        offset
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(from_rows(rows)?)
}

/// `(guild, number)` keys as the JSON array `JSON_TABLE` reads: `[[g, n], ...]`.
fn keys_json(keys: &[(i64, i64)]) -> Result<String, Stop> {
    serde_json::to_string(keys).map_err(|e| Stop::Store(StoreError::internal(e)))
}

/// Cases of `(guild, number)` keys a write changed, read back in its
/// transaction, lowest (guild, number) first.
async fn fetch_keys(conn: &mut MySqlConnection, keys: &str) -> Result<Vec<Case>, Stop> {
    let rows = sqlx::query_as!(
        CaseRow,
        "SELECT m.guild_id, m.case_number, m.target_id, m.moderator_id, m.kind, m.reason,
                m.created_at, m.expires_at, m.revoked_by, m.revoked_at, m.source,
                m.escalated_from, m.duration_secs, m.action_status, m.action_error,
                m.lift_status, m.lift_error, m.lift_claimed_by, m.lift_claimed_until,
                m.lifted_at, m.log_channel_id, m.log_message_id, m.dm_status
         FROM JSON_TABLE(?, '$[*]' COLUMNS (g BIGINT PATH '$[0]', n BIGINT PATH '$[1]')) AS j
         JOIN mod_cases m ON m.guild_id = j.g AND m.case_number = j.n
         ORDER BY m.guild_id, m.case_number",
        keys
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(from_rows(rows)?)
}

#[async_trait]
impl CaseStore for MySqlStore {
    async fn add_case(
        &self,
        case: &NewCase,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Case>> {
        retrying(|| async move {
            let Some(mut tx) = self
                .begin_once(once, case.guild_id, case.created_at)
                .await?
            else {
                return Ok(Applied::Before);
            };
            let case = insert_case(&mut tx, case).await?;
            tx.commit().await?;
            Ok(Applied::Now(case))
        })
        .await
    }

    /// The number is allocated first: from then on the guild's counter row is
    /// locked, so the count that follows sees every warning committed before
    /// this one and none can commit beside it (module docs). The rules are read
    /// before that (they are not what the lock guards), so that every warning
    /// of the guild waits for as few round trips as possible: under a burst of
    /// `/warn` in one guild the lock's hold is what they queue for.
    async fn add_warning(
        &self,
        warning: &NewCase,
        now: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Warned>> {
        ensure_warning(warning)?;
        let (guild_id, target_id) = (id_to_db(warning.guild_id), id_to_db(warning.target_id));
        retrying(|| async move {
            let Some(mut tx) = self
                .begin_once(once, warning.guild_id, warning.created_at)
                .await?
            else {
                return Ok(Applied::Before);
            };
            let rules = rules_of(&mut tx, guild_id).await?;
            let case = insert_case(&mut tx, warning).await?;
            let active = count_active(&mut tx, guild_id, target_id, to_ms(now)).await?;
            let escalation = match escalation_after(&rules, &case, active, now) {
                Some(escalation) => Some(insert_case(&mut tx, &escalation).await?),
                None => None,
            };
            tx.commit().await?;
            Ok(Applied::Now(Warned {
                warning: case,
                active,
                escalation,
            }))
        })
        .await
    }

    async fn case(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Option<Case>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Ok(fetch_case(&mut conn, id_to_db(guild), number).await?)
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
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        if let Some(target) = target {
            return Ok(target_cases(&mut conn, guild_id, id_to_db(target), 0, limit).await?);
        }
        let rows = sqlx::query_as!(
            CaseRow,
            "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                    expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                    action_status, action_error, lift_status, lift_error, lift_claimed_by,
                    lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
             FROM mod_cases WHERE guild_id = ?
             ORDER BY case_number DESC LIMIT ?",
            guild_id,
            limit
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    /// One read transaction (one snapshot), so the page, the total and the
    /// count agree.
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
        let total = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64" FROM mod_cases WHERE guild_id = ? AND target_id = ?"#,
            guild_id,
            target_id
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let active_warnings = count_active(&mut tx, guild_id, target_id, to_ms(now)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(CasePage {
            cases,
            total: total.max(0) as u64,
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
        retrying(|| async move {
            let Some(mut tx) = self.begin_once(once, guild, at).await? else {
                return Ok(Applied::Before);
            };
            // Only a case in force is changed: revoking twice keeps the first
            // revocation.
            sqlx::query!(
                "UPDATE mod_cases SET revoked_by = ?, revoked_at = ?
                 WHERE guild_id = ? AND case_number = ? AND revoked_by IS NULL",
                by_id,
                at_ms,
                guild_id,
                number
            )
            .execute(&mut *tx)
            .await?;
            let case = fetch_case(&mut tx, guild_id, number).await?;
            tx.commit().await?;
            Ok(Applied::Now(case))
        })
        .await
    }

    /// Revoke the target's warnings that are still in force at `at`: they are
    /// locked first, then revoked by key, so the warnings returned are exactly
    /// those this call revoked (one committed meanwhile is not touched).
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
        retrying(|| async move {
            let Some(mut tx) = self.begin_once(once, guild, at).await? else {
                return Ok(Applied::Before);
            };
            // "Active" as in `active_warnings`: not revoked and not expired at `at`.
            let numbers = sqlx::query_scalar!(
                "SELECT case_number FROM mod_cases
                 WHERE guild_id = ? AND target_id = ? AND kind = 'warn' AND revoked_by IS NULL
                   AND (expires_at IS NULL OR expires_at > ?)
                 ORDER BY case_number
                 FOR UPDATE",
                guild_id,
                target_id,
                at_ms
            )
            .fetch_all(&mut *tx)
            .await?;
            if numbers.is_empty() {
                tx.commit().await?;
                return Ok(Applied::Now(Vec::new()));
            }
            let keys: Vec<_> = numbers.into_iter().map(|n| (guild_id, n)).collect();
            let keys = keys_json(&keys)?;
            sqlx::query!(
                "UPDATE mod_cases m
                 JOIN JSON_TABLE(?, '$[*]' COLUMNS (g BIGINT PATH '$[0]', n BIGINT PATH '$[1]')) AS j
                   ON m.guild_id = j.g AND m.case_number = j.n
                 SET m.revoked_by = ?, m.revoked_at = ?",
                keys,
                by_id,
                at_ms
            )
            .execute(&mut *tx)
            .await?;
            let cases = fetch_keys(&mut tx, &keys).await?;
            tx.commit().await?;
            Ok(Applied::Now(cases))
        })
        .await
    }

    /// Warnings neither revoked nor expired at `now`.
    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Ok(count_active(&mut conn, id_to_db(guild), id_to_db(target), to_ms(now)).await?)
    }

    /// The case's row is locked first: concurrent amendments of one case take
    /// turns, so each reads the reason the last wrote and numbers its history
    /// entry after it.
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
        retrying(|| async move {
            let Some(mut tx) = self.begin_once(once, guild, at).await? else {
                return Ok(Applied::Before);
            };
            let old = sqlx::query_scalar!(
                "SELECT reason FROM mod_cases WHERE guild_id = ? AND case_number = ? FOR UPDATE",
                guild_id,
                number
            )
            .fetch_optional(&mut *tx)
            .await?;
            let Some(old_reason) = old else {
                tx.commit().await?;
                return Ok(Applied::Now(None));
            };
            sqlx::query!(
                "UPDATE mod_cases SET reason = ? WHERE guild_id = ? AND case_number = ?",
                reason,
                guild_id,
                number
            )
            .execute(&mut *tx)
            .await?;
            // The history's last number is read in the same statement; the case's
            // lock keeps another amendment of it from numbering alongside.
            sqlx::query!(
                "INSERT INTO case_amendments (guild_id, case_number, amendment, amended_at,
                                              amended_by, old_reason, new_reason)
                 SELECT ?, ?, COALESCE(MAX(amendment), 0) + 1, ?, ?, ?, ?
                 FROM case_amendments WHERE guild_id = ? AND case_number = ?",
                guild_id,
                number,
                at_ms,
                by_id,
                old_reason,
                reason,
                guild_id,
                number
            )
            .execute(&mut *tx)
            .await?;
            let case = fetch_written(&mut tx, guild_id, number).await?;
            tx.commit().await?;
            Ok(Applied::Now(Some(case)))
        })
        .await
    }

    async fn amendments(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Vec<Amendment>> {
        let guild_id = id_to_db(guild);
        let rows = sqlx::query_as!(
            AmendmentRow,
            "SELECT guild_id, case_number, amendment, amended_at, amended_by, old_reason, new_reason
             FROM case_amendments WHERE guild_id = ? AND case_number = ? ORDER BY amendment",
            guild_id,
            number
        )
        .fetch_all(&self.pool)
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
        let (status, error) = (status.as_str(), error.as_deref());
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            // A failed ban has nothing to lift. The status is bound twice: MySQL's
            // SET sees columns assigned before it as changed already, so the CASE
            // tests the parameter, not the column.
            let done = sqlx::query!(
                "UPDATE mod_cases SET action_status = ?, action_error = ?,
                     lift_status = CASE WHEN ? = 'failed' THEN NULL ELSE lift_status END
                 WHERE guild_id = ? AND case_number = ? AND action_status = 'pending'",
                status,
                error,
                status,
                guild_id,
                number
            )
            .execute(&mut *tx)
            .await?;
            let case = if done.rows_affected() == 1 {
                Some(fetch_written(&mut tx, guild_id, number).await?)
            } else {
                None
            };
            tx.commit().await?;
            Ok(case)
        })
        .await
    }

    async fn pending_actions(&self, limit: u32) -> StoreResult<Vec<Case>> {
        let limit = i64::from(limit);
        let rows = sqlx::query_as!(
            CaseRow,
            "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                    expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                    action_status, action_error, lift_status, lift_error, lift_claimed_by,
                    lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
             FROM mod_cases WHERE action_status = 'pending'
             ORDER BY created_at, guild_id, case_number LIMIT ?",
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    /// `FOR UPDATE SKIP LOCKED`: a claimer skips the rows another is claiming
    /// at the same moment, and a row it does lock is read as last committed
    /// (a locking read sees no older snapshot), so two claimers get disjoint
    /// sets. MySQL can't update a table from a `LIMIT` subquery of itself, so
    /// the rows are locked by one statement and claimed by key by the next.
    async fn claim_due_lifts(
        &self,
        now: DateTime<Utc>,
        claimer: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        let (now_ms, until_ms, limit) = (to_ms(now), to_ms(now + lease), i64::from(limit));
        let mut cases = retrying(|| async move {
            let mut tx = self.begin_write().await?;
            let keys = sqlx::query!(
                "SELECT guild_id, case_number FROM mod_cases
                 WHERE lift_status = 'scheduled' AND expires_at <= ? AND action_status = 'done'
                   AND (lift_claimed_until IS NULL OR lift_claimed_until <= ?)
                 ORDER BY expires_at LIMIT ?
                 FOR UPDATE SKIP LOCKED",
                now_ms,
                now_ms,
                limit
            )
            .fetch_all(&mut *tx)
            .await?;
            if keys.is_empty() {
                tx.commit().await?;
                return Ok(Vec::new());
            }
            let keys: Vec<_> = keys.iter().map(|k| (k.guild_id, k.case_number)).collect();
            let keys = keys_json(&keys)?;
            sqlx::query!(
                "UPDATE mod_cases m
                 JOIN JSON_TABLE(?, '$[*]' COLUMNS (g BIGINT PATH '$[0]', n BIGINT PATH '$[1]')) AS j
                   ON m.guild_id = j.g AND m.case_number = j.n
                 SET m.lift_claimed_by = ?, m.lift_claimed_until = ?",
                keys,
                claimer,
                until_ms
            )
            .execute(&mut *tx)
            .await?;
            let cases = fetch_keys(&mut tx, &keys).await?;
            tx.commit().await?;
            Ok(cases)
        })
        .await?;
        cases.sort_by_key(|c| (c.expires_at, c.guild_id, c.number));
        Ok(cases)
    }

    /// One statement on one row: nothing to retry.
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
            "UPDATE mod_cases SET lift_status = ?, lifted_at = ?, lift_error = ?,
                 lift_claimed_by = NULL, lift_claimed_until = NULL
             WHERE guild_id = ? AND case_number = ? AND lift_status = 'scheduled'
               AND lift_claimed_by = ?",
            status,
            lifted_at,
            error,
            guild_id,
            number,
            claimer
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn cancel_lift(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Ok(drop_lift(&mut conn, id_to_db(guild), number).await?)
    }

    async fn next_lift_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        // GREATEST with a NULL is NULL: an unclaimed lift is due at its expires_at.
        let next = sqlx::query_scalar!(
            r#"SELECT MIN(GREATEST(expires_at, COALESCE(lift_claimed_until, expires_at))) AS "at: i64"
               FROM mod_cases WHERE lift_status = 'scheduled' AND action_status = 'done'"#
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        from_ms_opt(next)
    }

    /// Whether the case exists: sqlx asks for found rows, so setting the same
    /// message again still counts the row.
    async fn set_log_message(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        channel: Id<ChannelMarker>,
        message: Id<MessageMarker>,
    ) -> StoreResult<bool> {
        let done = sqlx::query!(
            "UPDATE mod_cases SET log_channel_id = ?, log_message_id = ?
             WHERE guild_id = ? AND case_number = ?",
            id_to_db(channel),
            id_to_db(message),
            id_to_db(guild),
            number
        )
        .execute(&self.pool)
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
        let status = if sent { "sent" } else { "failed" };
        let done = sqlx::query!(
            "UPDATE mod_cases SET dm_status = ? WHERE guild_id = ? AND case_number = ?",
            status,
            id_to_db(guild),
            number
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    /// The guild's counter row is locked first (module docs), so two deliveries
    /// of one event can't both find the state unchanged and both record it.
    async fn record_discord_act(&self, act: &NewCase) -> StoreResult<Option<Case>> {
        let (act, [a, b]) = discord_act(act)?;
        let (guild_id, target_id) = (id_to_db(act.guild_id), id_to_db(act.target_id));
        // Most acts seen are echoes of Keeper's own or replays, and every
        // member update is seen as one: decided without a transaction first,
        // they never lock the guild's counter. Decided again below, locked.
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let latest = latest_state_case(&mut conn, guild_id, target_id, [a, b]).await?;
        drop(conn);
        if !discord_act_changes_state(&act, latest.as_ref()) {
            return Ok(None);
        }
        let act = &act;
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            lock_counter(&mut tx, guild_id).await?;
            let latest = latest_state_case(&mut tx, guild_id, target_id, [a, b]).await?;
            if !discord_act_changes_state(act, latest.as_ref()) {
                tx.commit().await?;
                return Ok(None);
            }
            if let Some(ban) = latest.filter(|_| act.kind == CaseKind::Unban) {
                // The hand unban ends the ban: nothing left to lift.
                drop_lift(&mut tx, guild_id, ban.number).await?;
            }
            let case = insert_case(&mut tx, act).await?;
            tx.commit().await?;
            Ok(Some(case))
        })
        .await
    }

    async fn attribute_discord_act(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        moderator: Id<UserMarker>,
        reason: Option<&str>,
    ) -> StoreResult<Option<Case>> {
        let (guild_id, moderator) = (id_to_db(guild), id_to_db(moderator));
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            let done = sqlx::query!(
                "UPDATE mod_cases SET moderator_id = ?, reason = ?
                 WHERE guild_id = ? AND case_number = ?
                   AND source = 'discord' AND moderator_id IS NULL",
                moderator,
                reason,
                guild_id,
                number
            )
            .execute(&mut *tx)
            .await?;
            let case = if done.rows_affected() == 1 {
                Some(fetch_written(&mut tx, guild_id, number).await?)
            } else {
                None
            };
            tx.commit().await?;
            Ok(case)
        })
        .await
    }
}

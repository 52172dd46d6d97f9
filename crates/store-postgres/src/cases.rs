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
//! `case_counters` row, which takes that row's lock until the transaction ends.
//! A second such write in the same guild waits on the lock; when it gets it, the
//! first has committed, and in READ COMMITTED each later statement of the second
//! takes a fresh snapshot, which holds every case the first wrote. So two
//! warnings landing together are counted one after the other (3, then 4) and a
//! rule at 3 fires once, in one process or several.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use keeper_store::{
    ActionOutcome, ActionStatus, Amendment, Applied, Case, CaseKind, CasePage, CaseStore,
    LiftOutcome, NewCase, StoreError, StoreResult, Warned, id_from_db, id_to_db,
    moderation::{discord_act, discord_act_changes_state, ensure_warning, escalation_after},
};
use sqlx::PgConnection;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, InteractionMarker, MessageMarker, UserMarker},
};

use crate::{PgStore, convert::from_rows, error::db_error, escalations::rules_of};

/// A `mod_cases` row as stored.
pub(crate) struct CaseRow {
    pub(crate) guild_id: i64,
    pub(crate) case_number: i64,
    pub(crate) target_id: i64,
    pub(crate) moderator_id: Option<i64>,
    pub(crate) kind: String,
    pub(crate) reason: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) revoked_by: Option<i64>,
    pub(crate) revoked_at: Option<DateTime<Utc>>,
    pub(crate) source: String,
    pub(crate) escalated_from: Option<i64>,
    pub(crate) duration_secs: Option<i64>,
    pub(crate) action_status: String,
    pub(crate) action_error: Option<String>,
    pub(crate) lift_status: Option<String>,
    pub(crate) lift_error: Option<String>,
    pub(crate) lift_claimed_by: Option<String>,
    pub(crate) lift_claimed_until: Option<DateTime<Utc>>,
    pub(crate) lifted_at: Option<DateTime<Utc>>,
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
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_by: r.revoked_by.map(id_from_db).transpose()?,
            revoked_at: r.revoked_at,
            source: r.source.parse()?,
            escalated_from: r.escalated_from,
            duration_secs: r.duration_secs,
            action_status: r.action_status.parse()?,
            action_error: r.action_error,
            lift_status: r.lift_status.map(|s| s.parse()).transpose()?,
            lift_error: r.lift_error,
            lift_claimed_by: r.lift_claimed_by,
            lift_claimed_until: r.lift_claimed_until,
            lifted_at: r.lifted_at,
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
    amended_at: DateTime<Utc>,
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
            amended_at: r.amended_at,
            amended_by: id_from_db(r.amended_by)?,
            old_reason: r.old_reason,
            new_reason: r.new_reason,
        })
    }
}

/// A member's latest case of `kinds` (a [`keeper_store::moderation::state_kinds`]
/// pair) whose act did not fail: where they stand.
async fn latest_state_case(
    conn: &mut PgConnection,
    guild_id: i64,
    target_id: i64,
    [a, b]: [CaseKind; 2],
) -> StoreResult<Option<Case>> {
    let latest = sqlx::query_scalar!(
        "SELECT case_number FROM mod_cases
         WHERE guild_id = $1 AND target_id = $2 AND kind IN ($3, $4)
           AND action_status <> 'failed'
         ORDER BY case_number DESC LIMIT 1",
        guild_id,
        target_id,
        a.as_str(),
        b.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    match latest {
        Some(n) => fetch_case(conn, guild_id, n).await,
        None => Ok(None),
    }
}

/// One case, on a connection: reads, and writes reading back what they changed
/// in their own transaction.
async fn fetch_case(
    conn: &mut PgConnection,
    guild_id: i64,
    number: i64,
) -> StoreResult<Option<Case>> {
    sqlx::query_as!(
        CaseRow,
        "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                action_status, action_error, lift_status, lift_error, lift_claimed_by,
                lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
         FROM mod_cases WHERE guild_id = $1 AND case_number = $2",
        guild_id,
        number,
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    .map(Case::try_from)
    .transpose()
}

/// The cases of `(guild, number)` keys a write returned, read back in its
/// transaction, lowest (guild, number) first.
async fn fetch_keys(conn: &mut PgConnection, keys: &[(i64, i64)]) -> StoreResult<Vec<Case>> {
    let (guilds, numbers): (Vec<i64>, Vec<i64>) = keys.iter().copied().unzip();
    let rows = sqlx::query_as!(
        CaseRow,
        "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                action_status, action_error, lift_status, lift_error, lift_claimed_by,
                lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
         FROM mod_cases
         WHERE (guild_id, case_number) IN (SELECT * FROM UNNEST($1::int8[], $2::int8[]))
         ORDER BY guild_id, case_number",
        &guilds,
        &numbers,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    from_rows(rows)
}

/// Allocate the guild's next case number in `tx`, locking its counter row until
/// `tx` ends (see the module docs).
async fn next_number(tx: &mut PgConnection, guild_id: i64) -> StoreResult<i64> {
    sqlx::query_scalar!(
        "INSERT INTO case_counters AS c (guild_id, last_case) VALUES ($1, 1)
         ON CONFLICT (guild_id) DO UPDATE SET last_case = c.last_case + 1
         RETURNING last_case",
        guild_id,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error)
}

/// Lock the guild's counter row until `tx` ends without allocating a number:
/// for a write that decides from the cases there whether to add one.
async fn lock_counter(tx: &mut PgConnection, guild_id: i64) -> StoreResult<()> {
    sqlx::query!(
        "INSERT INTO case_counters AS c (guild_id, last_case) VALUES ($1, 0)
         ON CONFLICT (guild_id) DO UPDATE SET last_case = c.last_case",
        guild_id,
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Give `case` the guild's next number and insert it in `tx`: its action status
/// and lift follow from it ([`NewCase::action_status`], [`NewCase::schedules_lift`]).
async fn insert_case(tx: &mut PgConnection, case: &NewCase) -> StoreResult<Case> {
    let guild_id = id_to_db(case.guild_id);
    let number = next_number(tx, guild_id).await?;
    sqlx::query_as!(
        CaseRow,
        "INSERT INTO mod_cases
             (guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
              expires_at, source, escalated_from, duration_secs, action_status, lift_status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         RETURNING guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                   expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                   action_status, action_error, lift_status, lift_error, lift_claimed_by,
                   lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status",
        guild_id,
        number,
        id_to_db(case.target_id),
        case.moderator_id.map(id_to_db),
        case.kind.as_str(),
        case.reason.as_deref(),
        case.created_at,
        case.expires_at,
        case.source.as_str(),
        case.escalated_from,
        case.duration_secs,
        case.action_status().as_str(),
        case.schedules_lift().then_some("scheduled"),
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error)?
    .try_into()
}

/// Warnings of a target neither revoked nor expired at `now`.
async fn count_active(
    conn: &mut PgConnection,
    guild_id: i64,
    target_id: i64,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!" FROM mod_cases
           WHERE guild_id = $1 AND target_id = $2 AND kind = 'warn' AND revoked_at IS NULL
             AND (expires_at IS NULL OR expires_at > $3)"#,
        guild_id,
        target_id,
        now,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)
}

/// A page of a target's cases, newest first (the `mod_cases_target` index).
async fn target_cases(
    conn: &mut PgConnection,
    guild_id: i64,
    target_id: i64,
    offset: i64,
    limit: i64,
) -> StoreResult<Vec<Case>> {
    let rows = sqlx::query_as!(
        CaseRow,
        "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                action_status, action_error, lift_status, lift_error, lift_claimed_by,
                lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
         FROM mod_cases WHERE guild_id = $1 AND target_id = $2
         ORDER BY case_number DESC LIMIT $3 OFFSET $4",
        guild_id,
        target_id,
        limit,
        offset,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    from_rows(rows)
}

/// Drop a scheduled lift (and its claim): whether one was scheduled.
async fn drop_lift(conn: &mut PgConnection, guild_id: i64, number: i64) -> StoreResult<bool> {
    let done = sqlx::query!(
        "UPDATE mod_cases SET lift_status = NULL, lift_claimed_by = NULL,
             lift_claimed_until = NULL
         WHERE guild_id = $1 AND case_number = $2 AND lift_status = 'scheduled'",
        guild_id,
        number,
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl CaseStore for PgStore {
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

    /// The number is allocated first: from then on the guild's counter row is
    /// locked, so the count that follows sees every warning committed before
    /// this one and none can commit beside it (module docs).
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
        let active = count_active(&mut tx, guild_id, target_id, now).await?;
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
        let mut conn = self.work().await?;
        let case = fetch_case(&mut conn, id_to_db(guild), number).await?;
        conn.done().await?;
        Ok(case)
    }

    async fn cases(
        &self,
        guild: Id<GuildMarker>,
        target: Option<Id<UserMarker>>,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        let mut conn = self.work().await?;
        // Two statements rather than `($2 IS NULL OR target_id = $2)`: a prepared
        // statement's generic plan could not use the (guild_id, target_id) index.
        if let Some(target) = target {
            let (guild_id, target_id) = (id_to_db(guild), id_to_db(target));
            let cases = target_cases(&mut conn, guild_id, target_id, 0, i64::from(limit)).await?;
            conn.done().await?;
            return Ok(cases);
        }
        let rows = sqlx::query_as!(
            CaseRow,
            "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                action_status, action_error, lift_status, lift_error, lift_claimed_by,
                lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
         FROM mod_cases WHERE guild_id = $1
         ORDER BY case_number DESC LIMIT $2",
            id_to_db(guild),
            i64::from(limit),
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        conn.done().await?;
        from_rows(rows)
    }

    /// One snapshot, so the page, the total and the count agree.
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
            r#"SELECT COUNT(*) AS "n!" FROM mod_cases WHERE guild_id = $1 AND target_id = $2"#,
            guild_id,
            target_id,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let active_warnings = count_active(&mut tx, guild_id, target_id, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(CasePage {
            cases,
            total: total.max(0) as u64,
            active_warnings,
        })
    }

    async fn revoke_case(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Option<Case>>> {
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        // Only a case in force is changed: revoking twice keeps the first revocation.
        sqlx::query!(
            "UPDATE mod_cases SET revoked_by = $3, revoked_at = $4
         WHERE guild_id = $1 AND case_number = $2 AND revoked_at IS NULL",
            id_to_db(guild),
            number,
            id_to_db(by),
            at,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let case = fetch_case(&mut tx, id_to_db(guild), number).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(case))
    }

    async fn clear_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        by: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<Vec<Case>>> {
        let guild_id = id_to_db(guild);
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        // "Active" as in `active_warnings`: not revoked and not expired at `at`.
        let numbers = sqlx::query_scalar!(
            "UPDATE mod_cases SET revoked_by = $3, revoked_at = $4
         WHERE guild_id = $1 AND target_id = $2 AND kind = 'warn' AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > $4)
         RETURNING case_number",
            guild_id,
            id_to_db(target),
            id_to_db(by),
            at,
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let keys: Vec<_> = numbers.into_iter().map(|n| (guild_id, n)).collect();
        let cases = fetch_keys(&mut tx, &keys).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(cases))
    }

    async fn active_warnings(
        &self,
        guild: Id<GuildMarker>,
        target: Id<UserMarker>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let mut conn = self.work().await?;
        let n = count_active(&mut conn, id_to_db(guild), id_to_db(target), now).await?;
        conn.done().await?;
        Ok(n)
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
        let guild_id = id_to_db(guild);
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        // The old reason, read with the row's lock: a concurrent amendment of
        // the same case waits for this one, then reads what it wrote.
        let old = sqlx::query_scalar!(
            "SELECT reason FROM mod_cases WHERE guild_id = $1 AND case_number = $2 FOR UPDATE",
            guild_id,
            number,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(old_reason) = old else {
            tx.commit().await.map_err(db_error)?;
            return Ok(Applied::Now(None));
        };
        sqlx::query!(
            "UPDATE mod_cases SET reason = $3 WHERE guild_id = $1 AND case_number = $2",
            guild_id,
            number,
            reason,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query!(
            "INSERT INTO case_amendments
             (guild_id, case_number, amendment, amended_at, amended_by, old_reason, new_reason)
         SELECT $1, $2, COALESCE(MAX(amendment), 0) + 1, $3, $4, $5, $6
         FROM case_amendments WHERE guild_id = $1 AND case_number = $2",
            guild_id,
            number,
            at,
            id_to_db(by),
            old_reason,
            reason,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let case = fetch_case(&mut tx, guild_id, number).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(case))
    }

    async fn amendments(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<Vec<Amendment>> {
        let mut work = self.work().await?;
        let rows = sqlx::query_as!(
            AmendmentRow,
            "SELECT guild_id, case_number, amendment, amended_at, amended_by, old_reason, new_reason
         FROM case_amendments WHERE guild_id = $1 AND case_number = $2 ORDER BY amendment",
            id_to_db(guild),
            number,
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
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
        let mut tx = self.begin_write().await?;
        // A failed ban has nothing to lift.
        let changed = sqlx::query_scalar!(
            "UPDATE mod_cases SET action_status = $3, action_error = $4,
             lift_status = CASE WHEN $3::text = 'failed' THEN NULL ELSE lift_status END
         WHERE guild_id = $1 AND case_number = $2 AND action_status = 'pending'
         RETURNING case_number",
            guild_id,
            number,
            status.as_str(),
            error,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let case = match changed {
            Some(n) => fetch_case(&mut tx, guild_id, n).await?,
            None => None,
        };
        tx.commit().await.map_err(db_error)?;
        Ok(case)
    }

    async fn pending_actions(&self, limit: u32) -> StoreResult<Vec<Case>> {
        let mut work = self.work().await?;
        let rows = sqlx::query_as!(
            CaseRow,
            "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                action_status, action_error, lift_status, lift_error, lift_claimed_by,
                lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
         FROM mod_cases WHERE action_status = 'pending'
         ORDER BY created_at, guild_id, case_number LIMIT $1",
            i64::from(limit),
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        from_rows(rows)
    }

    /// `FOR UPDATE SKIP LOCKED`: a claimer skips the rows another is claiming
    /// at the same moment, and a row it does lock is checked again against the
    /// conditions as last committed, so two claimers get disjoint sets.
    async fn claim_due_lifts(
        &self,
        now: DateTime<Utc>,
        claimer: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Case>> {
        let mut tx = self.begin_write().await?;
        let keys = sqlx::query!(
            "UPDATE mod_cases SET lift_claimed_by = $2, lift_claimed_until = $3
         WHERE (guild_id, case_number) IN (
             SELECT guild_id, case_number FROM mod_cases
             WHERE lift_status = 'scheduled' AND expires_at <= $1 AND action_status = 'done'
               AND (lift_claimed_until IS NULL OR lift_claimed_until <= $1)
             ORDER BY expires_at LIMIT $4
             FOR UPDATE SKIP LOCKED)
         RETURNING guild_id, case_number",
            now,
            claimer,
            now + lease,
            i64::from(limit),
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let keys: Vec<_> = keys.iter().map(|k| (k.guild_id, k.case_number)).collect();
        let mut cases = fetch_keys(&mut tx, &keys).await?;
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
        let (status, lifted_at, error) = match outcome {
            LiftOutcome::Lifted { at } => ("lifted", Some(at), None),
            LiftOutcome::Failed(error) => ("failed", None, Some(error)),
        };
        let mut work = self.work().await?;
        let done = sqlx::query!(
            "UPDATE mod_cases SET lift_status = $4, lifted_at = $5, lift_error = $6,
             lift_claimed_by = NULL, lift_claimed_until = NULL
         WHERE guild_id = $1 AND case_number = $2 AND lift_status = 'scheduled'
           AND lift_claimed_by = $3",
            id_to_db(guild),
            number,
            claimer,
            status,
            lifted_at,
            error,
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn cancel_lift(&self, guild: Id<GuildMarker>, number: i64) -> StoreResult<bool> {
        let mut conn = self.work().await?;
        let dropped = drop_lift(&mut conn, id_to_db(guild), number).await?;
        conn.done().await?;
        Ok(dropped)
    }

    async fn next_lift_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        // GREATEST ignores NULLs: an unclaimed lift is due at its expires_at.
        let mut work = self.work().await?;
        let out = sqlx::query_scalar!(
            "SELECT MIN(GREATEST(expires_at, lift_claimed_until)) FROM mod_cases
         WHERE lift_status = 'scheduled' AND action_status = 'done'"
        )
        .fetch_one(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(out)
    }

    async fn set_log_message(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        channel: Id<ChannelMarker>,
        message: Id<MessageMarker>,
    ) -> StoreResult<bool> {
        let mut work = self.work().await?;
        let done = sqlx::query!(
            "UPDATE mod_cases SET log_channel_id = $3, log_message_id = $4
         WHERE guild_id = $1 AND case_number = $2",
            id_to_db(guild),
            number,
            id_to_db(channel),
            id_to_db(message),
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_dm_status(
        &self,
        guild: Id<GuildMarker>,
        number: i64,
        sent: bool,
    ) -> StoreResult<bool> {
        let status = if sent { "sent" } else { "failed" };
        let mut work = self.work().await?;
        let done = sqlx::query!(
            "UPDATE mod_cases SET dm_status = $3 WHERE guild_id = $1 AND case_number = $2",
            id_to_db(guild),
            number,
            status,
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
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
        let mut conn = self.work().await?;
        let latest = latest_state_case(&mut conn, guild_id, target_id, [a, b]).await?;
        conn.done().await?;
        if !discord_act_changes_state(&act, latest.as_ref()) {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        lock_counter(&mut tx, guild_id).await?;
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
        let guild_id = id_to_db(guild);
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query_scalar!(
            "UPDATE mod_cases SET moderator_id = $3, reason = $4
             WHERE guild_id = $1 AND case_number = $2
               AND source = 'discord' AND moderator_id IS NULL
             RETURNING case_number",
            guild_id,
            number,
            id_to_db(moderator),
            reason,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let case = match changed {
            Some(n) => fetch_case(&mut tx, guild_id, n).await?,
            None => None,
        };
        tx.commit().await.map_err(db_error)?;
        Ok(case)
    }
}

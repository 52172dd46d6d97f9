//! [`SessionStore`]: gateway sessions, what each shard needs to resume after a restart.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{GatewaySession, SessionStore, StoreError, StoreResult, identify_wait};
use sqlx::PgConnection;

use crate::{
    PgStore,
    error::{db_error, out_of_range},
};

/// A `gateway_sessions` row as stored.
struct SessionRow {
    shard_id: i32,
    shard_total: i32,
    session_id: String,
    resume_url: String,
    sequence: i64,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for GatewaySession {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> StoreResult<Self> {
        let corrupt =
            |what: &str| StoreError::Internal(format!("a stored {what} is negative").into());
        Ok(GatewaySession {
            shard_id: u32::try_from(r.shard_id).map_err(|_| corrupt("shard id"))?,
            shard_total: u32::try_from(r.shard_total).map_err(|_| corrupt("shard count"))?,
            session_id: r.session_id,
            resume_url: r.resume_url,
            sequence: u64::try_from(r.sequence).map_err(|_| corrupt("sequence"))?,
            updated_at: r.updated_at,
        })
    }
}

fn shard_to_db(shard_id: u32) -> StoreResult<i32> {
    i32::try_from(shard_id).map_err(|_| out_of_range("The shard id"))
}

/// One shard's stored session, on a connection (the pool's, or a write
/// transaction that must see its own state).
async fn load(conn: &mut PgConnection, shard_id: u32) -> StoreResult<Option<GatewaySession>> {
    let Ok(shard_id) = i32::try_from(shard_id) else {
        // No such shard can have been stored.
        return Ok(None);
    };
    sqlx::query_as!(
        SessionRow,
        "SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
         FROM gateway_sessions WHERE shard_id = $1",
        shard_id,
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    .map(GatewaySession::try_from)
    .transpose()
}

/// The stored sessions of the shards `checkpoints` name: what an award's
/// transaction compares its checkpoints with (see [`keeper_store::already_written`]).
pub(crate) async fn load_all(
    conn: &mut PgConnection,
    checkpoints: &[GatewaySession],
) -> StoreResult<Vec<GatewaySession>> {
    let mut stored = Vec::with_capacity(checkpoints.len());
    for checkpoint in checkpoints {
        stored.extend(load(conn, checkpoint.shard_id).await?);
    }
    Ok(stored)
}

/// Upsert sessions in one statement; also the checkpoints of an XP award, on the
/// award's transaction. Should a shard appear twice, its last entry wins (one
/// statement can't update a row twice).
pub(crate) async fn save_all(
    conn: &mut PgConnection,
    sessions: &[GatewaySession],
) -> StoreResult<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let mut latest: Vec<&GatewaySession> = Vec::with_capacity(sessions.len());
    for session in sessions {
        match latest.iter_mut().find(|s| s.shard_id == session.shard_id) {
            Some(slot) => *slot = session,
            None => latest.push(session),
        }
    }
    let mut shard_ids = Vec::with_capacity(latest.len());
    let mut shard_totals = Vec::with_capacity(latest.len());
    let mut session_ids = Vec::with_capacity(latest.len());
    let mut resume_urls = Vec::with_capacity(latest.len());
    let mut sequences = Vec::with_capacity(latest.len());
    let mut updated_ats = Vec::with_capacity(latest.len());
    for s in latest {
        shard_ids.push(shard_to_db(s.shard_id)?);
        shard_totals
            .push(i32::try_from(s.shard_total).map_err(|_| out_of_range("The shard count"))?);
        session_ids.push(s.session_id.clone());
        resume_urls.push(s.resume_url.clone());
        sequences.push(i64::try_from(s.sequence).map_err(|_| out_of_range("The sequence number"))?);
        updated_ats.push(s.updated_at);
    }
    sqlx::query!(
        "INSERT INTO gateway_sessions
            (shard_id, shard_total, session_id, resume_url, sequence, updated_at)
         SELECT * FROM UNNEST($1::int4[], $2::int4[], $3::text[], $4::text[], $5::int8[],
                              $6::timestamptz[])
         ON CONFLICT (shard_id) DO UPDATE SET
            shard_total = excluded.shard_total,
            session_id = excluded.session_id,
            resume_url = excluded.resume_url,
            sequence = excluded.sequence,
            updated_at = excluded.updated_at",
        &shard_ids,
        &shard_totals,
        &session_ids,
        &resume_urls,
        &sequences,
        &updated_ats,
    )
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[async_trait]
impl SessionStore for PgStore {
    async fn save_session(&self, session: &GatewaySession) -> StoreResult<()> {
        let mut conn = self.work().await?;
        save_all(&mut conn, std::slice::from_ref(session)).await?;
        conn.done().await
    }

    /// One conditional upsert on the server's clock (the same for every
    /// process): a racing claim waits for the winner's row lock, then finds its
    /// claim too recent. The SQL keeps no session state (no advisory lock), as
    /// a pooler in transaction mode needs (docs/SCALING.md says what else does).
    async fn claim_identify(&self, bucket: u32, window: Duration) -> StoreResult<Option<Duration>> {
        let bucket = i32::try_from(bucket).map_err(|_| out_of_range("The identify bucket"))?;
        let secs = window.as_secs_f64();
        let mut work = self.work().await?;
        let claimed = sqlx::query_scalar!(
            "INSERT INTO identify_slots (bucket, claimed_at) VALUES ($1, clock_timestamp())
             ON CONFLICT (bucket) DO UPDATE SET claimed_at = clock_timestamp()
             WHERE identify_slots.claimed_at <= clock_timestamp() - make_interval(secs => $2)
             RETURNING bucket",
            bucket,
            secs
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        if !claimed.is_empty() {
            return Ok(None);
        }
        let mut work = self.work().await?;
        let left = sqlx::query_scalar!(
            r#"SELECT EXTRACT(EPOCH FROM claimed_at + make_interval(secs => $2) - clock_timestamp())::float8
                   AS "left!"
               FROM identify_slots WHERE bucket = $1"#,
            bucket,
            secs
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(Some(identify_wait(left.first().copied(), window)))
    }

    async fn session(&self, shard_id: u32) -> StoreResult<Option<GatewaySession>> {
        let mut conn = self.work().await?;
        let session = load(&mut conn, shard_id).await?;
        conn.done().await?;
        Ok(session)
    }

    async fn delete_session(&self, shard_id: u32) -> StoreResult<()> {
        let Ok(shard_id) = i32::try_from(shard_id) else {
            return Ok(());
        };
        let mut work = self.work().await?;
        sqlx::query!("DELETE FROM gateway_sessions WHERE shard_id = $1", shard_id)
            .execute(&mut *work)
            .await
            .map_err(db_error)?;
        work.done().await?;
        Ok(())
    }
}

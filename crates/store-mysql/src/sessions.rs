//! [`SessionStore`]: gateway sessions, what each shard needs to resume after a restart.

use std::time::Duration;

use async_trait::async_trait;
use keeper_store::{GatewaySession, SessionStore, StoreError, StoreResult, identify_wait};
use sqlx::MySqlConnection;

use crate::{
    MySqlStore,
    convert::{from_ms, to_ms},
    error::{Stop, db_error, out_of_range, retrying},
};

/// A `gateway_sessions` row as stored.
struct SessionRow {
    shard_id: i32,
    shard_total: i32,
    session_id: String,
    resume_url: String,
    sequence: i64,
    updated_at: i64,
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
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

/// One shard's stored session, on a connection (the pool's, or a write
/// transaction that must see its own state).
async fn load(conn: &mut MySqlConnection, shard_id: u32) -> StoreResult<Option<GatewaySession>> {
    let Ok(shard_id) = i32::try_from(shard_id) else {
        // No such shard can have been stored (the column is an INT).
        return Ok(None);
    };
    sqlx::query_as!(
        SessionRow,
        "SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
         FROM gateway_sessions WHERE shard_id = ?",
        shard_id
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
    conn: &mut MySqlConnection,
    checkpoints: &[GatewaySession],
) -> StoreResult<Vec<GatewaySession>> {
    let mut stored = Vec::with_capacity(checkpoints.len());
    for checkpoint in checkpoints {
        stored.extend(load(conn, checkpoint.shard_id).await?);
    }
    Ok(stored)
}

/// Upsert sessions in one statement over `JSON_TABLE`; also the checkpoints of
/// an XP award, on the award's transaction (so they are stored beside the
/// awards they cover). Should a shard appear twice, its last entry wins; the
/// rows go in shard order, so two writers lock them in the same order. The
/// error keeps InnoDB's (a deadlock is retried by the caller's
/// [`retrying`]).
pub(crate) async fn save_all(
    conn: &mut MySqlConnection,
    sessions: &[GatewaySession],
) -> Result<(), Stop> {
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
    latest.sort_by_key(|s| s.shard_id);
    let rows = latest
        .into_iter()
        .map(|s| {
            Ok((
                i32::try_from(s.shard_id).map_err(|_| out_of_range("The shard id"))?,
                i32::try_from(s.shard_total).map_err(|_| out_of_range("The shard count"))?,
                &s.session_id,
                &s.resume_url,
                i64::try_from(s.sequence).map_err(|_| out_of_range("The sequence number"))?,
                to_ms(s.updated_at),
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let json = serde_json::to_string(&rows).map_err(StoreError::internal)?;
    sqlx::query!(
        "INSERT INTO gateway_sessions
             (shard_id, shard_total, session_id, resume_url, sequence, updated_at)
         SELECT j.shard, j.total, j.session, j.url, j.seq, j.at
         FROM JSON_TABLE(?, '$[*]' COLUMNS (
                  shard INT PATH '$[0]', total INT PATH '$[1]', session TEXT PATH '$[2]',
                  url TEXT PATH '$[3]', seq BIGINT PATH '$[4]', at BIGINT PATH '$[5]')) AS j
         ORDER BY j.shard
         ON DUPLICATE KEY UPDATE
             shard_total = VALUES(shard_total),
             session_id = VALUES(session_id),
             resume_url = VALUES(resume_url),
             sequence = VALUES(sequence),
             updated_at = VALUES(updated_at)",
        json
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl SessionStore for MySqlStore {
    /// One single-row upsert, outside a transaction: it can't deadlock.
    async fn save_session(&self, session: &GatewaySession) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Ok(save_all(&mut conn, std::slice::from_ref(session)).await?)
    }

    async fn session(&self, shard_id: u32) -> StoreResult<Option<GatewaySession>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        load(&mut conn, shard_id).await
    }

    /// The bucket's row locked, then read and moved on the server's clock (the
    /// same for every process), in one transaction: a racing claim waits for
    /// the winner's lock, then finds its claim too recent. The row is created
    /// first, claimed at the epoch (so never within a window), because a
    /// locking read of an absent row locks nothing under READ COMMITTED. No
    /// `GET_LOCK`: a named lock belongs to a connection, and the pool would
    /// keep it with whichever connection it returns to.
    async fn claim_identify(&self, bucket: u32, window: Duration) -> StoreResult<Option<Duration>> {
        let bucket = i32::try_from(bucket).map_err(|_| out_of_range("The identify bucket"))?;
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let left_ms = retrying(|| async move {
            let mut tx = self.begin_write().await?;
            // Where a racing claim waits: an existing row is locked by the
            // no-op update as a new one by the insert.
            sqlx::query!(
                "INSERT INTO identify_slots (bucket, claimed_at) VALUES (?, 0)
                 ON DUPLICATE KEY UPDATE bucket = bucket",
                bucket
            )
            .execute(&mut *tx)
            .await?;
            // NOW(3) is this statement's start, after the lock was granted:
            // a claim made while this one waited is in the past of it.
            let slot = sqlx::query!(
                r#"SELECT claimed_at,
                          CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) AS "now!: i64"
                   FROM identify_slots WHERE bucket = ? FOR UPDATE"#,
                bucket
            )
            .fetch_one(&mut *tx)
            .await?;
            let left = slot
                .claimed_at
                .saturating_add(window_ms)
                .saturating_sub(slot.now);
            if left <= 0 {
                sqlx::query!(
                    "UPDATE identify_slots SET claimed_at = ? WHERE bucket = ?",
                    slot.now,
                    bucket
                )
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, Stop>((left > 0).then_some(left))
        })
        .await?;
        Ok(left_ms.map(|ms| identify_wait(Some(ms as f64 / 1e3), window)))
    }

    async fn delete_session(&self, shard_id: u32) -> StoreResult<()> {
        let Ok(shard_id) = i32::try_from(shard_id) else {
            return Ok(());
        };
        sqlx::query!("DELETE FROM gateway_sessions WHERE shard_id = ?", shard_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

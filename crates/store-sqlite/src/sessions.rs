//! [`SessionStore`]: gateway sessions, what each shard needs to resume after a restart.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use keeper_store::{GatewaySession, SessionStore, StoreError, StoreResult, identify_wait};
use sqlx::SqliteConnection;

use crate::{
    SqliteStore,
    convert::{from_ms, narrow, to_ms},
    error::{db_error, out_of_range},
};

/// A `gateway_sessions` row as stored.
struct SessionRow {
    shard_id: i64,
    shard_total: i64,
    session_id: String,
    resume_url: String,
    sequence: i64,
    updated_at: i64,
}

impl TryFrom<SessionRow> for GatewaySession {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> StoreResult<Self> {
        Ok(GatewaySession {
            shard_id: narrow(r.shard_id, "shard id")?,
            shard_total: narrow(r.shard_total, "shard total")?,
            session_id: r.session_id,
            resume_url: r.resume_url,
            sequence: narrow(r.sequence, "sequence")?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

/// One shard's stored session, on a connection (a reader, or a write transaction
/// that must see its own state).
async fn load(conn: &mut SqliteConnection, shard_id: u32) -> StoreResult<Option<GatewaySession>> {
    let shard = i64::from(shard_id);
    let rows = sqlx::query_as!(
        SessionRow,
        r#"SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
           FROM gateway_sessions WHERE shard_id = ?1"#,
        shard
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    rows.into_iter()
        .next()
        .map(GatewaySession::try_from)
        .transpose()
}

/// The stored sessions of the shards `checkpoints` name: what an award's
/// transaction compares its checkpoints with (see [`keeper_store::already_written`]).
pub(crate) async fn load_all(
    conn: &mut SqliteConnection,
    checkpoints: &[GatewaySession],
) -> StoreResult<Vec<GatewaySession>> {
    let mut stored = Vec::with_capacity(checkpoints.len());
    for checkpoint in checkpoints {
        stored.extend(load(conn, checkpoint.shard_id).await?);
    }
    Ok(stored)
}

/// Insert or replace sessions on a connection, one statement each; also the
/// checkpoints of an XP award, on the award's write transaction (so they are
/// stored beside the awards they cover).
pub(crate) async fn save_all(
    conn: &mut SqliteConnection,
    sessions: &[GatewaySession],
) -> StoreResult<()> {
    for s in sessions {
        let shard_id = i64::from(s.shard_id);
        let shard_total = i64::from(s.shard_total);
        let sequence =
            i64::try_from(s.sequence).map_err(|_| out_of_range("The sequence number"))?;
        let updated_at = to_ms(s.updated_at);
        sqlx::query!(
            r#"INSERT INTO gateway_sessions (shard_id, shard_total, session_id, resume_url, sequence, updated_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6)
           ON CONFLICT (shard_id) DO UPDATE SET
               shard_total = excluded.shard_total,
               session_id = excluded.session_id,
               resume_url = excluded.resume_url,
               sequence = excluded.sequence,
               updated_at = excluded.updated_at"#,
            shard_id,
            shard_total,
            s.session_id,
            s.resume_url,
            sequence,
            updated_at
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn save_session(&self, session: &GatewaySession) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await.map_err(db_error)?;
        save_all(&mut conn, std::slice::from_ref(session)).await
    }

    async fn session(&self, shard_id: u32) -> StoreResult<Option<GatewaySession>> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        load(&mut conn, shard_id).await
    }

    /// One conditional upsert on the writer: the database file's write lock
    /// orders the claims of every process on this host, on the host's clock.
    async fn claim_identify(&self, bucket: u32, window: Duration) -> StoreResult<Option<Duration>> {
        let bucket = i64::from(bucket);
        let now = to_ms(Utc::now());
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let claimed = sqlx::query_scalar!(
            r#"INSERT INTO identify_slots (bucket, claimed_at) VALUES (?1, ?2)
               ON CONFLICT (bucket) DO UPDATE SET claimed_at = excluded.claimed_at
               WHERE identify_slots.claimed_at <= ?2 - ?3
               RETURNING bucket AS "bucket!: i64""#,
            bucket,
            now,
            window_ms
        )
        .fetch_all(&self.writer)
        .await
        .map_err(db_error)?;
        if !claimed.is_empty() {
            return Ok(None);
        }
        let last = sqlx::query_scalar!(
            r#"SELECT claimed_at AS "claimed_at!: i64" FROM identify_slots WHERE bucket = ?1"#,
            bucket
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        let left = last
            .first()
            .map(|at| (at.saturating_add(window_ms) - now) as f64 / 1e3);
        Ok(Some(identify_wait(left, window)))
    }

    async fn delete_session(&self, shard_id: u32) -> StoreResult<()> {
        let shard = i64::from(shard_id);
        sqlx::query!("DELETE FROM gateway_sessions WHERE shard_id = ?1", shard)
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

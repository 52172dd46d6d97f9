//! Gateway sessions: what each shard needs to resume after a restart.

use keeper_store::{GatewaySession, StoreResult};
use sqlx::{SqliteConnection, SqlitePool};

use crate::{error, from_ms, narrow, out_of_range, to_ms};

/// Insert or replace one shard's session on a connection already in a write
/// transaction (`award_xp` stores checkpoints beside the awards they cover).
pub(crate) async fn upsert(conn: &mut SqliteConnection, s: &GatewaySession) -> StoreResult<()> {
    let shard_id = i64::from(s.shard_id);
    let shard_total = i64::from(s.shard_total);
    let sequence = i64::try_from(s.sequence).map_err(|_| out_of_range("The sequence number"))?;
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
    .map_err(error)?;
    Ok(())
}

pub(crate) async fn save_session(writer: &SqlitePool, session: &GatewaySession) -> StoreResult<()> {
    let mut conn = writer.acquire().await.map_err(error)?;
    upsert(&mut conn, session).await
}

pub(crate) async fn session(
    reader: &SqlitePool,
    shard_id: u32,
) -> StoreResult<Option<GatewaySession>> {
    let shard = i64::from(shard_id);
    let rows = sqlx::query!(
        r#"SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
           FROM gateway_sessions WHERE shard_id = ?1"#,
        shard
    )
    .fetch_all(reader)
    .await
    .map_err(error)?;
    rows.into_iter()
        .next()
        .map(|r| {
            Ok(GatewaySession {
                shard_id: narrow(r.shard_id, "shard id")?,
                shard_total: narrow(r.shard_total, "shard total")?,
                session_id: r.session_id,
                resume_url: r.resume_url,
                sequence: narrow(r.sequence, "sequence")?,
                updated_at: from_ms(r.updated_at)?,
            })
        })
        .transpose()
}

pub(crate) async fn delete_session(writer: &SqlitePool, shard_id: u32) -> StoreResult<()> {
    let shard = i64::from(shard_id);
    sqlx::query!("DELETE FROM gateway_sessions WHERE shard_id = ?1", shard)
        .execute(writer)
        .await
        .map_err(error)?;
    Ok(())
}

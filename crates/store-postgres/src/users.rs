//! Personal data: everything stored about one user, and deleting it.

use keeper_store::{DeletedCounts, MemberXp, StoreResult, UserExport, id_from_db, id_to_db};
use sqlx::PgPool;
use twilight_model::id::{Id, marker::UserMarker};

use crate::{cases, db_err};

pub(crate) async fn export(pool: &PgPool, user: Id<UserMarker>) -> StoreResult<UserExport> {
    let user_id = id_to_db(user);
    // One snapshot for the three reads, so the export is consistent with itself.
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let xp = sqlx::query!(
        "SELECT guild_id, user_id, xp, level, messages, last_award_at
         FROM member_xp WHERE user_id = $1 ORDER BY guild_id",
        user_id,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .into_iter()
    .map(|r| {
        Ok(MemberXp {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            xp: r.xp,
            level: r.level,
            messages: r.messages,
            last_award_at: r.last_award_at,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let cases = sqlx::query_as!(
        cases::Row,
        "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at
         FROM mod_cases WHERE target_id = $1 ORDER BY guild_id, case_number",
        user_id,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .into_iter()
    .map(cases::Row::into_case)
    .collect::<StoreResult<Vec<_>>>()?;
    let moderated = sqlx::query_as!(
        cases::Row,
        "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                expires_at, revoked_by, revoked_at
         FROM mod_cases WHERE moderator_id = $1 ORDER BY guild_id, case_number",
        user_id,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .into_iter()
    .map(cases::Row::into_case)
    .collect::<StoreResult<Vec<_>>>()?;
    tx.commit().await.map_err(db_err)?;
    Ok(UserExport {
        user_id: user,
        xp,
        cases,
        moderated,
    })
}

pub(crate) async fn delete(pool: &PgPool, user: Id<UserMarker>) -> StoreResult<DeletedCounts> {
    let user_id = id_to_db(user);
    let mut tx = pool.begin().await.map_err(db_err)?;
    let xp_rows = sqlx::query!("DELETE FROM member_xp WHERE user_id = $1", user_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    // Cases they issued as a moderator stay: they are the guild's record.
    let cases = sqlx::query!("DELETE FROM mod_cases WHERE target_id = $1", user_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    tx.commit().await.map_err(db_err)?;
    Ok(DeletedCounts { xp_rows, cases })
}

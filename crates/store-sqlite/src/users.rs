//! Personal data: everything stored about one user, and deleting it.

use keeper_store::{Case, DeletedCounts, MemberXp, StoreResult, UserExport, id_to_db};
use sqlx::SqlitePool;
use twilight_model::id::{Id, marker::UserMarker};

use crate::{begin_write, cases::CaseRow, error, xp::MemberRow};

/// One read transaction, so the three parts describe the same moment.
pub(crate) async fn export_user(
    reader: &SqlitePool,
    user: Id<UserMarker>,
) -> StoreResult<UserExport> {
    let user_id = id_to_db(user);
    let mut tx = reader.begin().await.map_err(error)?;
    let xp = sqlx::query_as!(
        MemberRow,
        r#"SELECT guild_id AS "guild_id!", user_id AS "user_id!", xp AS "xp!",
                  level AS "level!", messages AS "messages!", last_award_at
           FROM member_xp WHERE user_id = ?1 ORDER BY guild_id"#,
        user_id
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(error)?;
    let cases = sqlx::query_as!(
        CaseRow,
        r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                  expires_at, revoked_by, revoked_at
           FROM mod_cases WHERE target_id = ?1 ORDER BY guild_id, case_number"#,
        user_id
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(error)?;
    let moderated = sqlx::query_as!(
        CaseRow,
        r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                  expires_at, revoked_by, revoked_at
           FROM mod_cases WHERE moderator_id = ?1 ORDER BY guild_id, case_number"#,
        user_id
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(error)?;
    tx.commit().await.map_err(error)?;
    Ok(UserExport {
        user_id: user,
        xp: xp
            .into_iter()
            .map(MemberXp::try_from)
            .collect::<StoreResult<_>>()?,
        cases: cases
            .into_iter()
            .map(Case::try_from)
            .collect::<StoreResult<_>>()?,
        moderated: moderated
            .into_iter()
            .map(Case::try_from)
            .collect::<StoreResult<_>>()?,
    })
}

/// The user's XP rows and the cases about them, in every guild, atomically. The
/// guilds' case counters are left alone, so deleted numbers are never reused.
pub(crate) async fn delete_user(
    writer: &SqlitePool,
    user: Id<UserMarker>,
) -> StoreResult<DeletedCounts> {
    let user_id = id_to_db(user);
    let mut tx = begin_write(writer).await?;
    let xp = sqlx::query!("DELETE FROM member_xp WHERE user_id = ?1", user_id)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    let cases = sqlx::query!("DELETE FROM mod_cases WHERE target_id = ?1", user_id)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    tx.commit().await.map_err(error)?;
    Ok(DeletedCounts {
        xp_rows: xp.rows_affected(),
        cases: cases.rows_affected(),
    })
}

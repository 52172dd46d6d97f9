//! Escalation rules: (guild, active warnings) -> automatic action.

use keeper_store::{EscalationRule, StoreResult, id_from_db, id_to_db};
use sqlx::PgPool;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::db_err;

pub(crate) async fn set(pool: &PgPool, rule: &EscalationRule) -> StoreResult<()> {
    sqlx::query!(
        "INSERT INTO escalation_rules (guild_id, warnings, action, duration_secs)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (guild_id, warnings) DO UPDATE SET
            action = excluded.action, duration_secs = excluded.duration_secs",
        id_to_db(rule.guild_id),
        rule.warnings,
        rule.action.as_str(),
        rule.duration_secs,
    )
    .execute(pool)
    .await
    .map_err(|e| {
        crate::check_violation(
            e,
            "A rule needs a warning count of 1 or more, and a timeout a positive duration.",
        )
    })?;
    Ok(())
}

pub(crate) async fn remove(
    pool: &PgPool,
    guild: Id<GuildMarker>,
    warnings: i32,
) -> StoreResult<bool> {
    let done = sqlx::query!(
        "DELETE FROM escalation_rules WHERE guild_id = $1 AND warnings = $2",
        id_to_db(guild),
        warnings,
    )
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn list(
    pool: &PgPool,
    guild: Id<GuildMarker>,
) -> StoreResult<Vec<EscalationRule>> {
    sqlx::query!(
        "SELECT guild_id, warnings, action, duration_secs FROM escalation_rules
         WHERE guild_id = $1 ORDER BY warnings",
        id_to_db(guild),
    )
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .into_iter()
    .map(|r| {
        Ok(EscalationRule {
            guild_id: id_from_db(r.guild_id)?,
            warnings: r.warnings,
            action: r.action.parse()?,
            duration_secs: r.duration_secs,
        })
    })
    .collect()
}

//! [`EscalationStore`]: escalation rules, (guild, warning count) -> action (+ duration).

use async_trait::async_trait;
use keeper_store::{
    EscalationRule, EscalationStore, StoreError, StoreResult, id_from_db, id_to_db,
};
use sqlx::MySqlConnection;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::{
    MySqlStore,
    convert::from_rows,
    error::{check_violation, db_error},
};

/// An `escalation_rules` row as stored.
struct EscalationRow {
    guild_id: i64,
    warnings: i32,
    action: String,
    duration_secs: Option<i64>,
}

impl TryFrom<EscalationRow> for EscalationRule {
    type Error = StoreError;

    fn try_from(r: EscalationRow) -> StoreResult<Self> {
        Ok(EscalationRule {
            guild_id: id_from_db(r.guild_id)?,
            warnings: r.warnings,
            action: r.action.parse()?,
            duration_secs: r.duration_secs,
        })
    }
}

#[async_trait]
impl EscalationStore for MySqlStore {
    /// One single-row upsert: it can't deadlock, so it runs without a
    /// transaction of its own.
    async fn set_escalation(&self, rule: &EscalationRule) -> StoreResult<()> {
        rule.validate().map_err(StoreError::Invalid)?;
        sqlx::query!(
            "INSERT INTO escalation_rules (guild_id, warnings, action, duration_secs)
             VALUES (?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE
                 action = VALUES(action),
                 duration_secs = VALUES(duration_secs)",
            id_to_db(rule.guild_id),
            rule.warnings,
            rule.action.as_str(),
            rule.duration_secs
        )
        .execute(&self.pool)
        .await
        .map_err(|e| {
            check_violation(
                e,
                "A rule needs a warning count of 1 or more, and a timeout a positive duration.",
            )
        })?;
        Ok(())
    }

    async fn remove_escalation(&self, guild: Id<GuildMarker>, warnings: i32) -> StoreResult<bool> {
        let done = sqlx::query!(
            "DELETE FROM escalation_rules WHERE guild_id = ? AND warnings = ?",
            id_to_db(guild),
            warnings
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn escalations(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<EscalationRule>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        rules_of(&mut conn, id_to_db(guild)).await
    }
}

/// A guild's rules, lowest warning count first, on a connection: `add_warning`
/// reads them in its write transaction (a plain read: it locks nothing).
pub(crate) async fn rules_of(
    conn: &mut MySqlConnection,
    guild_id: i64,
) -> StoreResult<Vec<EscalationRule>> {
    let rows = sqlx::query_as!(
        EscalationRow,
        "SELECT guild_id, warnings, action, duration_secs
         FROM escalation_rules WHERE guild_id = ? ORDER BY warnings",
        guild_id
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    from_rows(rows)
}

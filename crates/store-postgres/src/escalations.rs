//! [`EscalationStore`]: escalation rules, (guild, active warnings) -> automatic
//! action.

use async_trait::async_trait;
use keeper_store::{
    EscalationRule, EscalationStore, StoreError, StoreResult, id_from_db, id_to_db,
};
use sqlx::PgConnection;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::{
    PgStore,
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
impl EscalationStore for PgStore {
    async fn set_escalation(&self, rule: &EscalationRule) -> StoreResult<()> {
        rule.validate().map_err(StoreError::Invalid)?;
        let mut work = self.work().await?;
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
        .execute(&mut *work)
        .await
        .map_err(|e| {
            check_violation(
                e,
                "A rule needs a warning count of 1 or more, and a timeout a positive duration.",
            )
        })?;
        work.done().await?;
        Ok(())
    }

    async fn remove_escalation(&self, guild: Id<GuildMarker>, warnings: i32) -> StoreResult<bool> {
        let mut work = self.work().await?;
        let done = sqlx::query!(
            "DELETE FROM escalation_rules WHERE guild_id = $1 AND warnings = $2",
            id_to_db(guild),
            warnings,
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn escalations(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<EscalationRule>> {
        let mut conn = self.work().await?;
        let rules = rules_of(&mut conn, id_to_db(guild)).await?;
        conn.done().await?;
        Ok(rules)
    }
}

/// A guild's rules, lowest warning count first, on a connection: `add_warning`
/// reads them in its write transaction.
pub(crate) async fn rules_of(
    conn: &mut PgConnection,
    guild_id: i64,
) -> StoreResult<Vec<EscalationRule>> {
    let rows = sqlx::query_as!(
        EscalationRow,
        "SELECT guild_id, warnings, action, duration_secs FROM escalation_rules
         WHERE guild_id = $1 ORDER BY warnings",
        guild_id,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    from_rows(rows)
}

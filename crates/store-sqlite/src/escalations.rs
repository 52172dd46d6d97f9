//! [`EscalationStore`]: escalation rules, (guild, warning count) -> action (+ duration).

use async_trait::async_trait;
use keeper_store::{
    EscalationRule, EscalationStore, StoreError, StoreResult, id_from_db, id_to_db,
};
use sqlx::SqliteConnection;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::{
    SqliteStore,
    convert::{from_rows, narrow},
    error::db_error,
};

/// An `escalation_rules` row as stored.
struct EscalationRow {
    guild_id: i64,
    warnings: i64,
    action: String,
    duration_secs: Option<i64>,
}

impl TryFrom<EscalationRow> for EscalationRule {
    type Error = StoreError;

    fn try_from(r: EscalationRow) -> StoreResult<Self> {
        Ok(EscalationRule {
            guild_id: id_from_db(r.guild_id)?,
            warnings: narrow(r.warnings, "warning count")?,
            action: r.action.parse()?,
            duration_secs: r.duration_secs,
        })
    }
}

#[async_trait]
impl EscalationStore for SqliteStore {
    async fn set_escalation(&self, rule: &EscalationRule) -> StoreResult<()> {
        rule.validate().map_err(StoreError::Invalid)?;
        let guild_id = id_to_db(rule.guild_id);
        let action = rule.action.as_str();
        sqlx::query!(
            r#"INSERT INTO escalation_rules (guild_id, warnings, action, duration_secs)
           VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT (guild_id, warnings) DO UPDATE SET
               action = excluded.action,
               duration_secs = excluded.duration_secs"#,
            guild_id,
            rule.warnings,
            action,
            rule.duration_secs
        )
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn remove_escalation(&self, guild: Id<GuildMarker>, warnings: i32) -> StoreResult<bool> {
        let guild_id = id_to_db(guild);
        let done = sqlx::query!(
            "DELETE FROM escalation_rules WHERE guild_id = ?1 AND warnings = ?2",
            guild_id,
            warnings
        )
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn escalations(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<EscalationRule>> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        rules_of(&mut conn, id_to_db(guild)).await
    }
}

/// A guild's rules, lowest warning count first, on a connection: `add_warning`
/// reads them in its write transaction.
pub(crate) async fn rules_of(
    conn: &mut SqliteConnection,
    guild_id: i64,
) -> StoreResult<Vec<EscalationRule>> {
    let rows = sqlx::query_as!(
        EscalationRow,
        r#"SELECT guild_id, warnings, action, duration_secs
           FROM escalation_rules WHERE guild_id = ?1 ORDER BY warnings"#,
        guild_id
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    from_rows(rows)
}

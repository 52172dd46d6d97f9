//! [`GuildStore`]: what the gateway told Keeper of each guild (`guilds`), and
//! the guild's roles (`guild_roles`), the roles Keeper holds flagged there.
//!
//! Every write that touches both tables locks the guild's row first (the upsert
//! of GUILD_CREATE, or [`touch`]), then its roles: one lock order for all of
//! them, so a GUILD_CREATE and a role event of the same guild wait for each
//! other instead of deadlocking (what InnoDB still rolls back is retried).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    Applied, GuildFacts, GuildProfile, GuildRole, GuildStore, StoreError, StoreResult, id_from_db,
    id_to_db, permissions_from_db, permissions_to_db,
};
use serde_json::json;
use sqlx::MySqlConnection;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, RoleMarker, UserMarker},
};

use crate::{
    MySqlStore,
    convert::{attach_roles, from_ms_opt, from_rows, narrow, to_ms},
    error::{Stop, db_error, retrying},
};

/// A `guilds` row as stored.
struct GuildRow {
    guild_id: i64,
    name: String,
    icon: Option<String>,
    owner_id: Option<i64>,
    member_count: i64,
    joined_at: Option<i64>,
    left_at: Option<i64>,
}

/// A `guild_roles` row as stored.
struct RoleRow {
    guild_id: i64,
    role_id: i64,
    name: String,
    position: i64,
    permissions: i64,
    managed: bool,
    held_by_bot: bool,
}

impl TryFrom<GuildRow> for GuildFacts {
    type Error = StoreError;

    fn try_from(r: GuildRow) -> StoreResult<Self> {
        Ok(GuildFacts {
            guild_id: id_from_db(r.guild_id)?,
            name: r.name,
            icon: r.icon,
            owner_id: r.owner_id.map(id_from_db).transpose()?,
            member_count: narrow(r.member_count, "member_count")?,
            roles: Vec::new(),
            bot_roles: Vec::new(),
            joined_at: from_ms_opt(r.joined_at)?,
            left_at: from_ms_opt(r.left_at)?,
        })
    }
}

impl TryFrom<RoleRow> for GuildRole {
    type Error = StoreError;

    fn try_from(r: RoleRow) -> StoreResult<Self> {
        Ok(GuildRole {
            role_id: id_from_db(r.role_id)?,
            name: r.name,
            position: r.position,
            permissions: permissions_from_db(r.permissions),
            managed: r.managed,
        })
    }
}

#[async_trait]
impl GuildStore for MySqlStore {
    async fn save_guild(&self, facts: &GuildFacts, at: DateTime<Utc>) -> StoreResult<()> {
        let guild_id = id_to_db(facts.guild_id);
        let owner_id = facts.owner_id.map(id_to_db);
        let member_count = i64::try_from(facts.member_count).unwrap_or(i64::MAX);
        let joined_ms = facts.joined_at.map(to_ms);
        let at_ms = to_ms(at);
        // All the roles in one parameter: [id, name, position, permissions,
        // managed, held], as JSON_TABLE reads them below.
        let roles: Vec<_> = facts
            .roles
            .iter()
            .map(|role| {
                json!([
                    id_to_db(role.role_id),
                    role.name,
                    role.position,
                    permissions_to_db(role.permissions),
                    i64::from(role.managed),
                    i64::from(facts.bot_roles.contains(&role.role_id)),
                ])
            })
            .collect();
        let roles = &serde_json::Value::Array(roles).to_string();
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            sqlx::query!(
                "INSERT INTO guilds (guild_id, name, icon, owner_id, member_count, joined_at,
                     left_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, NULL, ?)
                 ON DUPLICATE KEY UPDATE
                     name = VALUES(name),
                     icon = VALUES(icon),
                     owner_id = VALUES(owner_id),
                     member_count = VALUES(member_count),
                     joined_at = COALESCE(VALUES(joined_at), joined_at),
                     left_at = NULL,
                     updated_at = VALUES(updated_at)",
                guild_id,
                facts.name,
                facts.icon,
                owner_id,
                member_count,
                joined_ms,
                at_ms
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!("DELETE FROM guild_roles WHERE guild_id = ?", guild_id)
                .execute(&mut *tx)
                .await?;
            if !facts.roles.is_empty() {
                sqlx::query!(
                    "INSERT INTO guild_roles (guild_id, role_id, name, position, permissions,
                         managed, held_by_bot)
                     SELECT ?, j.role_id, j.name, j.position, j.permissions, j.managed, j.held
                     FROM JSON_TABLE(?, '$[*]' COLUMNS (
                         role_id BIGINT PATH '$[0]',
                         name TEXT PATH '$[1]',
                         position BIGINT PATH '$[2]',
                         permissions BIGINT PATH '$[3]',
                         managed BOOLEAN PATH '$[4]',
                         held BOOLEAN PATH '$[5]')) AS j",
                    guild_id,
                    roles
                )
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn update_guild(
        &self,
        guild: Id<GuildMarker>,
        name: &str,
        icon: Option<&str>,
        owner: Option<Id<UserMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (guild_id, owner_id, at_ms) = (id_to_db(guild), owner.map(id_to_db), to_ms(at));
        sqlx::query!(
            "UPDATE guilds SET name = ?, icon = ?, owner_id = COALESCE(?, owner_id),
                 updated_at = ?
             WHERE guild_id = ?",
            name,
            icon,
            owner_id,
            at_ms,
            guild_id
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn guild_profile(&self, guild: Id<GuildMarker>) -> StoreResult<Option<GuildProfile>> {
        let guild_id = id_to_db(guild);
        let row = sqlx::query!("SELECT name, icon FROM guilds WHERE guild_id = ?", guild_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.map(|r| GuildProfile {
            guild_id: guild,
            name: r.name,
            icon: r.icon,
        }))
    }

    async fn save_role(
        &self,
        guild: Id<GuildMarker>,
        role: &GuildRole,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (guild_id, role_id) = (id_to_db(guild), id_to_db(role.role_id));
        let permissions = permissions_to_db(role.permissions);
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            touch(&mut tx, guild_id, at).await?;
            sqlx::query!(
                "INSERT INTO guild_roles (guild_id, role_id, name, position, permissions, managed)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE
                     name = VALUES(name),
                     position = VALUES(position),
                     permissions = VALUES(permissions),
                     managed = VALUES(managed)",
                guild_id,
                role_id,
                role.name,
                role.position,
                permissions,
                role.managed
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn delete_role(
        &self,
        guild: Id<GuildMarker>,
        role: Id<RoleMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (guild_id, role_id) = (id_to_db(guild), id_to_db(role));
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            touch(&mut tx, guild_id, at).await?;
            sqlx::query!(
                "DELETE FROM guild_roles WHERE guild_id = ? AND role_id = ?",
                guild_id,
                role_id
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn set_bot_roles(
        &self,
        guild: Id<GuildMarker>,
        roles: &[Id<RoleMarker>],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let guild_id = id_to_db(guild);
        let held: Vec<i64> = roles.iter().copied().map(id_to_db).collect();
        let held = &serde_json::to_string(&held).map_err(|e| StoreError::Internal(e.into()))?;
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            touch(&mut tx, guild_id, at).await?;
            sqlx::query!(
                "UPDATE guild_roles
                 SET held_by_bot = role_id IN (
                     SELECT j.held_id FROM JSON_TABLE(?, '$[*]' COLUMNS (
                         held_id BIGINT PATH '$')) AS j)
                 WHERE guild_id = ?",
                held,
                guild_id
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn mark_left(&self, guild: Id<GuildMarker>, at: DateTime<Utc>) -> StoreResult<()> {
        let (guild_id, at_ms) = (id_to_db(guild), to_ms(at));
        sqlx::query!(
            "UPDATE guilds SET left_at = ?, updated_at = ? WHERE guild_id = ?",
            at_ms,
            at_ms,
            guild_id
        )
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn all_guilds(&self) -> StoreResult<Vec<GuildFacts>> {
        // One snapshot for both reads: no role without its guild's state.
        let mut tx = self.begin_read().await?;
        let guilds = sqlx::query_as!(
            GuildRow,
            "SELECT guild_id, name, icon, owner_id, member_count, joined_at, left_at
             FROM guilds ORDER BY guild_id"
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let roles = sqlx::query_as!(
            RoleRow,
            r#"SELECT guild_id, role_id, name, position, permissions,
                      managed AS "managed: bool", held_by_bot AS "held_by_bot: bool"
               FROM guild_roles ORDER BY guild_id, position, role_id"#
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        assemble(guilds, roles)
    }

    async fn guilds_left_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Id<GuildMarker>>> {
        let (before_ms, limit) = (to_ms(before), i64::from(limit));
        let ids = sqlx::query_scalar!(
            "SELECT guild_id FROM guilds WHERE left_at IS NOT NULL AND left_at < ?
             ORDER BY left_at, guild_id LIMIT ?",
            before_ms,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        ids.into_iter().map(id_from_db).collect()
    }

    /// Whether the guild is due is read from its row locked (`FOR UPDATE`) in
    /// the transaction that deletes: a GUILD_CREATE (a rejoin) committed before
    /// is seen, and one coming after waits for the purge and writes the guild
    /// anew, so it is kept whole either way. A plain read would not do: at READ
    /// COMMITTED it could see the guild still left and purge it after the rejoin.
    async fn purge_left_guild(
        &self,
        guild: Id<GuildMarker>,
        left_before: DateTime<Utc>,
    ) -> StoreResult<Option<u64>> {
        let (guild_id, before_ms) = (id_to_db(guild), to_ms(left_before));
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            let left_at = sqlx::query_scalar!(
                "SELECT left_at FROM guilds WHERE guild_id = ? FOR UPDATE",
                guild_id
            )
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
            let due = left_at.is_some_and(|left| left < before_ms);
            if !due {
                return Ok(None);
            }
            // Every table that names the guild; its facts and its own row last.
            let mut rows = delete_guild_data(&mut tx, guild_id).await?;
            rows += sqlx::query!("DELETE FROM guild_roles WHERE guild_id = ?", guild_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            rows += sqlx::query!(
                "DELETE FROM applied_interactions WHERE guild_id = ?",
                guild_id
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            rows += sqlx::query!("DELETE FROM guilds WHERE guild_id = ?", guild_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(Some(rows))
        })
        .await
    }

    async fn reset_guild_data(
        &self,
        guild: Id<GuildMarker>,
        once: Option<Id<InteractionMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<Applied<u64>> {
        // Deleting the members' XP meets award flushes on the same rows (and
        // their bucket counts, through the triggers): a deadlock runs it again,
        // the interaction's record rolled back with it.
        retrying(|| async move {
            let Some(mut tx) = self.begin_once(once, guild, at).await? else {
                return Ok(Applied::Before);
            };
            let rows = delete_guild_data(&mut tx, id_to_db(guild)).await?;
            tx.commit().await?;
            Ok(Applied::Now(rows))
        })
        .await
    }
}

/// Delete the guild's data (settings, members' XP and profiles, rewards, cases and their
/// history and numbering, escalation rules, joins) in `tx`, keeping what the
/// gateway told of it (facts, roles) and the interactions applied there; the
/// rows deleted. `member_xp`'s triggers empty its bucket counts as its rows go.
async fn delete_guild_data(tx: &mut MySqlConnection, guild_id: i64) -> Result<u64, sqlx::Error> {
    let mut rows = 0;
    rows += sqlx::query!("DELETE FROM guild_settings WHERE guild_id = ?", guild_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM member_xp WHERE guild_id = ?", guild_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM member_profiles WHERE guild_id = ?", guild_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM level_rewards WHERE guild_id = ?", guild_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM case_counters WHERE guild_id = ?", guild_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM case_amendments WHERE guild_id = ?", guild_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM mod_cases WHERE guild_id = ?", guild_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM escalation_rules WHERE guild_id = ?", guild_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM welcomed_members WHERE guild_id = ?", guild_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    Ok(rows)
}

/// A change to one of the guild's roles changes the guild. Called before the
/// role is written: the guild's row is locked first, as GUILD_CREATE locks it.
async fn touch(
    tx: &mut MySqlConnection,
    guild_id: i64,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let at_ms = to_ms(at);
    sqlx::query!(
        "UPDATE guilds SET updated_at = ? WHERE guild_id = ?",
        at_ms,
        guild_id
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Move the guild's member count by `delta` (never below 0), in `tx`: a join
/// or departure counted once ([`ReplayStore`](keeper_store::ReplayStore)) moves
/// it in the transaction that remembers it. A guild without a row is left so.
/// The error is kept a [`Stop`], so that a deadlock here is retried with the
/// caller's transaction.
pub(crate) async fn move_member_count(
    tx: &mut MySqlConnection,
    guild_id: i64,
    delta: i64,
    at: DateTime<Utc>,
) -> Result<(), Stop> {
    let at_ms = to_ms(at);
    sqlx::query!(
        "UPDATE guilds SET member_count = GREATEST(member_count + ?, 0), updated_at = ?
         WHERE guild_id = ?",
        delta,
        at_ms,
        guild_id
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Each guild with its roles.
fn assemble(guilds: Vec<GuildRow>, roles: Vec<RoleRow>) -> StoreResult<Vec<GuildFacts>> {
    let guilds = from_rows(guilds)?;
    let roles = roles
        .into_iter()
        .map(|row| {
            let (guild, held) = (id_from_db(row.guild_id)?, row.held_by_bot);
            Ok((guild, held, GuildRole::try_from(row)?))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(attach_roles(guilds, roles))
}

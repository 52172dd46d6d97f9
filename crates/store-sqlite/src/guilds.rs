//! [`GuildStore`]: what the gateway told Keeper of each guild (`guilds`), and
//! the guild's roles (`guild_roles`), the roles Keeper holds flagged there.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    Applied, GuildFacts, GuildProfile, GuildRole, GuildStore, StoreError, StoreResult, id_from_db,
    id_to_db, permissions_from_db, permissions_to_db,
};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, RoleMarker, UserMarker},
};

use crate::{
    SqliteStore,
    convert::{attach_roles, from_ms_opt, from_rows, narrow, to_ms},
    error::db_error,
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
    managed: i64,
    held_by_bot: i64,
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
            managed: r.managed != 0,
        })
    }
}

#[async_trait]
impl GuildStore for SqliteStore {
    async fn save_guild(&self, facts: &GuildFacts, at: DateTime<Utc>) -> StoreResult<()> {
        let guild_id = id_to_db(facts.guild_id);
        let owner_id = facts.owner_id.map(id_to_db);
        let member_count = i64::try_from(facts.member_count).unwrap_or(i64::MAX);
        let joined_ms = facts.joined_at.map(to_ms);
        let at_ms = to_ms(at);
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            "INSERT INTO guilds (guild_id, name, icon, owner_id, member_count, joined_at, left_at,
                 updated_at)
             VALUES (?1, ?2, ?7, ?3, ?4, ?5, NULL, ?6)
             ON CONFLICT (guild_id) DO UPDATE SET
                 name = excluded.name,
                 icon = excluded.icon,
                 owner_id = excluded.owner_id,
                 member_count = excluded.member_count,
                 joined_at = COALESCE(excluded.joined_at, guilds.joined_at),
                 left_at = NULL,
                 updated_at = excluded.updated_at",
            guild_id,
            facts.name,
            owner_id,
            member_count,
            joined_ms,
            at_ms,
            facts.icon
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query!("DELETE FROM guild_roles WHERE guild_id = ?1", guild_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        for role in &facts.roles {
            let role_id = id_to_db(role.role_id);
            let permissions = permissions_to_db(role.permissions);
            let managed = i64::from(role.managed);
            let held = i64::from(facts.bot_roles.contains(&role.role_id));
            sqlx::query!(
                "INSERT INTO guild_roles (guild_id, role_id, name, position, permissions, managed, held_by_bot)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                guild_id,
                role_id,
                role.name,
                role.position,
                permissions,
                managed,
                held
            )
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
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
            "UPDATE guilds SET name = ?2, icon = ?5, owner_id = COALESCE(?3, owner_id),
                 updated_at = ?4
             WHERE guild_id = ?1",
            guild_id,
            name,
            owner_id,
            at_ms,
            icon
        )
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn guild_profile(&self, guild: Id<GuildMarker>) -> StoreResult<Option<GuildProfile>> {
        let guild_id = id_to_db(guild);
        let rows = sqlx::query!(
            "SELECT name, icon FROM guilds WHERE guild_id = ?1",
            guild_id
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().next().map(|r| GuildProfile {
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
        let managed = i64::from(role.managed);
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            "INSERT INTO guild_roles (guild_id, role_id, name, position, permissions, managed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (guild_id, role_id) DO UPDATE SET
                 name = excluded.name,
                 position = excluded.position,
                 permissions = excluded.permissions,
                 managed = excluded.managed",
            guild_id,
            role_id,
            role.name,
            role.position,
            permissions,
            managed
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        touch(&mut tx, guild_id, at).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn delete_role(
        &self,
        guild: Id<GuildMarker>,
        role: Id<RoleMarker>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (guild_id, role_id) = (id_to_db(guild), id_to_db(role));
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            "DELETE FROM guild_roles WHERE guild_id = ?1 AND role_id = ?2",
            guild_id,
            role_id
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        touch(&mut tx, guild_id, at).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn set_bot_roles(
        &self,
        guild: Id<GuildMarker>,
        roles: &[Id<RoleMarker>],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let guild_id = id_to_db(guild);
        let held: Vec<i64> = roles.iter().copied().map(id_to_db).collect();
        let held = serde_json::to_string(&held).map_err(|e| StoreError::Internal(e.into()))?;
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            "UPDATE guild_roles
             SET held_by_bot = role_id IN (SELECT value FROM json_each(?2))
             WHERE guild_id = ?1",
            guild_id,
            held
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        touch(&mut tx, guild_id, at).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn mark_left(&self, guild: Id<GuildMarker>, at: DateTime<Utc>) -> StoreResult<()> {
        let (guild_id, at_ms) = (id_to_db(guild), to_ms(at));
        sqlx::query!(
            "UPDATE guilds SET left_at = ?2, updated_at = ?2 WHERE guild_id = ?1",
            guild_id,
            at_ms
        )
        .execute(&self.writer)
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
            "SELECT guild_id, role_id, name, position, permissions, managed, held_by_bot
             FROM guild_roles ORDER BY guild_id, position, role_id"
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
            "SELECT guild_id FROM guilds WHERE left_at IS NOT NULL AND left_at < ?1
             ORDER BY left_at, guild_id LIMIT ?2",
            before_ms,
            limit
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        ids.into_iter().map(id_from_db).collect()
    }

    /// Whether the guild is due is read in the transaction that deletes, so a
    /// GUILD_CREATE written meanwhile (a rejoin) keeps it whole.
    async fn purge_left_guild(
        &self,
        guild: Id<GuildMarker>,
        left_before: DateTime<Utc>,
    ) -> StoreResult<Option<u64>> {
        let (guild_id, before_ms) = (id_to_db(guild), to_ms(left_before));
        let mut tx = self.begin_write().await?;
        let due = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64" FROM guilds
               WHERE guild_id = ?1 AND left_at IS NOT NULL AND left_at < ?2"#,
            guild_id,
            before_ms
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        if due.first().copied().unwrap_or(0) == 0 {
            return Ok(None);
        }
        // Every table that names the guild; its facts and its own row last.
        let mut rows = delete_guild_data(&mut tx, guild_id).await?;
        rows += sqlx::query!("DELETE FROM guild_roles WHERE guild_id = ?1", guild_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        rows += sqlx::query!(
            "DELETE FROM applied_interactions WHERE guild_id = ?1",
            guild_id
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        rows += sqlx::query!("DELETE FROM guilds WHERE guild_id = ?1", guild_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        tx.commit().await.map_err(db_error)?;
        Ok(Some(rows))
    }

    async fn reset_guild_data(
        &self,
        guild: Id<GuildMarker>,
        once: Option<Id<InteractionMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<Applied<u64>> {
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        let rows = delete_guild_data(&mut tx, id_to_db(guild)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(rows))
    }
}

/// Delete the guild's data (settings, members' XP and profiles, rewards, cases and their
/// history and numbering, escalation rules, joins) in `tx`, keeping what the
/// gateway told of it (facts, roles) and the interactions applied there; the
/// rows deleted.
async fn delete_guild_data(tx: &mut sqlx::SqliteConnection, guild_id: i64) -> StoreResult<u64> {
    let mut rows = 0;
    rows += sqlx::query!("DELETE FROM guild_settings WHERE guild_id = ?1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM member_xp WHERE guild_id = ?1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM member_profiles WHERE guild_id = ?1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM level_rewards WHERE guild_id = ?1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM case_counters WHERE guild_id = ?1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM case_amendments WHERE guild_id = ?1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM mod_cases WHERE guild_id = ?1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM escalation_rules WHERE guild_id = ?1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM welcomed_members WHERE guild_id = ?1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    Ok(rows)
}

/// A change to one of the guild's roles changes the guild.
async fn touch(
    tx: &mut sqlx::SqliteConnection,
    guild_id: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let at_ms = to_ms(at);
    sqlx::query!(
        "UPDATE guilds SET updated_at = ?2 WHERE guild_id = ?1",
        guild_id,
        at_ms
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Move the guild's member count by `delta` (never below 0), in `tx`: a join
/// or departure counted once ([`ReplayStore`](keeper_store::ReplayStore)) moves
/// it in the transaction that remembers it. A guild without a row is left so.
pub(crate) async fn move_member_count(
    tx: &mut sqlx::SqliteConnection,
    guild_id: i64,
    delta: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let at_ms = to_ms(at);
    sqlx::query!(
        "UPDATE guilds SET member_count = MAX(member_count + ?2, 0), updated_at = ?3
         WHERE guild_id = ?1",
        guild_id,
        delta,
        at_ms
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Each guild with its roles.
fn assemble(guilds: Vec<GuildRow>, roles: Vec<RoleRow>) -> StoreResult<Vec<GuildFacts>> {
    let guilds = from_rows(guilds)?;
    let roles = roles
        .into_iter()
        .map(|row| {
            let (guild, held) = (id_from_db(row.guild_id)?, row.held_by_bot != 0);
            Ok((guild, held, GuildRole::try_from(row)?))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(attach_roles(guilds, roles))
}

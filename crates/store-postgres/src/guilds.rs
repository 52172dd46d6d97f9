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
    PgStore,
    convert::{attach_roles, from_rows, narrow},
    error::db_error,
};

/// A `guilds` row as stored.
struct GuildRow {
    guild_id: i64,
    name: String,
    icon: Option<String>,
    owner_id: Option<i64>,
    member_count: i64,
    joined_at: Option<DateTime<Utc>>,
    left_at: Option<DateTime<Utc>>,
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
            joined_at: r.joined_at,
            left_at: r.left_at,
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
impl GuildStore for PgStore {
    async fn save_guild(&self, facts: &GuildFacts, at: DateTime<Utc>) -> StoreResult<()> {
        let guild_id = id_to_db(facts.guild_id);
        let member_count = i64::try_from(facts.member_count).unwrap_or(i64::MAX);
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            "INSERT INTO guilds AS g (guild_id, name, icon, owner_id, member_count, joined_at, left_at,
                 updated_at)
             VALUES ($1, $2, $7, $3, $4, $5, NULL, $6)
             ON CONFLICT (guild_id) DO UPDATE SET
                 name = excluded.name,
                 icon = excluded.icon,
                 owner_id = excluded.owner_id,
                 member_count = excluded.member_count,
                 joined_at = COALESCE(excluded.joined_at, g.joined_at),
                 left_at = NULL,
                 updated_at = excluded.updated_at",
            guild_id,
            facts.name,
            facts.owner_id.map(id_to_db),
            member_count,
            facts.joined_at,
            at,
            facts.icon,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query!("DELETE FROM guild_roles WHERE guild_id = $1", guild_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let roles = &facts.roles;
        let ids: Vec<i64> = roles.iter().map(|r| id_to_db(r.role_id)).collect();
        let names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
        let positions: Vec<i64> = roles.iter().map(|r| r.position).collect();
        let permissions: Vec<i64> = roles
            .iter()
            .map(|r| permissions_to_db(r.permissions))
            .collect();
        let managed: Vec<bool> = roles.iter().map(|r| r.managed).collect();
        let held: Vec<bool> = roles
            .iter()
            .map(|r| facts.bot_roles.contains(&r.role_id))
            .collect();
        sqlx::query!(
            "INSERT INTO guild_roles (guild_id, role_id, name, position, permissions, managed, held_by_bot)
             SELECT $1, r, n, p, b, m, h
             FROM UNNEST($2::int8[], $3::text[], $4::int8[], $5::int8[], $6::bool[], $7::bool[])
                 AS t(r, n, p, b, m, h)",
            guild_id,
            &ids,
            &names,
            &positions,
            &permissions,
            &managed,
            &held,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
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
        let mut work = self.work().await?;
        sqlx::query!(
            "UPDATE guilds SET name = $2, icon = $5, owner_id = COALESCE($3, owner_id),
                 updated_at = $4
             WHERE guild_id = $1",
            id_to_db(guild),
            name,
            owner.map(id_to_db),
            at,
            icon,
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(())
    }

    async fn guild_profile(&self, guild: Id<GuildMarker>) -> StoreResult<Option<GuildProfile>> {
        let mut work = self.work().await?;
        let row = sqlx::query!(
            "SELECT name, icon FROM guilds WHERE guild_id = $1",
            id_to_db(guild)
        )
        .fetch_optional(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
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
        let guild_id = id_to_db(guild);
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            "INSERT INTO guild_roles (guild_id, role_id, name, position, permissions, managed)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (guild_id, role_id) DO UPDATE SET
                 name = excluded.name,
                 position = excluded.position,
                 permissions = excluded.permissions,
                 managed = excluded.managed",
            guild_id,
            id_to_db(role.role_id),
            role.name,
            role.position,
            permissions_to_db(role.permissions),
            role.managed,
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
        let guild_id = id_to_db(guild);
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            "DELETE FROM guild_roles WHERE guild_id = $1 AND role_id = $2",
            guild_id,
            id_to_db(role),
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
        let mut tx = self.begin_write().await?;
        sqlx::query!(
            "UPDATE guild_roles SET held_by_bot = (role_id = ANY($2::int8[]))
             WHERE guild_id = $1",
            guild_id,
            &held,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        touch(&mut tx, guild_id, at).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn mark_left(&self, guild: Id<GuildMarker>, at: DateTime<Utc>) -> StoreResult<()> {
        let mut work = self.work().await?;
        sqlx::query!(
            "UPDATE guilds SET left_at = $2, updated_at = $2 WHERE guild_id = $1",
            id_to_db(guild),
            at,
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
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
        let limit = i64::from(limit);
        let mut work = self.work().await?;
        let ids = sqlx::query_scalar!(
            "SELECT guild_id FROM guilds WHERE left_at IS NOT NULL AND left_at < $1
             ORDER BY left_at, guild_id LIMIT $2",
            before,
            limit
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        ids.into_iter().map(id_from_db).collect()
    }

    /// Whether the guild is due is read in the transaction that deletes, so a
    /// GUILD_CREATE written meanwhile (a rejoin) keeps it whole.
    async fn purge_left_guild(
        &self,
        guild: Id<GuildMarker>,
        left_before: DateTime<Utc>,
    ) -> StoreResult<Option<u64>> {
        let guild_id = id_to_db(guild);
        let mut tx = self.begin_write().await?;
        let due = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64" FROM guilds
               WHERE guild_id = $1 AND left_at IS NOT NULL AND left_at < $2"#,
            guild_id,
            left_before
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        if due.first().copied().unwrap_or(0) == 0 {
            return Ok(None);
        }
        // Every table that names the guild; its facts and its own row last.
        let mut rows = delete_guild_data(&mut tx, guild_id).await?;
        rows += sqlx::query!("DELETE FROM guild_roles WHERE guild_id = $1", guild_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        rows += sqlx::query!(
            "DELETE FROM applied_interactions WHERE guild_id = $1",
            guild_id
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        rows += sqlx::query!("DELETE FROM guilds WHERE guild_id = $1", guild_id)
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
async fn delete_guild_data(tx: &mut sqlx::PgConnection, guild_id: i64) -> StoreResult<u64> {
    let mut rows = 0;
    rows += sqlx::query!("DELETE FROM guild_settings WHERE guild_id = $1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM member_xp WHERE guild_id = $1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM member_profiles WHERE guild_id = $1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM level_rewards WHERE guild_id = $1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM case_counters WHERE guild_id = $1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM case_amendments WHERE guild_id = $1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM mod_cases WHERE guild_id = $1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM escalation_rules WHERE guild_id = $1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    rows += sqlx::query!("DELETE FROM welcomed_members WHERE guild_id = $1", guild_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    Ok(rows)
}

/// A change to one of the guild's roles changes the guild.
async fn touch(tx: &mut sqlx::PgConnection, guild_id: i64, at: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query!(
        "UPDATE guilds SET updated_at = $2 WHERE guild_id = $1",
        guild_id,
        at,
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
    tx: &mut sqlx::PgConnection,
    guild_id: i64,
    delta: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query!(
        "UPDATE guilds SET member_count = GREATEST(member_count + $2, 0), updated_at = $3
         WHERE guild_id = $1",
        guild_id,
        delta,
        at,
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
            let (guild, held) = (id_from_db(row.guild_id)?, row.held_by_bot);
            Ok((guild, held, GuildRole::try_from(row)?))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(attach_roles(guilds, roles))
}

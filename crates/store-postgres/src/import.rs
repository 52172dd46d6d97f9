//! [`ImportStore`]: another bot's data merged by the rules of
//! `keeper_store::import`, in one transaction. Imports take a transaction-level
//! advisory lock, so two at once run one after the other (each counts the
//! warnings the other imported); the bot's own writes go on meanwhile, and
//! every merge is decided by the row as it is when written.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    ImportStore, StoreResult, id_to_db,
    import::{GuildImported, ImportGuild, ImportMember, MemberMerge, merge_member, merge_settings},
    levels::{level_for_xp, xp_bucket},
};
use sqlx::PgConnection;

use crate::{PgStore, cases::insert_case, error::db_error, settings};

/// The advisory lock imports take (any fixed number; "keeper-import").
const IMPORT_LOCK: i64 = 0x6b65_6570_696d_7074;

#[async_trait]
impl ImportStore for PgStore {
    async fn import_guilds(
        &self,
        guilds: &[ImportGuild],
        at: DateTime<Utc>,
        dry_run: bool,
    ) -> StoreResult<Vec<GuildImported>> {
        let mut tx = self.begin_write().await?;
        sqlx::query!("SELECT pg_advisory_xact_lock($1)", IMPORT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut report = Vec::with_capacity(guilds.len());
        for guild in guilds {
            report.push(import_guild(&mut tx, guild, at).await?);
        }
        if dry_run {
            tx.rollback().await.map_err(db_error)?;
        } else {
            tx.commit().await.map_err(db_error)?;
        }
        Ok(report)
    }
}

async fn import_guild(
    tx: &mut PgConnection,
    guild: &ImportGuild,
    at: DateTime<Utc>,
) -> StoreResult<GuildImported> {
    let mut done = GuildImported::new(guild.guild_id);
    let guild_id = id_to_db(guild.guild_id);

    if !guild.settings.is_empty() {
        let mut current = settings::lock(tx, guild.guild_id, at).await?;
        let (patch, merges) = merge_settings(&current, &guild.settings);
        done.settings = merges;
        if patch != Default::default() {
            current.apply(&patch)?;
            settings::save(tx, &current, at).await?;
        }
    }

    let imported_before: HashMap<i64, i64> = sqlx::query!(
        r#"SELECT target_id, COUNT(*) AS "warnings!"
           FROM mod_cases
           WHERE guild_id = $1 AND source = 'import' AND kind = 'warn'
           GROUP BY target_id"#,
        guild_id
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?
    .into_iter()
    .map(|r| (r.target_id, r.warnings))
    .collect();

    for member in &guild.members {
        let user_id = id_to_db(member.user_id);
        if merge_member(None, member) != MemberMerge::NoXp {
            done.count(write_xp(tx, guild_id, member).await?);
        }

        let before = imported_before.get(&user_id).copied().unwrap_or(0);
        let skip = usize::try_from(before).unwrap_or(usize::MAX);
        done.warnings_present += member.warnings.len().min(skip) as u64;
        for warning in member.warnings.iter().skip(skip) {
            insert_case(tx, &warning.case(guild.guild_id, member.user_id, at)).await?;
            done.warnings_added += 1;
        }
    }
    Ok(done)
}

/// Merge one member's XP: no row back from the upsert means Keeper's total was
/// at least the file's, and is kept; `xmax = 0` tells a row just inserted from
/// one updated.
async fn write_xp(
    tx: &mut PgConnection,
    guild_id: i64,
    member: &ImportMember,
) -> StoreResult<MemberMerge> {
    let (level, bucket) = (level_for_xp(member.xp), xp_bucket(member.xp));
    let written = sqlx::query_scalar!(
        r#"INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (guild_id, user_id) DO UPDATE SET
               xp = excluded.xp, level = excluded.level, xp_bucket = excluded.xp_bucket,
               messages = GREATEST(member_xp.messages, excluded.messages)
           WHERE member_xp.xp < excluded.xp
           RETURNING (xmax = 0) AS "inserted!""#,
        guild_id,
        id_to_db(member.user_id),
        member.xp,
        level,
        bucket,
        member.messages
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(match written {
        None => MemberMerge::Kept,
        Some(true) => MemberMerge::New,
        Some(false) => MemberMerge::Raised,
    })
}

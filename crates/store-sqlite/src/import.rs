//! [`ImportStore`]: another bot's data merged by the rules of
//! `keeper_store::import`, in one `BEGIN IMMEDIATE` transaction (the writer
//! lock is held from the first read, so what is read is what is merged into).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    ImportStore, StoreResult, id_to_db,
    import::{GuildImported, ImportGuild, ImportMember, MemberMerge, merge_member, merge_settings},
    levels::{level_for_xp, xp_bucket},
};
use sqlx::SqliteConnection;

use crate::{SqliteStore, cases::insert_case, error::db_error, settings};

#[async_trait]
impl ImportStore for SqliteStore {
    async fn import_guilds(
        &self,
        guilds: &[ImportGuild],
        at: DateTime<Utc>,
        dry_run: bool,
    ) -> StoreResult<Vec<GuildImported>> {
        let mut tx = self.begin_write().await?;
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
    tx: &mut SqliteConnection,
    guild: &ImportGuild,
    at: DateTime<Utc>,
) -> StoreResult<GuildImported> {
    let mut done = GuildImported::new(guild.guild_id);
    let guild_id = id_to_db(guild.guild_id);

    if !guild.settings.is_empty() {
        let mut current = settings::load(tx, guild.guild_id).await?;
        let (patch, merges) = merge_settings(&current, &guild.settings);
        done.settings = merges;
        if patch != Default::default() {
            current.apply(&patch)?;
            settings::save(tx, &mut current, at).await?;
        }
    }

    let known: HashMap<i64, i64> = sqlx::query!(
        r#"SELECT user_id AS "user_id!: i64", xp AS "xp!: i64"
           FROM member_xp WHERE guild_id = ?1"#,
        guild_id
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?
    .into_iter()
    .map(|r| (r.user_id, r.xp))
    .collect();
    let imported_before: HashMap<i64, i64> = sqlx::query!(
        r#"SELECT target_id AS "target_id!: i64", COUNT(*) AS "warnings!: i64"
           FROM mod_cases
           WHERE guild_id = ?1 AND source = 'import' AND kind = 'warn'
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
        let merge = merge_member(known.get(&user_id).copied(), member);
        done.count(merge);
        if matches!(merge, MemberMerge::New | MemberMerge::Raised) {
            write_xp(tx, guild_id, member).await?;
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

/// Write one member's merged XP (the writer lock is held: `merge` was decided
/// on the row as it is).
async fn write_xp(
    tx: &mut SqliteConnection,
    guild_id: i64,
    member: &ImportMember,
) -> StoreResult<()> {
    let (level, bucket) = (level_for_xp(member.xp), xp_bucket(member.xp));
    let user_id = id_to_db(member.user_id);
    sqlx::query!(
        r#"INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6)
           ON CONFLICT (guild_id, user_id) DO UPDATE SET
               xp = excluded.xp, level = excluded.level, xp_bucket = excluded.xp_bucket,
               messages = max(member_xp.messages, excluded.messages)"#,
        guild_id,
        user_id,
        member.xp,
        level,
        bucket,
        member.messages
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

//! [`ImportStore`]: another bot's data merged by the rules of
//! `keeper_store::import`, in one `BEGIN IMMEDIATE` transaction (the writer
//! lock is held from the first read, so what is read is what is merged into).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    ImportStore, NewCase, StoreError, StoreResult, id_to_db,
    import::{
        GuildImported, ImportGuild, ImportMember, MemberMerge, merge_member, merge_settings,
        warnings_to_add,
    },
    levels::{level_for_xp, xp_bucket},
};
use serde_json::{Value, json};
use sqlx::SqliteConnection;

use crate::{SqliteStore, convert::to_ms, error::db_error, settings};

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

    let mut changed = Vec::new();
    for member in &guild.members {
        let merge = merge_member(known.get(&id_to_db(member.user_id)).copied(), member);
        done.count(merge);
        if matches!(merge, MemberMerge::New | MemberMerge::Raised) {
            changed.push(member);
        }
    }
    for part in changed.chunks(PART) {
        write_xp(tx, guild_id, part).await?;
    }

    let before = |user| {
        let count = imported_before.get(&id_to_db(user)).copied().unwrap_or(0);
        u64::try_from(count).unwrap_or(0)
    };
    let (cases, present) = warnings_to_add(guild, before, at);
    done.warnings_present = present;
    done.warnings_added = cases.len() as u64;
    let mut next = allocate_numbers(tx, guild_id, cases.len()).await?;
    for part in cases.chunks(PART) {
        insert_cases(tx, guild_id, next, part).await?;
        next += part.len() as i64;
    }
    Ok(done)
}

/// Rows per statement: one JSON parameter each, well within SQLite's limits.
const PART: usize = 5_000;

/// Write members' merged XP, one statement for `members` (the writer lock is
/// held: each was decided on the row as it is).
async fn write_xp(
    tx: &mut SqliteConnection,
    guild_id: i64,
    members: &[&ImportMember],
) -> StoreResult<()> {
    let rows: Vec<_> = members
        .iter()
        .map(|m| {
            let (level, bucket) = (level_for_xp(m.xp), xp_bucket(m.xp));
            json!([id_to_db(m.user_id), m.xp, level, bucket, m.messages])
        })
        .collect();
    let rows = Value::Array(rows).to_string();
    sqlx::query!(
        r#"INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages)
           SELECT ?1, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4
           FROM json_each(?2) AS j WHERE true
           ON CONFLICT (guild_id, user_id) DO UPDATE SET
               xp = excluded.xp, level = excluded.level, xp_bucket = excluded.xp_bucket,
               messages = max(member_xp.messages, excluded.messages)"#,
        guild_id,
        rows
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Take `count` case numbers of the guild at once: the first of them.
async fn allocate_numbers(
    tx: &mut SqliteConnection,
    guild_id: i64,
    count: usize,
) -> StoreResult<i64> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    if count == 0 {
        return Ok(0);
    }
    // RETURNING read with fetch_all: see the crate docs.
    let last = sqlx::query_scalar!(
        r#"INSERT INTO case_counters (guild_id, last_case) VALUES (?1, ?2)
           ON CONFLICT (guild_id) DO UPDATE SET last_case = last_case + ?2
           RETURNING last_case AS "last_case!: i64""#,
        guild_id,
        count
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    let last = last
        .first()
        .copied()
        .ok_or_else(|| StoreError::Internal("the case counter returned no row".into()))?;
    Ok(last - count + 1)
}

/// Insert imported warnings numbered from `first`, one statement.
async fn insert_cases(
    tx: &mut SqliteConnection,
    guild_id: i64,
    first: i64,
    cases: &[NewCase],
) -> StoreResult<()> {
    let rows: Vec<_> = cases
        .iter()
        .zip(first..)
        .map(|(c, number)| {
            json!([
                number,
                id_to_db(c.target_id),
                c.moderator_id.map(id_to_db),
                c.reason,
                to_ms(c.created_at)
            ])
        })
        .collect();
    let rows = Value::Array(rows).to_string();
    sqlx::query!(
        r#"INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
                              created_at, source, action_status)
           SELECT ?1, j.value ->> 0, j.value ->> 1, j.value ->> 2, 'warn', j.value ->> 3,
                  j.value ->> 4, 'import', 'done'
           FROM json_each(?2) AS j"#,
        guild_id,
        rows
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

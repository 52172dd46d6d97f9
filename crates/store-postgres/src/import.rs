//! [`ImportStore`]: another bot's data merged by the rules of
//! `keeper_store::import`, in one transaction. Imports take a transaction-level
//! advisory lock, so two at once run one after the other (each counts the
//! warnings the other imported); the bot's own writes go on meanwhile, and
//! every merge is decided by the row as it is when written.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    ImportStore, NewCase, StoreResult, id_to_db,
    import::{
        GuildImported, ImportGuild, ImportMember, MemberMerge, merge_member, merge_settings,
        warnings_to_add,
    },
    levels::{level_for_xp, xp_bucket},
};
use sqlx::PgConnection;

use crate::{PgStore, error::db_error, settings, xp};

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
        // A re-import raises many members at once; the count trigger would move
        // them one row at a time, so this transaction counts its guilds again
        // at the end instead (0019).
        xp::counting_buckets(&mut tx).await?;
        let mut report = Vec::with_capacity(guilds.len());
        for guild in guilds {
            report.push(import_guild(&mut tx, guild, at).await?);
        }
        let ids: Vec<i64> = guilds.iter().map(|g| id_to_db(g.guild_id)).collect();
        xp::recount_buckets(&mut tx, &ids).await?;
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

    let with_xp: Vec<&ImportMember> = guild
        .members
        .iter()
        .filter(|m| merge_member(None, m) != MemberMerge::NoXp)
        .collect();
    for part in with_xp.chunks(PART) {
        for merge in write_xp(tx, guild_id, part).await? {
            done.count(merge);
        }
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

/// Rows per statement (arrays bound as one parameter each).
const PART: usize = 5_000;

/// Merge members' XP in one statement: a member whose row comes back was
/// inserted (`xmax = 0`) or raised; one that does not was kept, Keeper's total
/// being at least the file's when written.
async fn write_xp(
    tx: &mut PgConnection,
    guild_id: i64,
    members: &[&ImportMember],
) -> StoreResult<Vec<MemberMerge>> {
    let users: Vec<i64> = members.iter().map(|m| id_to_db(m.user_id)).collect();
    let xps: Vec<i64> = members.iter().map(|m| m.xp).collect();
    let levels: Vec<i32> = members.iter().map(|m| level_for_xp(m.xp)).collect();
    let buckets: Vec<i64> = members.iter().map(|m| xp_bucket(m.xp)).collect();
    let messages: Vec<i64> = members.iter().map(|m| m.messages).collect();
    let written = sqlx::query!(
        r#"INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages)
           SELECT $1, * FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::INT[], $5::BIGINT[],
                                    $6::BIGINT[])
           ON CONFLICT (guild_id, user_id) DO UPDATE SET
               xp = excluded.xp, level = excluded.level, xp_bucket = excluded.xp_bucket,
               messages = GREATEST(member_xp.messages, excluded.messages)
           WHERE member_xp.xp < excluded.xp
           RETURNING user_id, (xmax = 0) AS "inserted!""#,
        guild_id,
        &users,
        &xps,
        &levels,
        &buckets,
        &messages
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    let written: HashMap<i64, bool> = written
        .into_iter()
        .map(|r| (r.user_id, r.inserted))
        .collect();
    Ok(users
        .iter()
        .map(|user| match written.get(user) {
            None => MemberMerge::Kept,
            Some(true) => MemberMerge::New,
            Some(false) => MemberMerge::Raised,
        })
        .collect())
}

/// Take `count` case numbers of the guild at once: the first of them.
async fn allocate_numbers(tx: &mut PgConnection, guild_id: i64, count: usize) -> StoreResult<i64> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    if count == 0 {
        return Ok(0);
    }
    let last = sqlx::query_scalar!(
        r#"INSERT INTO case_counters (guild_id, last_case) VALUES ($1, $2)
           ON CONFLICT (guild_id) DO UPDATE SET last_case = case_counters.last_case + $2
           RETURNING last_case"#,
        guild_id,
        count
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(last - count + 1)
}

/// Insert imported warnings numbered from `first`, one statement.
async fn insert_cases(
    tx: &mut PgConnection,
    guild_id: i64,
    first: i64,
    cases: &[NewCase],
) -> StoreResult<()> {
    let numbers: Vec<i64> = (first..).take(cases.len()).collect();
    let targets: Vec<i64> = cases.iter().map(|c| id_to_db(c.target_id)).collect();
    let moderators: Vec<Option<i64>> = cases.iter().map(|c| c.moderator_id.map(id_to_db)).collect();
    let reasons: Vec<Option<String>> = cases.iter().map(|c| c.reason.clone()).collect();
    let times: Vec<DateTime<Utc>> = cases.iter().map(|c| c.created_at).collect();
    sqlx::query!(
        r#"INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
                              created_at, source, action_status)
           SELECT $1, n, t, m, 'warn', r, c, 'import', 'done'
           FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::TIMESTAMPTZ[])
                AS u(n, t, m, r, c)"#,
        guild_id,
        &numbers,
        &targets,
        &moderators as &[Option<i64>],
        &reasons as &[Option<String>],
        &times
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

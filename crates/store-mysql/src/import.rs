//! [`ImportStore`]: another bot's data merged by the rules of
//! `keeper_store::import`, in one transaction. Imports hold a named lock
//! (`GET_LOCK`), so two at once run one after the other (each counts the
//! warnings the other imported); the bot's own writes go on meanwhile, and every
//! merge is decided on the rows it locked (`FOR UPDATE`) before writing them.

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
use sqlx::MySqlConnection;

use crate::{
    MySqlStore,
    convert::to_ms,
    error::{Stop, retrying},
    settings,
};

/// The named lock imports take (any fixed name, one per server: name the
/// database in it if several Keepers share one server and should import at once).
const IMPORT_LOCK: &str = "keeper-import";
/// How long an import waits for another to end before giving up.
const IMPORT_WAIT_SECS: i64 = 3_600;

#[async_trait]
impl ImportStore for MySqlStore {
    async fn import_guilds(
        &self,
        guilds: &[ImportGuild],
        at: DateTime<Utc>,
        dry_run: bool,
    ) -> StoreResult<Vec<GuildImported>> {
        // Merging members' XP meets award flushes on the same rows: a deadlock
        // runs the whole import again, deciding each merge anew.
        retrying(|| async move {
            let mut conn = self.pool.acquire().await?;
            // A named lock belongs to the session, not to the transaction, and
            // a connection returned to the pool would keep holding it: closing
            // this one at the end releases it, whatever happened meanwhile (an
            // error, a dropped future).
            conn.close_on_drop();
            let locked = sqlx::query_scalar!(
                r#"SELECT GET_LOCK(?, ?) AS "locked: i64""#,
                IMPORT_LOCK,
                IMPORT_WAIT_SECS
            )
            .fetch_one(&mut *conn)
            .await?;
            if locked != Some(1) {
                return Err(StoreError::Unavailable(
                    "another import has been running for an hour; try again once it is done".into(),
                )
                .into());
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let mut report = Vec::with_capacity(guilds.len());
            for guild in guilds {
                report.push(import_guild(&mut tx, guild, at).await?);
            }
            // No recount of member_xp_buckets at the end, as on PostgreSQL: here
            // member_xp's row triggers keep the counts as each row is written.
            if dry_run {
                tx.rollback().await?;
            } else {
                tx.commit().await?;
            }
            Ok(report)
        })
        .await
    }
}

async fn import_guild(
    tx: &mut MySqlConnection,
    guild: &ImportGuild,
    at: DateTime<Utc>,
) -> Result<GuildImported, Stop> {
    let mut done = GuildImported::new(guild.guild_id);
    let guild_id = id_to_db(guild.guild_id);

    if !guild.settings.is_empty() {
        let mut current = settings::lock(tx, guild.guild_id, at).await?;
        let (patch, merges) = merge_settings(&current, &guild.settings);
        done.settings = merges;
        if patch != Default::default() {
            current.apply(&patch)?;
            settings::save(tx, &mut current, at).await?;
        }
    }

    let imported_before: HashMap<i64, i64> = sqlx::query!(
        r#"SELECT target_id, COUNT(*) AS "warnings!: i64"
           FROM mod_cases
           WHERE guild_id = ? AND source = 'import' AND kind = 'warn'
           GROUP BY target_id"#,
        guild_id
    )
    .fetch_all(&mut *tx)
    .await?
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

/// Rows per statement: one JSON parameter each, far below `max_allowed_packet`.
const PART: usize = 5_000;

/// Merge members' XP: their rows are read locked (in key order, the order
/// award flushes lock them), each merge decided on the row as it is, and the
/// new and raised members written in one statement. A member inserted
/// meanwhile by an award (an absent row locks nothing at READ COMMITTED) is
/// still merged right: the upsert keeps the larger total, and moves the level,
/// bucket and messages only with it.
async fn write_xp(
    tx: &mut MySqlConnection,
    guild_id: i64,
    members: &[&ImportMember],
) -> Result<Vec<MemberMerge>, Stop> {
    let mut users: Vec<i64> = members.iter().map(|m| id_to_db(m.user_id)).collect();
    users.sort_unstable();
    users.dedup();
    let users = Value::from(users).to_string();
    let known: HashMap<i64, i64> = sqlx::query!(
        "SELECT m.user_id, m.xp
         FROM member_xp AS m
         JOIN JSON_TABLE(?, '$[*]' COLUMNS (file_user BIGINT PATH '$')) AS j
             ON m.user_id = j.file_user
         WHERE m.guild_id = ?
         ORDER BY m.user_id
         FOR UPDATE",
        users,
        guild_id
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.user_id, r.xp))
    .collect();
    let merges: Vec<MemberMerge> = members
        .iter()
        .map(|m| merge_member(known.get(&id_to_db(m.user_id)).copied(), m))
        .collect();
    let rows: Vec<Value> = members
        .iter()
        .zip(&merges)
        .filter(|(_, merge)| matches!(merge, MemberMerge::New | MemberMerge::Raised))
        .map(|(m, _)| {
            let (level, bucket) = (level_for_xp(m.xp), xp_bucket(m.xp));
            json!([id_to_db(m.user_id), m.xp, level, bucket, m.messages])
        })
        .collect();
    if rows.is_empty() {
        return Ok(merges);
    }
    let rows = Value::Array(rows).to_string();
    // `xp` is assigned last: each assignment sees those before it, and the
    // others compare with the total as it was.
    sqlx::query!(
        "INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages)
         SELECT ?, j.file_user, j.file_xp, j.file_level, j.file_bucket, j.file_messages
         FROM JSON_TABLE(?, '$[*]' COLUMNS (
             file_user BIGINT PATH '$[0]',
             file_xp BIGINT PATH '$[1]',
             file_level INT PATH '$[2]',
             file_bucket BIGINT PATH '$[3]',
             file_messages BIGINT PATH '$[4]')) AS j
         ON DUPLICATE KEY UPDATE
             level = IF(VALUES(xp) > xp, VALUES(level), level),
             xp_bucket = IF(VALUES(xp) > xp, VALUES(xp_bucket), xp_bucket),
             messages = IF(VALUES(xp) > xp, GREATEST(messages, VALUES(messages)), messages),
             xp = GREATEST(xp, VALUES(xp))",
        guild_id,
        rows
    )
    .execute(&mut *tx)
    .await?;
    Ok(merges)
}

/// Take `count` case numbers of the guild at once: the first of them. The
/// upsert locks the counter row until the import ends (a warning the bot adds
/// meanwhile waits, then numbers after these); the number is read back, as
/// there is no `RETURNING`.
async fn allocate_numbers(
    tx: &mut MySqlConnection,
    guild_id: i64,
    count: usize,
) -> Result<i64, Stop> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    if count == 0 {
        return Ok(0);
    }
    sqlx::query!(
        "INSERT INTO case_counters (guild_id, last_case) VALUES (?, ?)
         ON DUPLICATE KEY UPDATE last_case = last_case + VALUES(last_case)",
        guild_id,
        count
    )
    .execute(&mut *tx)
    .await?;
    let last = sqlx::query_scalar!(
        "SELECT last_case FROM case_counters WHERE guild_id = ? FOR UPDATE",
        guild_id
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(last - count + 1)
}

/// Insert imported warnings numbered from `first`, one statement.
async fn insert_cases(
    tx: &mut MySqlConnection,
    guild_id: i64,
    first: i64,
    cases: &[NewCase],
) -> Result<(), Stop> {
    let rows: Vec<Value> = cases
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
        "INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
                               created_at, source, action_status)
         SELECT ?, j.file_number, j.file_target, j.file_moderator, 'warn', j.file_reason,
                j.file_created, 'import', 'done'
         FROM JSON_TABLE(?, '$[*]' COLUMNS (
             file_number BIGINT PATH '$[0]',
             file_target BIGINT PATH '$[1]',
             file_moderator BIGINT PATH '$[2]',
             file_reason TEXT PATH '$[3]',
             file_created BIGINT PATH '$[4]')) AS j",
        guild_id,
        rows
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

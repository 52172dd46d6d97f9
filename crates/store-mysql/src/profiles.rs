//! [`ProfileStore`]: how members look in each guild (`member_profiles`), for
//! the web leaderboard.

use std::collections::HashMap;

use async_trait::async_trait;
use keeper_store::{
    MemberProfile, MemberRank, ProfileStore, StoreError, StoreResult, id_from_db, id_to_db,
    profiles::{fold_name, latest},
};
use serde_json::json;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{
    MySqlStore,
    convert::{from_ms, from_rows, to_ms},
    error::{Stop, db_error, retrying},
    xp::{XpRow, ranked_together, top_bucket},
};

/// How many of a guild's top members a search looks through first (see
/// `search_members`): enough that a text in one name of 20 fills a page of
/// 100 from them, few enough to read in a few milliseconds.
const SEARCH_TOP_FIRST: i64 = 2_000;

/// The most members the first look may read: buckets are read whole, and in
/// a guild where most members have little XP the bucket holding the 2,000th
/// can hold tens of thousands, more than a scan of the profiles costs.
const SEARCH_TOP_MOST: i64 = 4 * SEARCH_TOP_FIRST;

/// A `member_profiles` row as stored (without the folded name).
pub(crate) struct ProfileRow {
    pub(crate) guild_id: i64,
    pub(crate) user_id: i64,
    pub(crate) display_name: String,
    pub(crate) avatar: Option<String>,
    pub(crate) seen_at: i64,
}

impl TryFrom<ProfileRow> for MemberProfile {
    type Error = StoreError;

    fn try_from(r: ProfileRow) -> StoreResult<Self> {
        Ok(MemberProfile {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            display_name: r.display_name,
            avatar: r.avatar,
            seen_at: from_ms(r.seen_at)?,
        })
    }
}

/// Whether `profile` is worth writing over what is stored for the member:
/// something it shows differs, and it is not an older sighting.
fn changes(stored: &ProfileRow, profile: &MemberProfile) -> bool {
    (stored.display_name != profile.display_name || stored.avatar != profile.avatar)
        && stored.seen_at <= to_ms(profile.seen_at)
}

#[async_trait]
impl ProfileStore for MySqlStore {
    /// One write over `JSON_TABLE`, of only the profiles that change something.
    ///
    /// MySQL's upsert has no `WHERE`, and an unchanged row counts as 1 as an
    /// insert does (CLIENT_FOUND_ROWS), so what changes can't be counted from
    /// one statement: the batch's stored rows are read first with their locks
    /// (driven by the batch, which [`latest`] sorts by key, so writers take
    /// them in one order), compared in Rust, and only new or changed profiles
    /// upserted. A member a racing transaction inserts meanwhile (no gap locks
    /// under READ COMMITTED) meets the upsert's guard, which never lets an
    /// older sighting replace a newer one.
    async fn save_profiles(&self, profiles: &[MemberProfile]) -> StoreResult<u64> {
        if profiles.is_empty() {
            return Ok(0);
        }
        let latest = latest(profiles);
        let keys: Vec<(i64, i64)> = latest
            .iter()
            .map(|p| (id_to_db(p.guild_id), id_to_db(p.user_id)))
            .collect();
        let keys = serde_json::to_string(&keys).map_err(StoreError::internal)?;
        let (latest, keys) = (&latest, &keys);
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            let stored = sqlx::query_as!(
                ProfileRow,
                "SELECT p.guild_id, p.user_id, p.display_name, p.avatar, p.seen_at
                 FROM JSON_TABLE(?, '$[*]' COLUMNS (g BIGINT PATH '$[0]', u BIGINT PATH '$[1]'))
                      AS j
                 STRAIGHT_JOIN member_profiles p ON p.guild_id = j.g AND p.user_id = j.u
                 FOR UPDATE",
                keys
            )
            .fetch_all(&mut *tx)
            .await?;
            // By key: the join returns rows in whatever order its plan reads them.
            let stored: HashMap<(i64, i64), ProfileRow> = stored
                .into_iter()
                .map(|s| ((s.guild_id, s.user_id), s))
                .collect();
            let mut rows = Vec::new();
            for profile in latest {
                let key = (id_to_db(profile.guild_id), id_to_db(profile.user_id));
                if stored.get(&key).is_none_or(|s| changes(s, profile)) {
                    // Objects, so that a missing avatar is a missing key,
                    // which JSON_TABLE reads as NULL on every server.
                    let mut row = json!({
                        "g": key.0,
                        "u": key.1,
                        "n": profile.display_name,
                        "f": fold_name(&profile.display_name),
                        "s": to_ms(profile.seen_at),
                    });
                    if let Some(avatar) = &profile.avatar {
                        row["a"] = json!(avatar);
                    }
                    rows.push(row);
                }
            }
            if rows.is_empty() {
                tx.commit().await?;
                return Ok(0);
            }
            let json = serde_json::to_string(&rows).map_err(StoreError::internal)?;
            // `seen_at` is assigned last: MySQL's assignments see the ones
            // before them.
            sqlx::query!(
                "INSERT INTO member_profiles
                     (guild_id, user_id, display_name, search_name, avatar, seen_at)
                 SELECT j.g, j.u, j.n, j.f, j.a, j.s
                 FROM JSON_TABLE(?, '$[*]' COLUMNS (
                          g BIGINT PATH '$.g', u BIGINT PATH '$.u', n TEXT PATH '$.n',
                          f TEXT PATH '$.f', a TEXT PATH '$.a', s BIGINT PATH '$.s')) AS j
                 ORDER BY j.g, j.u
                 ON DUPLICATE KEY UPDATE
                     display_name = IF(seen_at <= VALUES(seen_at), VALUES(display_name),
                                       display_name),
                     search_name = IF(seen_at <= VALUES(seen_at), VALUES(search_name),
                                      search_name),
                     avatar = IF(seen_at <= VALUES(seen_at), VALUES(avatar), avatar),
                     seen_at = GREATEST(seen_at, VALUES(seen_at))",
                json
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, Stop>(rows.len() as u64)
        })
        .await
    }

    async fn profiles(
        &self,
        guild: Id<GuildMarker>,
        users: &[Id<UserMarker>],
    ) -> StoreResult<Vec<MemberProfile>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = users.iter().map(|u| id_to_db(*u)).collect();
        let ids = serde_json::to_string(&ids).map_err(StoreError::internal)?;
        let rows = sqlx::query_as!(
            ProfileRow,
            "SELECT guild_id, user_id, display_name, avatar, seen_at
             FROM member_profiles
             WHERE guild_id = ?
               AND user_id IN (SELECT j.u FROM JSON_TABLE(?, '$[*]' COLUMNS (u BIGINT PATH '$'))
                                                AS j)",
            id_to_db(guild),
            ids
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    /// The first `limit` matches in leaderboard order, each placed as `/rank`
    /// places it ([`ranked_together`]), all in one read snapshot. `INSTR` can
    /// use no index, so some scan is needed; MariaDB can't tell how many names
    /// match, so Keeper picks the scan in two steps:
    ///
    /// 1. The guild's top [`SEARCH_TOP_FIRST`] members (the buckets that hold
    ///    them, bounded from `member_xp_buckets` as a page is, unless they
    ///    hold more than [`SEARCH_TOP_MOST`]), each one's profile looked up: a
    ///    few milliseconds. When `limit` of them match (a
    ///    text in many names), or they are the whole guild, those are the
    ///    answer: the members of higher buckets are all ahead of the rest.
    /// 2. Otherwise the guild's profiles are scanned for the text and only the
    ///    matches' XP rows are read (`STRAIGHT_JOIN` keeps the profiles first).
    ///
    /// Either alone is slow for the other's case, in a guild of 100,000: the
    /// profiles' scan sorts every match by XP (122 ms when nearly every name
    /// matches), and reading members in XP order until enough match reads the
    /// whole guild for a rare name (115 ms). `INSTR` rather than `LIKE`: the
    /// text is matched as it is, with no `%`, `_` or `\` to escape, and the
    /// columns' binary collation compares the folded names byte for byte.
    async fn search_members(
        &self,
        guild: Id<GuildMarker>,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemberRank>> {
        let (guild_id, needle, limit) = (id_to_db(guild), fold_name(text), i64::from(limit));
        let mut tx = self.begin_read().await?;
        // The buckets to look through first, and whether they are the guild.
        let first = match top_bucket(&mut tx, guild_id, SEARCH_TOP_FIRST).await? {
            Some(top) if top.members > SEARCH_TOP_MOST => None,
            Some(top) => Some((top.bucket, top.whole_guild)),
            None => Some((i64::MIN, true)),
        };
        let (mut rows, whole) = match first {
            None => (Vec::new(), false),
            Some((bound, whole)) => (
                top_matches(&mut tx, guild_id, bound, &needle, limit).await?,
                whole,
            ),
        };
        if !whole && (rows.len() as i64) < limit {
            rows = sqlx::query_as!(
                XpRow,
                "SELECT m.guild_id, m.user_id, m.xp, m.level, m.messages, m.last_award_at
                 FROM member_profiles p
                 STRAIGHT_JOIN member_xp m ON m.guild_id = p.guild_id AND m.user_id = p.user_id
                 WHERE p.guild_id = ? AND INSTR(p.search_name, ?) > 0
                 ORDER BY m.xp DESC, m.user_id
                 LIMIT ?",
                guild_id,
                needle,
                limit
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        let found = ranked_together(&mut tx, rows).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(found)
    }
}

/// Step 1 of `search_members`: the first `limit` matches among the guild's
/// members of bucket `bound` and above, in leaderboard order.
async fn top_matches(
    conn: &mut sqlx::MySqlConnection,
    guild_id: i64,
    bound: i64,
    needle: &str,
    limit: i64,
) -> StoreResult<Vec<XpRow>> {
    sqlx::query_as!(
        XpRow,
        "SELECT m.guild_id, m.user_id, m.xp, m.level, m.messages, m.last_award_at
         FROM member_xp m FORCE INDEX (member_xp_leaderboard)
         STRAIGHT_JOIN member_profiles p ON p.guild_id = m.guild_id AND p.user_id = m.user_id
         WHERE m.guild_id = ? AND m.xp_bucket >= ? AND INSTR(p.search_name, ?) > 0
         ORDER BY m.xp DESC, m.user_id
         LIMIT ?",
        guild_id,
        bound,
        needle,
        limit
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)
}

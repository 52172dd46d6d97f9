//! [`ProfileStore`]: how members look in each guild (`member_profiles`), for
//! the web leaderboard.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    MemberProfile, MemberRank, ProfileStore, StoreError, StoreResult, id_from_db, id_to_db,
    profiles::{fold_name, latest},
};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{PgStore, convert::from_rows, error::db_error, xp::RankRow};

/// A `member_profiles` row as stored (without the folded name).
pub(crate) struct ProfileRow {
    pub(crate) guild_id: i64,
    pub(crate) user_id: i64,
    pub(crate) display_name: String,
    pub(crate) avatar: Option<String>,
    pub(crate) seen_at: DateTime<Utc>,
}

impl TryFrom<ProfileRow> for MemberProfile {
    type Error = StoreError;

    fn try_from(r: ProfileRow) -> StoreResult<Self> {
        Ok(MemberProfile {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            display_name: r.display_name,
            avatar: r.avatar,
            seen_at: r.seen_at,
        })
    }
}

#[async_trait]
impl ProfileStore for PgStore {
    /// One statement over `UNNEST`, the rows in key order (so two writers lock
    /// them in the same order and never deadlock). The `WHERE` of the upsert
    /// leaves a row that says the same untouched (no new row version, nothing
    /// for vacuum), and never lets an older sighting replace a newer one.
    async fn save_profiles(&self, profiles: &[MemberProfile]) -> StoreResult<u64> {
        if profiles.is_empty() {
            return Ok(0);
        }
        let latest = latest(profiles);
        let guilds: Vec<i64> = latest.iter().map(|p| id_to_db(p.guild_id)).collect();
        let users: Vec<i64> = latest.iter().map(|p| id_to_db(p.user_id)).collect();
        let names: Vec<String> = latest.iter().map(|p| p.display_name.clone()).collect();
        let folded: Vec<String> = latest.iter().map(|p| fold_name(&p.display_name)).collect();
        let avatars: Vec<Option<String>> = latest.iter().map(|p| p.avatar.clone()).collect();
        let seen: Vec<DateTime<Utc>> = latest.iter().map(|p| p.seen_at).collect();
        let mut work = self.work().await?;
        let written = sqlx::query!(
            "INSERT INTO member_profiles AS p (guild_id, user_id, display_name, search_name,
                 avatar, seen_at)
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[],
                                  $6::timestamptz[])
             ON CONFLICT (guild_id, user_id) DO UPDATE SET
                 display_name = excluded.display_name,
                 search_name = excluded.search_name,
                 avatar = excluded.avatar,
                 seen_at = excluded.seen_at
             WHERE (p.display_name IS DISTINCT FROM excluded.display_name
                    OR p.avatar IS DISTINCT FROM excluded.avatar)
               AND p.seen_at <= excluded.seen_at",
            &guilds,
            &users,
            &names,
            &folded,
            &avatars as &[Option<String>],
            &seen,
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?
        .rows_affected();
        work.done().await?;
        Ok(written)
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
        let mut work = self.work().await?;
        let rows = sqlx::query_as!(
            ProfileRow,
            "SELECT guild_id, user_id, display_name, avatar, seen_at
             FROM member_profiles WHERE guild_id = $1 AND user_id = ANY($2)",
            id_to_db(guild),
            &ids,
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        from_rows(rows)
    }

    /// One statement: the matches (a scan of the guild's profiles: `strpos`
    /// can use no index), cut to `limit` first, then each one's place counted
    /// as `/rank` counts it.
    async fn search_members(
        &self,
        guild: Id<GuildMarker>,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemberRank>> {
        let mut work = self.work().await?;
        let rows = sqlx::query_as!(
            RankRow,
            r#"SELECT m.guild_id AS "guild_id!", m.user_id AS "user_id!", m.xp AS "xp!",
                  m.level AS "level!", m.messages AS "messages!", m.last_award_at,
                  (SELECT COALESCE(SUM(c.members), 0)::int8 FROM member_xp_buckets c
                   WHERE c.guild_id = $1 AND c.xp_bucket > m.xp_bucket)
                  + (SELECT COUNT(*) FROM member_xp o
                     WHERE o.guild_id = $1 AND o.xp_bucket = m.xp_bucket
                       AND (o.xp > m.xp OR (o.xp = m.xp AND o.user_id < m.user_id))) AS "ahead!",
                  (SELECT COALESCE(SUM(c.members), 0)::int8 FROM member_xp_buckets c
                   WHERE c.guild_id = $1) AS "out_of!"
               FROM (SELECT x.* FROM member_profiles p
                     JOIN member_xp x ON x.guild_id = p.guild_id AND x.user_id = p.user_id
                     WHERE p.guild_id = $1 AND strpos(p.search_name, $2) > 0
                     ORDER BY x.xp DESC, x.user_id
                     LIMIT $3) m
               ORDER BY m.xp DESC, m.user_id"#,
            id_to_db(guild),
            fold_name(text),
            i64::from(limit),
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        from_rows(rows)
    }
}

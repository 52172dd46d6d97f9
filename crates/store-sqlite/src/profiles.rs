//! [`ProfileStore`]: how members look in each guild (`member_profiles`), for
//! the web leaderboard.

use async_trait::async_trait;
use keeper_store::{
    MemberProfile, MemberRank, ProfileStore, StoreError, StoreResult, id_from_db, id_to_db,
    profiles::{fold_name, latest},
};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{
    SqliteStore,
    convert::{from_ms, from_rows, to_ms},
    error::db_error,
    xp::{XpRow, ranked},
};

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

#[async_trait]
impl ProfileStore for SqliteStore {
    /// One statement over `json_each`. The `WHERE` of the upsert leaves a row
    /// that says the same untouched (SQLite then counts no change and writes
    /// no page), and never lets an older sighting replace a newer one.
    async fn save_profiles(&self, profiles: &[MemberProfile]) -> StoreResult<u64> {
        if profiles.is_empty() {
            return Ok(0);
        }
        let rows: Vec<_> = latest(profiles)
            .into_iter()
            .map(|p| {
                (
                    id_to_db(p.guild_id),
                    id_to_db(p.user_id),
                    &p.display_name,
                    fold_name(&p.display_name),
                    &p.avatar,
                    to_ms(p.seen_at),
                )
            })
            .collect();
        let json = serde_json::to_string(&rows).map_err(StoreError::internal)?;
        let mut tx = self.begin_write().await?;
        let written = sqlx::query!(
            r#"INSERT INTO member_profiles (guild_id, user_id, display_name, search_name, avatar,
                   seen_at)
               SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4,
                      value ->> 5
               FROM json_each(?1)
               WHERE true -- lets SQLite tell the upsert's ON from a join's
               ON CONFLICT (guild_id, user_id) DO UPDATE SET
                   display_name = excluded.display_name,
                   search_name = excluded.search_name,
                   avatar = excluded.avatar,
                   seen_at = excluded.seen_at
               WHERE (member_profiles.display_name IS NOT excluded.display_name
                      OR member_profiles.avatar IS NOT excluded.avatar)
                 AND member_profiles.seen_at <= excluded.seen_at"#,
            json
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        tx.commit().await.map_err(db_error)?;
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
        let guild_id = id_to_db(guild);
        let ids: Vec<i64> = users.iter().map(|u| id_to_db(*u)).collect();
        let ids = serde_json::to_string(&ids).map_err(StoreError::internal)?;
        let rows = sqlx::query_as!(
            ProfileRow,
            r#"SELECT guild_id, user_id, display_name, avatar, seen_at
               FROM member_profiles
               WHERE guild_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))"#,
            guild_id,
            ids
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    /// The matches are read whole from the guild's profiles (a scan of its
    /// rows: `instr` can use no index), then each one's place counted as
    /// `/rank` counts it, all in one read transaction.
    async fn search_members(
        &self,
        guild: Id<GuildMarker>,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemberRank>> {
        let (guild_id, needle, limit) = (id_to_db(guild), fold_name(text), i64::from(limit));
        let mut tx = self.begin_read().await?;
        let rows = sqlx::query_as!(
            XpRow,
            r#"SELECT m.guild_id, m.user_id, m.xp, m.level, m.messages, m.last_award_at
               FROM member_profiles p
               JOIN member_xp m ON m.guild_id = p.guild_id AND m.user_id = p.user_id
               WHERE p.guild_id = ?1 AND instr(p.search_name, ?2) > 0
               ORDER BY m.xp DESC, m.user_id
               LIMIT ?3"#,
            guild_id,
            needle,
            limit
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            found.push(ranked(&mut tx, row).await?);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(found)
    }
}

//! [`XpStore`]: member XP and levels: awards, manual changes, leaderboard and rank.
//!
//! The stored `level` always equals `levels::level_for_xp(xp)`, and `xp_bucket`
//! equals `levels::xp_bucket(xp)` (the leaderboard index orders by it;
//! `member_xp_buckets` counts each guild's members by it: row triggers count
//! every write but the award flush's bucket moves, which it counts itself, see
//! [`Counting`]).
//! Rust computes both from the totals, in the same transaction as the write;
//! InnoDB writes the leaderboard index only for a row whose bucket changed, so
//! awards that change neither (most of them) write no index and fire no count.
//!
//! MySQL has no `RETURNING`. A command's write reads its row back in its
//! transaction, where the upsert has locked it; the upsert adds to the stored
//! value (`xp = xp + ?`) rather than write a total computed beforehand, so a
//! member created by another writer in between loses nothing. The award flush
//! reads its rows first instead, locking them, and writes the totals it
//! computed: see [`upsert_awards`] for how it stays exact.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    Applied, AwardOutcome, DEFAULT_XP_COOLDOWN_SECS, GatewaySession, LastAward, MemberRank,
    MemberXp, StoreError, StoreResult, XpAward, XpStore, already_written, id_from_db, id_to_db,
    levels::{BucketMove, bucket_count_changes, level_for_xp, xp_bucket},
};
use sqlx::{Connection as _, MySql, MySqlConnection, pool::PoolConnection};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, UserMarker},
};

use crate::{
    MySqlStore,
    convert::{from_ms, from_ms_opt, from_rows, narrow, rank_from_counts, to_ms},
    error::{Stop, db_error, is_duplicate_key, is_overflow, out_of_range, retrying},
    sessions,
};

/// A `member_xp` row as stored.
pub(crate) struct XpRow {
    pub(crate) guild_id: i64,
    pub(crate) user_id: i64,
    pub(crate) xp: i64,
    pub(crate) level: i32,
    pub(crate) messages: i64,
    pub(crate) last_award_at: Option<i64>,
}

impl TryFrom<XpRow> for MemberXp {
    type Error = StoreError;

    fn try_from(r: XpRow) -> StoreResult<Self> {
        Ok(MemberXp {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            xp: r.xp,
            level: narrow(i64::from(r.level), "level")?,
            messages: r.messages,
            last_award_at: from_ms_opt(r.last_award_at)?,
        })
    }
}

/// A member's row with their place on the leaderboard.
pub(crate) struct RankRow {
    pub(crate) guild_id: i64,
    pub(crate) user_id: i64,
    pub(crate) xp: i64,
    pub(crate) level: i32,
    pub(crate) messages: i64,
    pub(crate) last_award_at: Option<i64>,
    /// Members ahead in leaderboard order.
    pub(crate) ahead: i64,
    pub(crate) out_of: i64,
}

impl TryFrom<RankRow> for MemberRank {
    type Error = StoreError;

    fn try_from(r: RankRow) -> StoreResult<Self> {
        let member = XpRow {
            guild_id: r.guild_id,
            user_id: r.user_id,
            xp: r.xp,
            level: r.level,
            messages: r.messages,
            last_award_at: r.last_award_at,
        };
        rank_from_counts(member.try_into()?, r.ahead, r.out_of)
    }
}

/// A member's total after a write, with the level and bucket stored before it
/// (a new member's: level 0 and its total's bucket, which the insert trigger
/// counts). Read back after the write by the commands; the award flush reads
/// the row before and adds the award itself.
#[derive(Clone, Copy)]
struct Upserted {
    guild_id: i64,
    user_id: i64,
    xp: i64,
    old_level: i32,
    stored_bucket: i64,
}

impl Upserted {
    fn outcome(&self) -> StoreResult<AwardOutcome> {
        Ok(AwardOutcome {
            guild_id: id_from_db(self.guild_id)?,
            user_id: id_from_db(self.user_id)?,
            xp: self.xp,
            old_level: narrow(i64::from(self.old_level), "level")?,
            new_level: level_for_xp(self.xp),
        })
    }
}

/// When a member last earned XP, as stored.
struct LastAwardRow {
    guild_id: i64,
    user_id: i64,
    last_award_at: i64,
}

impl TryFrom<LastAwardRow> for LastAward {
    type Error = StoreError;

    fn try_from(r: LastAwardRow) -> StoreResult<Self> {
        Ok(LastAward {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            at: from_ms(r.last_award_at)?,
        })
    }
}

/// Where a leaderboard page lies: the bucket of its first row and how many
/// members are in higher buckets; the highest bucket whose members reach the
/// page's end, and the guild's lowest (all `None` in a guild without members).
struct Seek {
    first: Option<i64>,
    above: Option<i64>,
    last_reached: Option<i64>,
    lowest: Option<i64>,
}

#[async_trait]
impl XpStore for MySqlStore {
    /// Award a batch in one transaction, on a [`Counting`] connection
    /// ([`upsert_awards`]): duplicates summed first, one locking read of the
    /// known members, one update of their totals, levels and buckets, one
    /// insert of the new members, one write of the counts the bucket moves
    /// change, and the gateway checkpoints. A batch InnoDB rolls back (a
    /// deadlock with a command's write), or whose insert met a member another
    /// writer had just inserted, is run again whole.
    async fn award_xp(
        &self,
        batch: &[XpAward],
        checkpoints: &[GatewaySession],
    ) -> StoreResult<Vec<AwardOutcome>> {
        if batch.is_empty() && checkpoints.is_empty() {
            return Ok(Vec::new());
        }
        let members = summed(batch);
        let keys = keys_json(&members);
        let (members, keys) = (&members, keys.as_str());
        let mut outcomes = retrying(|| async move {
            let mut counting = Counting::start(self.pool.acquire().await?).await?;
            let mut tx = counting.begin().await?;
            if already_written(
                checkpoints,
                &sessions::load_all(&mut tx, checkpoints).await?,
            ) {
                tx.commit().await?;
                counting.finish().await?;
                return Ok(Vec::new());
            }
            let written = if members.is_empty() {
                Vec::new()
            } else {
                upsert_awards(&mut tx, members, keys).await?
            };
            sessions::save_all(&mut tx, checkpoints).await?;
            tx.commit().await?;
            counting.finish().await?;
            Ok(written)
        })
        .await?
        .iter()
        .map(Upserted::outcome)
        .collect::<StoreResult<Vec<_>>>()?;
        outcomes.sort_unstable_by_key(|o| (o.guild_id, o.user_id));
        Ok(outcomes)
    }

    /// Half the pool: award batches on separate connections run side by side,
    /// and the other half stays free for commands.
    fn parallel_writes(&self) -> usize {
        (self.pool.options().get_max_connections() as usize / 2).max(1)
    }

    /// Set a member's total, creating the row when needed. Like awards, `at` only
    /// moves `last_award_at` forward.
    async fn set_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        xp: i64,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<AwardOutcome>> {
        let (guild_id, user_id, xp, at_ms) =
            (id_to_db(guild), id_to_db(user), xp.max(0), to_ms(at));
        retrying(|| async move {
            let Some(mut tx) = self.begin_once(once, guild, at).await? else {
                return Ok(Applied::Before);
            };
            sqlx::query!(
                "INSERT INTO member_xp (guild_id, user_id, xp, level, messages, last_award_at)
                 VALUES (?, ?, ?, 0, 0, ?)
                 ON DUPLICATE KEY UPDATE
                     xp = VALUES(xp),
                     last_award_at = GREATEST(COALESCE(last_award_at, VALUES(last_award_at)),
                                              VALUES(last_award_at))",
                guild_id,
                user_id,
                xp,
                at_ms
            )
            .execute(&mut *tx)
            .await?;
            let row = read_one(&mut tx, guild_id, user_id).await?;
            write_derived(&mut tx, std::slice::from_ref(&row)).await?;
            tx.commit().await?;
            Ok(Applied::Now(row.outcome()?))
        })
        .await
    }

    /// Add (or take away) XP; the total never goes below 0.
    async fn add_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        delta: i64,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<AwardOutcome>> {
        let (guild_id, user_id, at_ms) = (id_to_db(guild), id_to_db(user), to_ms(at));
        retrying(|| async move {
            let Some(mut tx) = self.begin_once(once, guild, at).await? else {
                return Ok(Applied::Before);
            };
            // The delta is bound twice: `?` can't be named and reused on MySQL.
            sqlx::query!(
                "INSERT INTO member_xp (guild_id, user_id, xp, level, messages, last_award_at)
                 VALUES (?, ?, GREATEST(?, 0), 0, 0, ?)
                 ON DUPLICATE KEY UPDATE
                     xp = GREATEST(xp + ?, 0),
                     last_award_at = GREATEST(COALESCE(last_award_at, VALUES(last_award_at)),
                                              VALUES(last_award_at))",
                guild_id,
                user_id,
                delta,
                at_ms,
                delta
            )
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_overflow(&e) {
                    Stop::Store(out_of_range("The XP total"))
                } else {
                    Stop::Db(e)
                }
            })?;
            let row = read_one(&mut tx, guild_id, user_id).await?;
            write_derived(&mut tx, std::slice::from_ref(&row)).await?;
            tx.commit().await?;
            Ok(Applied::Now(row.outcome()?))
        })
        .await
    }

    async fn reset_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<bool>> {
        let (guild_id, user_id) = (id_to_db(guild), id_to_db(user));
        retrying(|| async move {
            let Some(mut tx) = self.begin_once(once, guild, at).await? else {
                return Ok(Applied::Before);
            };
            let done = sqlx::query!(
                "DELETE FROM member_xp WHERE guild_id = ? AND user_id = ?",
                guild_id,
                user_id
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Applied::Now(done.rows_affected() > 0))
        })
        .await
    }

    /// One statement; the delete trigger takes each member off its bucket's count.
    async fn reset_guild_xp(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        let guild_id = id_to_db(guild);
        retrying(|| async move {
            let done = sqlx::query!("DELETE FROM member_xp WHERE guild_id = ?", guild_id)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        })
        .await
    }

    /// One page. Its first row is in the highest bucket whose running count
    /// (members of higher buckets plus its own, `member_xp_buckets`) passes the
    /// offset, its last in the highest bucket whose running count reaches the
    /// page's end (or the guild's lowest); only the `member_xp_leaderboard`
    /// index's range between the two is read and sorted by exact XP, so a page
    /// costs its buckets, however deep it is. Both bounds matter on MySQL: with
    /// the upper alone it reads the rest of the guild (no incremental sort),
    /// 140 ms for the top 10 of 100,000 members. `LIMIT` takes no subquery, so
    /// the seek is a statement of its own, in the page's snapshot.
    async fn leaderboard(
        &self,
        guild: Id<GuildMarker>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<MemberXp>> {
        let guild_id = id_to_db(guild);
        let offset = i64::try_from(offset).map_err(|_| out_of_range("The leaderboard page"))?;
        let end = offset.saturating_add(i64::from(limit));
        let limit = i64::from(limit);
        let mut tx = self.begin_read().await?;
        // Each bucket with the members above it: the first is the highest whose
        // members reach past the offset, the last the highest whose members
        // reach the page's end (the lowest when the page runs past the guild).
        let seek = sqlx::query_as!(
            Seek,
            r#"SELECT CAST(MAX(CASE WHEN above + members > ? THEN xp_bucket END) AS SIGNED)
                          AS "first: i64",
                      CAST(MIN(CASE WHEN above + members > ? THEN above END) AS SIGNED)
                          AS "above: i64",
                      CAST(MAX(CASE WHEN above + members >= ? THEN xp_bucket END) AS SIGNED)
                          AS "last_reached: i64",
                      CAST(MIN(xp_bucket) AS SIGNED) AS "lowest: i64"
               FROM (SELECT xp_bucket, members,
                            SUM(members) OVER (ORDER BY xp_bucket DESC) - members AS above
                     FROM member_xp_buckets WHERE guild_id = ?) AS c"#,
            offset,
            offset,
            end,
            guild_id
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        // Past the last member: an empty page.
        let (Some(first), Some(above), Some(lowest)) = (seek.first, seek.above, seek.lowest) else {
            tx.commit().await.map_err(db_error)?;
            return Ok(Vec::new());
        };
        let last = seek.last_reached.unwrap_or(lowest);
        let rows = sqlx::query_as!(
            XpRow,
            "SELECT guild_id, user_id, xp, level, messages, last_award_at
             FROM member_xp FORCE INDEX (member_xp_leaderboard)
             WHERE guild_id = ? AND xp_bucket <= ? AND xp_bucket >= ?
             ORDER BY xp_bucket DESC, xp DESC, user_id
             LIMIT ? OFFSET ?",
            guild_id,
            first,
            last,
            limit,
            offset - above
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        from_rows(rows)
    }

    /// A scan of the whole table (no index on `last_award_at`: every award would
    /// write it), once at start-up.
    async fn cooling_down(
        &self,
        now: DateTime<Utc>,
        margin_secs: i64,
    ) -> StoreResult<Vec<LastAward>> {
        let (now_ms, default_secs) = (to_ms(now), i64::from(DEFAULT_XP_COOLDOWN_SECS));
        let rows = sqlx::query_as!(
            LastAwardRow,
            r#"SELECT m.guild_id, m.user_id, m.last_award_at AS "last_award_at!"
               FROM member_xp m LEFT JOIN guild_settings s ON s.guild_id = m.guild_id
               WHERE m.last_award_at > ? - (COALESCE(s.xp_cooldown_secs, ?) + ?) * 1000"#,
            now_ms,
            default_secs,
            margin_secs,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    async fn leaderboard_len(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        let guild_id = id_to_db(guild);
        let n = sqlx::query_scalar!(
            r#"SELECT CAST(COALESCE(SUM(members), 0) AS SIGNED) AS "n!: i64"
               FROM member_xp_buckets WHERE guild_id = ?"#,
            guild_id
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        narrow(n, "member count")
    }

    /// The member's row, how many are ahead of them (more XP, or as much and a lower
    /// id) and how many there are, from one snapshot so the three agree.
    async fn member_rank(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
    ) -> StoreResult<Option<MemberRank>> {
        // Position: 1 + members ahead in leaderboard order (more XP, or as much XP and
        // a lower user id): those of higher buckets, summed from member_xp_buckets (a
        // row per bucket), then those of the member's own bucket that are ahead, read
        // from that bucket's rows only (through the leaderboard index). One
        // statement, as on PostgreSQL: its subqueries read the one snapshot InnoDB
        // takes per statement, so the counts agree with the row without the
        // transaction (and its three more round trips) this once took. MariaDB reads
        // the member's row first (a primary-key lookup) and plans the subqueries with
        // its bucket and XP as constants.
        let row = sqlx::query_as!(
            RankRow,
            r#"SELECT m.guild_id, m.user_id, m.xp, m.level, m.messages, m.last_award_at,
                  CAST((SELECT COALESCE(SUM(c.members), 0) FROM member_xp_buckets c
                        WHERE c.guild_id = m.guild_id AND c.xp_bucket > m.xp_bucket)
                       + (SELECT COUNT(*) FROM member_xp o FORCE INDEX (member_xp_leaderboard)
                          WHERE o.guild_id = m.guild_id AND o.xp_bucket = m.xp_bucket
                            AND (o.xp > m.xp OR (o.xp = m.xp AND o.user_id < m.user_id)))
                       AS SIGNED) AS "ahead!: i64",
                  CAST((SELECT COALESCE(SUM(c.members), 0) FROM member_xp_buckets c
                        WHERE c.guild_id = m.guild_id) AS SIGNED) AS "out_of!: i64"
             FROM member_xp m WHERE m.guild_id = ? AND m.user_id = ?"#,
            id_to_db(guild),
            id_to_db(user),
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(MemberRank::try_from).transpose()
    }
}

/// The lowest bucket a guild's top `n` members reach: the members of it and
/// every higher bucket (`members` of them) are at least the top `n` (all of
/// the guild when `whole_guild`). `None` for a guild of fewer than `n` members.
pub(crate) struct TopBucket {
    pub(crate) bucket: i64,
    pub(crate) members: i64,
    pub(crate) whole_guild: bool,
}

/// See [`TopBucket`]: from the guild's counts (`member_xp_buckets`), as a
/// leaderboard page finds its buckets.
pub(crate) async fn top_bucket(
    conn: &mut MySqlConnection,
    guild_id: i64,
    n: i64,
) -> StoreResult<Option<TopBucket>> {
    let row = sqlx::query!(
        r#"SELECT CAST(MAX(CASE WHEN above + members >= ? THEN xp_bucket END) AS SIGNED)
                      AS "reached: i64",
                  CAST(MIN(CASE WHEN above + members >= ? THEN above + members END) AS SIGNED)
                      AS "through: i64",
                  CAST(MIN(xp_bucket) AS SIGNED) AS "lowest: i64"
           FROM (SELECT xp_bucket, members,
                        SUM(members) OVER (ORDER BY xp_bucket DESC) - members AS above
                 FROM member_xp_buckets WHERE guild_id = ?) AS c"#,
        n,
        n,
        guild_id
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(row.reached.map(|bucket| TopBucket {
        bucket,
        members: row.through.unwrap_or(n),
        whole_guild: Some(bucket) == row.lowest,
    }))
}

/// The places of several members of one guild, `rows` (read in the snapshot
/// `conn` is in), in their order: what `member_rank` gives each, for a search's
/// matches. `member_rank`'s counts for each of 100 matches took 90 ms in a guild of
/// 100,000: each count of the members ahead in the match's own bucket reads
/// those members' rows for their XP (the leaderboard index holds the bucket
/// only). Here each bucket among the matches is read once, and the buckets
/// above come from one read of the guild's counts.
pub(crate) async fn ranked_together(
    conn: &mut MySqlConnection,
    rows: Vec<XpRow>,
) -> StoreResult<Vec<MemberRank>> {
    let Some(guild_id) = rows.first().map(|r| r.guild_id) else {
        return Ok(Vec::new());
    };
    let counts = sqlx::query!(
        "SELECT xp_bucket, members FROM member_xp_buckets WHERE guild_id = ?",
        guild_id
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    let total: i64 = counts.iter().map(|c| c.members).sum();
    // Per bucket among the rows: the members of the buckets above it, and its
    // own members' (xp, user_id).
    let mut buckets: BTreeMap<i64, (i64, Vec<(i64, i64)>)> = BTreeMap::new();
    for bucket in rows.iter().map(|r| xp_bucket(r.xp)) {
        if buckets.contains_key(&bucket) {
            continue;
        }
        let above = counts
            .iter()
            .filter(|c| c.xp_bucket > bucket)
            .map(|c| c.members)
            .sum();
        let members = sqlx::query!(
            "SELECT xp, user_id FROM member_xp FORCE INDEX (member_xp_leaderboard)
             WHERE guild_id = ? AND xp_bucket = ?",
            guild_id,
            bucket
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|m| (m.xp, m.user_id))
        .collect();
        buckets.insert(bucket, (above, members));
    }
    rows.into_iter()
        .map(|row| {
            let (above, members) = &buckets[&xp_bucket(row.xp)];
            // More XP, or as much and a lower id: the leaderboard's order.
            let beside = members
                .iter()
                .filter(|&&(xp, user)| xp > row.xp || (xp == row.xp && user < row.user_id))
                .count();
            rank_from_counts(row.try_into()?, above + beside as i64, total)
        })
        .collect()
}

/// A pooled connection on which `@keeper_buckets_counted` is set, so that
/// `member_xp`'s update trigger leaves bucket moves to the award flush, which
/// counts them itself in one statement (migration 0020): three statements a
/// crossing member in a trigger cost a flush more than its upsert.
///
/// A session variable outlives transactions, so the connection goes back to
/// the pool only once [`Counting::finish`] has cleared it; dropped before (an
/// error, a flush abandoned at its timeout), it is closed instead, and no other
/// write can ever run with the trigger muted.
struct Counting {
    conn: PoolConnection<MySql>,
    cleared: bool,
}

impl Counting {
    async fn start(conn: PoolConnection<MySql>) -> Result<Self, sqlx::Error> {
        let mut counting = Counting {
            conn,
            cleared: false,
        };
        sqlx::query!("SET @keeper_buckets_counted = 1")
            .execute(&mut *counting.conn)
            .await?;
        Ok(counting)
    }

    async fn begin(&mut self) -> Result<sqlx::Transaction<'_, MySql>, sqlx::Error> {
        self.conn.begin().await
    }

    /// Clear the variable: the connection may serve anyone again.
    async fn finish(mut self) -> Result<(), sqlx::Error> {
        sqlx::query!("SET @keeper_buckets_counted = NULL")
            .execute(&mut *self.conn)
            .await?;
        self.cleared = true;
        Ok(())
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        if !self.cleared {
            self.conn.close_on_drop();
        }
    }
}

/// Add the awards (`members`, summed per member in key order; `keys` their
/// [`keys_json`]), write each member's level and bucket with the total, and count
/// the bucket moves. On a [`Counting`] connection only.
///
/// MySQL has no `RETURNING`, so the rows are read first rather than after: one
/// `SELECT ... FOR UPDATE` locks the batch's known members in key order (the
/// JSON is sorted and drives the join, so two batches lock shared members in
/// the same order) and gives their totals, levels and buckets; Keeper adds the
/// awards and works out the new levels and buckets, and one `UPDATE` writes
/// them all. Each row is found twice (the lock, the write) instead of the three
/// times an upsert, a read-back and a write of the moved levels and buckets
/// took. The members the read did not find are inserted with a plain `INSERT`:
/// at READ COMMITTED (see `connect.rs`) the read locks no gap, so another writer
/// may insert one of them in between; the insert then fails on the key, and
/// the flush runs again whole ([`Stop::Raced`]), reading that row this time.
///
/// A new member's row is counted by the insert trigger. Its award is reported
/// from level 0, so a first award that reaches a level is the level-up it is.
/// A known member who crossed into another bucket is moved between the counts
/// by [`count_moves`], in key order.
async fn upsert_awards(
    conn: &mut MySqlConnection,
    members: &BTreeMap<(i64, i64), Summed>,
    keys: &str,
) -> Result<Vec<Upserted>, Stop> {
    let stored = sqlx::query_as!(
        Upserted,
        "SELECT m.guild_id, m.user_id, m.xp, m.level AS old_level, m.xp_bucket AS stored_bucket
         FROM JSON_TABLE(?, '$[*]' COLUMNS (g BIGINT PATH '$[0]', u BIGINT PATH '$[1]')) AS j
         JOIN member_xp m ON m.guild_id = j.g AND m.user_id = j.u
         FOR UPDATE",
        keys
    )
    .fetch_all(&mut *conn)
    .await?;
    let stored: BTreeMap<(i64, i64), Upserted> = stored
        .into_iter()
        .map(|row| ((row.guild_id, row.user_id), row))
        .collect();
    let (mut known, mut new) = (JsonRows::default(), JsonRows::default());
    let mut rows = Vec::with_capacity(members.len());
    for (&(guild_id, user_id), award) in members {
        let (row, rows_json) = match stored.get(&(guild_id, user_id)) {
            Some(before) => {
                let xp = before
                    .xp
                    .checked_add(award.xp)
                    .ok_or_else(|| out_of_range("The XP total"))?;
                let row = Upserted { xp, ..*before };
                (row, &mut known)
            }
            None => {
                let xp = award.xp;
                let row = Upserted {
                    guild_id,
                    user_id,
                    xp,
                    old_level: 0,
                    stored_bucket: xp_bucket(xp),
                };
                (row, &mut new)
            }
        };
        rows_json.push(format_args!(
            "[{guild_id},{user_id},{},{},{},{},{}]",
            row.xp,
            level_for_xp(row.xp),
            xp_bucket(row.xp),
            award.messages,
            award.at_ms
        ));
        rows.push(row);
    }
    if let Some(json) = known.finish() {
        sqlx::query!(
            "UPDATE member_xp m
             JOIN JSON_TABLE(?, '$[*]' COLUMNS (
                      g BIGINT PATH '$[0]', u BIGINT PATH '$[1]', x BIGINT PATH '$[2]',
                      l INT PATH '$[3]', b BIGINT PATH '$[4]', n BIGINT PATH '$[5]',
                      at BIGINT PATH '$[6]')) AS j
               ON m.guild_id = j.g AND m.user_id = j.u
             SET m.xp = j.x, m.level = j.l, m.xp_bucket = j.b,
                 m.messages = m.messages + j.n,
                 m.last_award_at = GREATEST(COALESCE(m.last_award_at, j.at), j.at)",
            json
        )
        .execute(&mut *conn)
        .await?;
    }
    if let Some(json) = new.finish() {
        sqlx::query!(
            "INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages,
                                    last_award_at)
             SELECT j.g, j.u, j.x, j.l, j.b, j.n, j.at
             FROM JSON_TABLE(?, '$[*]' COLUMNS (
                      g BIGINT PATH '$[0]', u BIGINT PATH '$[1]', x BIGINT PATH '$[2]',
                      l INT PATH '$[3]', b BIGINT PATH '$[4]', n BIGINT PATH '$[5]',
                      at BIGINT PATH '$[6]')) AS j",
            json
        )
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_duplicate_key(&e) {
                Stop::Raced(e)
            } else {
                Stop::Db(e)
            }
        })?;
    }
    count_moves(conn, &rows).await?;
    Ok(rows)
}

/// A JSON array of rows built one row at a time; all integers, so no escaping.
#[derive(Default)]
struct JsonRows(String);

impl JsonRows {
    fn push(&mut self, row: std::fmt::Arguments<'_>) {
        use std::fmt::Write as _;
        self.0.push(if self.0.is_empty() { '[' } else { ',' });
        // Writing to a String cannot fail.
        let _ = self.0.write_fmt(row);
    }

    /// The array, or `None` when no row was pushed.
    fn finish(self) -> Option<String> {
        let mut json = self.0;
        if json.is_empty() {
            return None;
        }
        json.push(']');
        Some(json)
    }
}

/// Count the bucket moves of an award's rows (with the bucket they were
/// counted in, now written as their total's): one upsert of the changed
/// counts in key order, then the counts it left at 0 deleted.
async fn count_moves(conn: &mut MySqlConnection, rows: &[Upserted]) -> Result<(), Stop> {
    let changes = bucket_count_changes(rows.iter().map(|r| BucketMove {
        guild_id: r.guild_id,
        from: Some(r.stored_bucket),
        to: xp_bucket(r.xp),
    }));
    let mut rows_json = JsonRows::default();
    for (guild, bucket, change) in &changes {
        rows_json.push(format_args!("[{guild},{bucket},{change}]"));
    }
    let Some(json) = rows_json.finish() else {
        return Ok(());
    };
    sqlx::query!(
        "INSERT INTO member_xp_buckets (guild_id, xp_bucket, members)
         SELECT j.g, j.b, j.n
         FROM JSON_TABLE(?, '$[*]' COLUMNS (
                  g BIGINT PATH '$[0]', b BIGINT PATH '$[1]', n BIGINT PATH '$[2]')) AS j
         ON DUPLICATE KEY UPDATE members = members + VALUES(members)",
        json
    )
    .execute(&mut *conn)
    .await?;
    if changes.iter().any(|&(_, _, change)| change < 0) {
        sqlx::query!(
            "DELETE c FROM member_xp_buckets c
             JOIN JSON_TABLE(?, '$[*]' COLUMNS (
                      g BIGINT PATH '$[0]', b BIGINT PATH '$[1]', n BIGINT PATH '$[2]')) AS j
               ON c.guild_id = j.g AND c.xp_bucket = j.b
             WHERE j.n < 0 AND c.members = 0",
            json
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A member's awards in a batch, summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Summed {
    xp: i64,
    messages: i64,
    /// The latest award's time.
    at_ms: i64,
}

/// The batch with each member's awards summed, in key order.
fn summed(batch: &[XpAward]) -> BTreeMap<(i64, i64), Summed> {
    let mut members: BTreeMap<(i64, i64), Summed> = BTreeMap::new();
    for a in batch {
        let key = (id_to_db(a.guild_id), id_to_db(a.user_id));
        let at_ms = to_ms(a.at);
        let entry = members.entry(key).or_insert(Summed {
            xp: 0,
            messages: 0,
            at_ms,
        });
        entry.xp = entry.xp.saturating_add(a.xp);
        entry.messages = entry.messages.saturating_add(a.messages);
        entry.at_ms = entry.at_ms.max(at_ms);
    }
    members
}

/// `[[guild, user], ...]`: the batch's members, in key order.
fn keys_json(members: &BTreeMap<(i64, i64), Summed>) -> String {
    let mut json = JsonRows::default();
    for (guild, user) in members.keys() {
        json.push(format_args!("[{guild},{user}]"));
    }
    json.finish().unwrap_or_else(|| "[]".to_owned())
}

/// A member's total and stored level and bucket, read after its upsert (which
/// locked the row).
async fn read_one(
    conn: &mut MySqlConnection,
    guild_id: i64,
    user_id: i64,
) -> Result<Upserted, Stop> {
    Ok(sqlx::query_as!(
        Upserted,
        "SELECT guild_id, user_id, xp, level AS old_level, xp_bucket AS stored_bucket
         FROM member_xp WHERE guild_id = ? AND user_id = ?",
        guild_id,
        user_id
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Store the level and bucket of every member where either differs from what
/// their total makes them (one statement; usually few rows: the levels that
/// went up). The update trigger moves a member whose bucket changed between the
/// counts, except on the award flush's [`Counting`] connection, which counts
/// them itself ([`count_moves`]).
async fn write_derived(conn: &mut MySqlConnection, rows: &[Upserted]) -> Result<(), Stop> {
    let mut changed = JsonRows::default();
    for row in rows {
        let (level, bucket) = (level_for_xp(row.xp), xp_bucket(row.xp));
        if i64::from(level) == i64::from(row.old_level) && bucket == row.stored_bucket {
            continue;
        }
        changed.push(format_args!(
            "[{},{},{level},{bucket}]",
            row.guild_id, row.user_id
        ));
    }
    let Some(json) = changed.finish() else {
        return Ok(());
    };
    sqlx::query!(
        "UPDATE member_xp m
         JOIN JSON_TABLE(?, '$[*]' COLUMNS (
                  g BIGINT PATH '$[0]', u BIGINT PATH '$[1]',
                  l INT PATH '$[2]', b BIGINT PATH '$[3]')) AS j
           ON m.guild_id = j.g AND m.user_id = j.u
         SET m.level = j.l, m.xp_bucket = j.b",
        json
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn award(guild: u64, user: u64, xp: i64, at_ms: i64) -> XpAward {
        XpAward {
            guild_id: Id::new(guild),
            user_id: Id::new(user),
            xp,
            messages: 1,
            at: DateTime::from_timestamp_millis(at_ms).unwrap(),
        }
    }

    #[test]
    fn a_batch_is_summed_per_member_in_key_order() {
        let batch = [award(2, 1, 10, 5), award(1, 9, 20, 7), award(2, 1, 15, 3)];
        let members = summed(&batch);
        assert_eq!(
            members.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>(),
            [
                (
                    (1, 9),
                    Summed {
                        xp: 20,
                        messages: 1,
                        at_ms: 7
                    }
                ),
                (
                    (2, 1),
                    Summed {
                        xp: 25,
                        messages: 2,
                        at_ms: 5
                    }
                ),
            ]
        );
        assert_eq!(keys_json(&members), "[[1,9],[2,1]]");
        assert_eq!(keys_json(&BTreeMap::new()), "[]");
    }
}

//! [`XpStore`]: member XP and levels: batched awards, moderator changes, leaderboards.
//!
//! The stored `level` always equals `level_for_xp(xp)`, and `xp_bucket` equals
//! `xp_bucket(xp)` (the leaderboard index orders by it, migrations 0003 and 0014;
//! `member_xp_buckets` counts each guild's members by it, kept by the award flush
//! itself and by triggers for every other write, 0019). The
//! bucket is computed by the upsert itself, in SQL (`member_xp_bucket`, 0015, the
//! same function as Rust's), so an award writes one row version even when it
//! crosses a bucket. The level curve lives in Rust (`keeper_store::levels`): every
//! write reads back the new total with the level as it was and writes the levels
//! that changed in the same transaction. An award that changes neither (most of
//! them) changes no indexed column, so PostgreSQL updates the row in place (HOT).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    Applied, AwardOutcome, DEFAULT_XP_COOLDOWN_SECS, GatewaySession, LastAward, MemberRank,
    MemberXp, StoreError, StoreResult, XpAward, XpStore, already_written, id_from_db, id_to_db,
    levels::{XpChange, bucket_moves, level_for_xp},
};
use sqlx::{PgConnection, Postgres, Transaction};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, UserMarker},
};

use crate::{
    PgStore,
    convert::{from_rows, narrow, rank_from_counts},
    error::{db_error, is_overflow, out_of_range},
    sessions,
};

/// A `member_xp` row as stored.
pub(crate) struct XpRow {
    pub(crate) guild_id: i64,
    pub(crate) user_id: i64,
    pub(crate) xp: i64,
    pub(crate) level: i32,
    pub(crate) messages: i64,
    pub(crate) last_award_at: Option<DateTime<Utc>>,
}

impl TryFrom<XpRow> for MemberXp {
    type Error = StoreError;

    fn try_from(r: XpRow) -> StoreResult<Self> {
        Ok(MemberXp {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            xp: r.xp,
            level: r.level,
            messages: r.messages,
            last_award_at: r.last_award_at,
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
    pub(crate) last_award_at: Option<DateTime<Utc>>,
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

/// A member's total after an upsert (which wrote its bucket too, 0015), with the
/// level stored before it.
struct Upserted {
    guild_id: i64,
    user_id: i64,
    xp: i64,
    old_level: i32,
}

/// A row of the award flush's upsert: [`Upserted`], and whether it created the
/// member, for the bucket counts the flush writes itself (0019).
struct Awarded {
    guild_id: i64,
    user_id: i64,
    xp: i64,
    old_level: i32,
    inserted: bool,
}

impl From<&Awarded> for Upserted {
    fn from(a: &Awarded) -> Self {
        Upserted {
            guild_id: a.guild_id,
            user_id: a.user_id,
            xp: a.xp,
            old_level: a.old_level,
        }
    }
}

impl Upserted {
    fn outcome(&self) -> StoreResult<AwardOutcome> {
        Ok(AwardOutcome {
            guild_id: id_from_db(self.guild_id)?,
            user_id: id_from_db(self.user_id)?,
            xp: self.xp,
            old_level: self.old_level,
            new_level: level_for_xp(self.xp),
        })
    }
}

/// When a member last earned XP, as stored.
struct LastAwardRow {
    guild_id: i64,
    user_id: i64,
    last_award_at: DateTime<Utc>,
}

impl TryFrom<LastAwardRow> for LastAward {
    type Error = StoreError;

    fn try_from(r: LastAwardRow) -> StoreResult<Self> {
        Ok(LastAward {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            at: r.last_award_at,
        })
    }
}

#[async_trait]
impl XpStore for PgStore {
    /// Award a batch: one upsert for every row (duplicates summed by `GROUP BY`, rows
    /// locked in key order by `ORDER BY` so concurrent batches can't deadlock), one
    /// update for the levels that changed, and the gateway checkpoints, in one
    /// transaction.
    async fn award_xp(
        &self,
        batch: &[XpAward],
        checkpoints: &[GatewaySession],
    ) -> StoreResult<Vec<AwardOutcome>> {
        if batch.is_empty() && checkpoints.is_empty() {
            return Ok(Vec::new());
        }
        let mut guilds = Vec::with_capacity(batch.len());
        let mut users = Vec::with_capacity(batch.len());
        let mut xps = Vec::with_capacity(batch.len());
        let mut messages = Vec::with_capacity(batch.len());
        let mut ats = Vec::with_capacity(batch.len());
        for award in batch {
            guilds.push(id_to_db(award.guild_id));
            users.push(id_to_db(award.user_id));
            xps.push(award.xp);
            messages.push(award.messages);
            ats.push(award.at);
        }

        let mut tx = self.begin_write().await?;
        if already_written(
            checkpoints,
            &sessions::load_all(&mut tx, checkpoints).await?,
        ) {
            return Ok(Vec::new());
        }
        let written = if batch.is_empty() {
            Vec::new()
        } else {
            // This transaction writes its own bucket counts (0019): the count
            // triggers skip it, so PostgreSQL copies no awarded row for them.
            counting_buckets(&mut tx).await?;
            // In RETURNING, `member_xp.level` is the row after the upsert; the upsert
            // doesn't touch `level`, so it is as before this batch (0 for a new
            // member). The bucket is written here with the XP, in one row version
            // (0015); awards only add, so a total still under the next bucket's
            // floor keeps its bucket, which three multiplications tell (most
            // awards), and only a crossing computes the cube root. SUM over int8
            // is numeric, hence the casts back. `xmax = 0` tells a row this
            // statement inserted from one it updated (which this transaction has
            // locked, so its xmax is set).
            let awarded = sqlx::query_as!(
                Awarded,
                r#"INSERT INTO member_xp AS m (guild_id, user_id, xp, xp_bucket, messages, last_award_at)
               SELECT g, u, SUM(x)::int8, member_xp_bucket(SUM(x)::int8), SUM(n)::int8, MAX(at)
               FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::timestamptz[])
                    AS a(g, u, x, n, at)
               GROUP BY g, u
               ORDER BY g, u
               ON CONFLICT (guild_id, user_id) DO UPDATE SET
                   xp = m.xp + excluded.xp,
                   xp_bucket = CASE
                       WHEN 64 * LEAST(m.xp + excluded.xp, 1099511627776)
                            < (m.xp_bucket + 1) * (m.xp_bucket + 1) * (m.xp_bucket + 1)
                       THEN m.xp_bucket
                       ELSE member_xp_bucket(m.xp + excluded.xp) END,
                   messages = m.messages + excluded.messages,
                   last_award_at = GREATEST(m.last_award_at, excluded.last_award_at)
               RETURNING guild_id, user_id, xp, level AS old_level, xmax = 0 AS "inserted!""#,
                &guilds,
                &users,
                &xps,
                &messages,
                &ats,
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            count_awards(&mut tx, batch, &awarded).await?;
            awarded.iter().map(Upserted::from).collect()
        };
        write_derived(&mut tx, &written).await?;
        sessions::save_all(&mut tx, checkpoints).await?;
        tx.commit().await.map_err(db_error)?;
        written.iter().map(Upserted::outcome).collect()
    }

    /// Half the pool: award batches on separate connections run side by side
    /// (1.5x the rows/s with four at once, BENCHMARKS.md), and the other half
    /// stays free for commands.
    fn parallel_writes(&self) -> usize {
        (self.pool.options().get_max_connections() as usize / 2).max(1)
    }

    async fn set_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        xp: i64,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<AwardOutcome>> {
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        let written = sqlx::query_as!(
            Upserted,
            r#"INSERT INTO member_xp AS m (guild_id, user_id, xp, xp_bucket, last_award_at)
           VALUES ($1, $2, GREATEST($3::int8, 0), member_xp_bucket($3::int8), $4)
           ON CONFLICT (guild_id, user_id) DO UPDATE SET
               xp = excluded.xp,
               xp_bucket = excluded.xp_bucket,
               last_award_at = GREATEST(m.last_award_at, excluded.last_award_at)
           RETURNING guild_id, user_id, xp, level AS old_level"#,
            id_to_db(guild),
            id_to_db(user),
            xp,
            at,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        finish_one(tx, written).await.map(Applied::Now)
    }

    async fn add_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        delta: i64,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<AwardOutcome>> {
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        // `excluded.xp` is already clamped, so the delta is added from `$3` itself.
        let written = sqlx::query_as!(
            Upserted,
            r#"INSERT INTO member_xp AS m (guild_id, user_id, xp, xp_bucket, last_award_at)
           VALUES ($1, $2, GREATEST($3::int8, 0), member_xp_bucket($3::int8), $4)
           ON CONFLICT (guild_id, user_id) DO UPDATE SET
               xp = GREATEST(m.xp + $3::int8, 0),
               xp_bucket = member_xp_bucket(m.xp + $3::int8),
               last_award_at = GREATEST(m.last_award_at, excluded.last_award_at)
           RETURNING guild_id, user_id, xp, level AS old_level"#,
            id_to_db(guild),
            id_to_db(user),
            delta,
            at,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_overflow(&e) {
                out_of_range("The XP total")
            } else {
                db_error(e)
            }
        })?;
        finish_one(tx, written).await.map(Applied::Now)
    }

    async fn reset_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<bool>> {
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        let done = sqlx::query!(
            "DELETE FROM member_xp WHERE guild_id = $1 AND user_id = $2",
            id_to_db(guild),
            id_to_db(user),
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(done.rows_affected() > 0))
    }

    async fn reset_guild_xp(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        let mut work = self.work().await?;
        let done = sqlx::query!("DELETE FROM member_xp WHERE guild_id = $1", id_to_db(guild))
            .execute(&mut *work)
            .await
            .map_err(db_error)?;
        work.done().await?;
        Ok(done.rows_affected())
    }

    async fn leaderboard(
        &self,
        guild: Id<GuildMarker>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<MemberXp>> {
        // The page's first row is in the highest bucket whose running count (members
        // of higher buckets plus its own, member_xp_buckets) passes the offset. From
        // that bucket down, the index (guild_id, xp_bucket DESC) is read in order and
        // each bucket sorted by exact XP (an incremental sort), so a page costs its
        // bucket and the next ones it reaches into, however deep it is. Both in one
        // statement, so the counts and the rows are of one snapshot.
        let offset = i64::try_from(offset).map_err(|_| out_of_range("The leaderboard page"))?;
        let mut work = self.work().await?;
        let rows = sqlx::query_as!(
            XpRow,
            "WITH seek AS (
             SELECT xp_bucket, above FROM (
                 SELECT xp_bucket, members,
                        (SUM(members) OVER (ORDER BY xp_bucket DESC))::int8 - members AS above
                 FROM member_xp_buckets WHERE guild_id = $1) AS c
             WHERE above + members > $3::int8
             ORDER BY xp_bucket DESC LIMIT 1)
         SELECT guild_id, user_id, xp, level, messages, last_award_at
         FROM member_xp
         WHERE guild_id = $1 AND xp_bucket <= (SELECT xp_bucket FROM seek)
         ORDER BY xp_bucket DESC, xp DESC, user_id
         LIMIT $2 OFFSET (SELECT $3::int8 - above FROM seek)",
            id_to_db(guild),
            i64::from(limit),
            offset,
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        from_rows(rows)
    }

    /// A scan of the whole table (no index on `last_award_at`: every award would
    /// write it), once at start-up.
    async fn cooling_down(
        &self,
        now: DateTime<Utc>,
        margin_secs: i64,
    ) -> StoreResult<Vec<LastAward>> {
        let mut work = self.work().await?;
        let rows = sqlx::query_as!(
            LastAwardRow,
            r#"SELECT m.guild_id, m.user_id, m.last_award_at AS "last_award_at!"
           FROM member_xp m LEFT JOIN guild_settings s ON s.guild_id = m.guild_id
           WHERE m.last_award_at > $1::timestamptz
               - make_interval(secs => (coalesce(s.xp_cooldown_secs, $2::int4) + $3::int8)::float8)"#,
            now,
            DEFAULT_XP_COOLDOWN_SECS,
            margin_secs,
        )
        .fetch_all(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        from_rows(rows)
    }

    async fn leaderboard_len(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        let mut work = self.work().await?;
        let n = sqlx::query_scalar!(
            r#"SELECT COALESCE(SUM(members), 0)::int8 AS "n!" FROM member_xp_buckets
               WHERE guild_id = $1"#,
            id_to_db(guild),
        )
        .fetch_one(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        narrow(n, "member count")
    }

    async fn member_rank(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
    ) -> StoreResult<Option<MemberRank>> {
        // Position: 1 + members ahead in leaderboard order (more XP, or as much XP and
        // a lower user id): those of higher buckets, summed from member_xp_buckets (a
        // row per bucket), then those of the member's own bucket that are ahead, read
        // from that bucket's rows only. One statement: the counts and the rows are of
        // one snapshot, and every transaction keeps them in step (0019).
        let mut work = self.work().await?;
        let row = sqlx::query_as!(
            RankRow,
            r#"SELECT m.guild_id, m.user_id, m.xp, m.level, m.messages, m.last_award_at,
                  (SELECT COALESCE(SUM(c.members), 0)::int8 FROM member_xp_buckets c
                   WHERE c.guild_id = $1 AND c.xp_bucket > m.xp_bucket)
                  + (SELECT COUNT(*) FROM member_xp o
                     WHERE o.guild_id = $1 AND o.xp_bucket = m.xp_bucket
                       AND (o.xp > m.xp OR (o.xp = m.xp AND o.user_id < m.user_id))) AS "ahead!",
                  (SELECT COALESCE(SUM(c.members), 0)::int8 FROM member_xp_buckets c
                   WHERE c.guild_id = $1) AS "out_of!"
           FROM member_xp m WHERE m.guild_id = $1 AND m.user_id = $2"#,
            id_to_db(guild),
            id_to_db(user),
        )
        .fetch_optional(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        row.map(MemberRank::try_from).transpose()
    }
}

/// Tell the count triggers of `member_xp` (0019) that this transaction writes
/// `member_xp_buckets` itself, for every change it makes to `member_xp` from here
/// on: by [`write_bucket_moves`] or [`recount_buckets`].
pub(crate) async fn counting_buckets(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query_scalar!("SELECT set_config('keeper.buckets_counted', 'on', true)")
        .fetch_one(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Count these guilds' members by bucket again, from `member_xp` as this
/// transaction sees it: for one that changed many of them ([`counting_buckets`]).
///
/// The table lock waits for the transactions writing counts now and holds off new
/// ones until this one commits, so every count is either in the recount (its
/// members' rows were committed) or written after it, on top of it (a flush whose
/// rows weren't). Only an import takes it, for the last moments of its
/// transaction.
pub(crate) async fn recount_buckets(conn: &mut PgConnection, guild_ids: &[i64]) -> StoreResult<()> {
    sqlx::query!("LOCK TABLE member_xp_buckets IN SHARE MODE")
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    sqlx::query!(
        "DELETE FROM member_xp_buckets WHERE guild_id = ANY($1)",
        guild_ids
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    sqlx::query!(
        "INSERT INTO member_xp_buckets (guild_id, xp_bucket, members)
         SELECT guild_id, xp_bucket, COUNT(*) FROM member_xp WHERE guild_id = ANY($1)
         GROUP BY guild_id, xp_bucket ORDER BY guild_id, xp_bucket",
        guild_ids
    )
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Write the bucket counts an award flush changed (0019): its new members, and the
/// members whose total crossed into another bucket, found from each total before
/// (after, less the batch's awards to that member) and after. One upsert in key
/// order, after every member row is written, then the buckets it emptied.
async fn count_awards(
    conn: &mut PgConnection,
    batch: &[XpAward],
    awarded: &[Awarded],
) -> StoreResult<()> {
    let mut awards = std::collections::HashMap::<(i64, i64), i64>::with_capacity(awarded.len());
    for a in batch {
        *awards
            .entry((id_to_db(a.guild_id), id_to_db(a.user_id)))
            .or_default() += a.xp;
    }
    let moves =
        bucket_moves(awarded.iter().map(|a| {
            XpChange {
                guild_id: a.guild_id,
                before: (!a.inserted)
                    .then(|| a.xp - awards.get(&(a.guild_id, a.user_id)).copied().unwrap_or(0)),
                after: a.xp,
            }
        }));
    write_bucket_moves(conn, &moves).await
}

/// Add `(guild, bucket, change)` to `member_xp_buckets` in the given (key) order, and
/// delete the rows left at 0, which stay locked by this transaction in between.
async fn write_bucket_moves(conn: &mut PgConnection, moves: &[(i64, i64, i64)]) -> StoreResult<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let guilds: Vec<i64> = moves.iter().map(|m| m.0).collect();
    let buckets: Vec<i64> = moves.iter().map(|m| m.1).collect();
    let changes: Vec<i64> = moves.iter().map(|m| m.2).collect();
    let emptied = sqlx::query!(
        r#"WITH counted AS (
               INSERT INTO member_xp_buckets AS c (guild_id, xp_bucket, members)
               SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int8[]) AS d(g, b, n)
               ORDER BY g, b
               ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = c.members + excluded.members
               RETURNING c.guild_id, c.xp_bucket, c.members)
           SELECT guild_id AS "guild_id!", xp_bucket AS "xp_bucket!" FROM counted WHERE members = 0"#,
        &guilds,
        &buckets,
        &changes,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    if emptied.is_empty() {
        return Ok(());
    }
    let guilds: Vec<i64> = emptied.iter().map(|e| e.guild_id).collect();
    let buckets: Vec<i64> = emptied.iter().map(|e| e.xp_bucket).collect();
    sqlx::query!(
        "DELETE FROM member_xp_buckets AS c
         USING UNNEST($1::int8[], $2::int8[]) AS e(g, b)
         WHERE c.guild_id = e.g AND c.xp_bucket = e.b AND c.members = 0",
        &guilds,
        &buckets,
    )
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Store the new level of every member whose level changed, in one statement
/// (level-ups: few rows). The upsert already wrote the bucket (0015); SQLite's
/// `write_derived` writes both.
async fn write_derived(conn: &mut PgConnection, written: &[Upserted]) -> StoreResult<()> {
    let mut guilds = Vec::new();
    let mut users = Vec::new();
    let mut levels = Vec::new();
    for w in written {
        let level = level_for_xp(w.xp);
        if level != w.old_level {
            guilds.push(w.guild_id);
            users.push(w.user_id);
            levels.push(level);
        }
    }
    if levels.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE member_xp AS m SET level = c.level
         FROM UNNEST($1::int8[], $2::int8[], $3::int4[]) AS c(g, u, level)
         WHERE m.guild_id = c.g AND m.user_id = c.u",
        &guilds,
        &users,
        &levels,
    )
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Write back the level of a single-member change and commit.
async fn finish_one(
    mut tx: Transaction<'static, Postgres>,
    written: Upserted,
) -> StoreResult<AwardOutcome> {
    write_derived(&mut tx, std::slice::from_ref(&written)).await?;
    tx.commit().await.map_err(db_error)?;
    written.outcome()
}

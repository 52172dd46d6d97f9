//! [`XpStore`]: member XP and levels: awards, manual changes, leaderboard and rank.
//!
//! The stored `level` always equals `levels::level_for_xp(xp)`, and `xp_bucket`
//! equals `levels::xp_bucket(xp)` (the leaderboard index orders by it, migrations
//! 0003 and 0014; `member_xp_buckets` counts each guild's members by it, kept by
//! triggers). SQL adds the XP; Rust computes both from the returned totals and writes
//! back those that changed, in the same transaction. Awards that change neither
//! (most of them) write no index.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    Applied, AwardOutcome, DEFAULT_XP_COOLDOWN_SECS, GatewaySession, LastAward, MemberRank,
    MemberXp, StoreError, StoreResult, XpAward, XpStore, already_written, id_from_db, id_to_db,
    levels::{level_for_xp, xp_bucket},
};
use sqlx::{Sqlite, Transaction};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker, UserMarker},
};

use crate::{
    SqliteStore,
    convert::{from_ms, from_ms_opt, from_rows, narrow, rank_from_counts, to_ms},
    error::{db_error, is_overflow, out_of_range},
    sessions,
};

/// A `member_xp` row as stored.
pub(crate) struct XpRow {
    pub(crate) guild_id: i64,
    pub(crate) user_id: i64,
    pub(crate) xp: i64,
    pub(crate) level: i64,
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
            level: narrow(r.level, "level")?,
            messages: r.messages,
            last_award_at: from_ms_opt(r.last_award_at)?,
        })
    }
}

/// A member's total after an upsert, with the level and bucket stored before it.
struct Upserted {
    guild_id: i64,
    user_id: i64,
    xp: i64,
    old_level: i64,
    old_bucket: i64,
}

impl Upserted {
    fn outcome(&self) -> StoreResult<AwardOutcome> {
        Ok(AwardOutcome {
            guild_id: id_from_db(self.guild_id)?,
            user_id: id_from_db(self.user_id)?,
            xp: self.xp,
            old_level: narrow(self.old_level, "level")?,
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

#[async_trait]
impl XpStore for SqliteStore {
    /// Add a batch: at most [`PART_MEMBERS`] members in one transaction, more in
    /// parts of that size, so that a command waiting for SQLite's one writer
    /// waits for one part at most (`begin_write` queues fairly). A batch in parts is staged
    /// first: its parts and the checkpoints in one short transaction, then each
    /// part applied and deleted in a transaction of its own. A crash between
    /// parts leaves the rest staged, applied at the next flush or start-up,
    /// never twice and never lost (the checkpoints went with the staging, so
    /// Discord does not replay those messages).
    ///
    /// Parts left staged by an earlier call go first; their level-ups are
    /// returned with this batch's. Once the batch is staged, it counts as
    /// written: a part that fails is logged and left for the next call.
    async fn award_xp(
        &self,
        batch: &[XpAward],
        checkpoints: &[GatewaySession],
    ) -> StoreResult<Vec<AwardOutcome>> {
        let mut outcomes = self.apply_staged().await?;
        if batch.len() > PART_MEMBERS {
            self.stage(batch, checkpoints).await?;
            match self.apply_staged().await {
                Ok(applied) => outcomes.extend(applied),
                Err(err) => tracing::warn!(error = %err,
                    "an XP part could not be written; it stays staged for the next flush"),
            }
        } else if !batch.is_empty() || !checkpoints.is_empty() {
            let mut tx = self.begin_write().await?;
            if !already_written(
                checkpoints,
                &sessions::load_all(&mut tx, checkpoints).await?,
            ) {
                outcomes.extend(upsert_awards(&mut tx, awards_json(batch.iter())).await?);
                sessions::save_all(&mut tx, checkpoints).await?;
                tx.commit().await.map_err(db_error)?;
            }
        }
        outcomes.sort_unstable_by_key(|o| (o.guild_id, o.user_id));
        Ok(outcomes)
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
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        let rows = sqlx::query_as!(
            Upserted,
            r#"INSERT INTO member_xp (guild_id, user_id, xp, level, messages, last_award_at)
           VALUES (?1, ?2, ?3, 0, 0, ?4)
           ON CONFLICT (guild_id, user_id) DO UPDATE SET
               xp = excluded.xp,
               last_award_at = max(coalesce(member_xp.last_award_at, excluded.last_award_at),
                                   excluded.last_award_at)
           RETURNING guild_id AS "guild_id!: i64", user_id AS "user_id!: i64",
                     xp AS "xp!: i64", level AS "old_level!: i64",
                     xp_bucket AS "old_bucket!: i64""#,
            guild_id,
            user_id,
            xp,
            at_ms
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        finish_one(tx, rows).await.map(Applied::Now)
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
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        let rows = sqlx::query_as!(
            Upserted,
            r#"INSERT INTO member_xp (guild_id, user_id, xp, level, messages, last_award_at)
           VALUES (?1, ?2, max(?3, 0), 0, 0, ?4)
           ON CONFLICT (guild_id, user_id) DO UPDATE SET
               xp = max(member_xp.xp + ?3, 0),
               last_award_at = max(coalesce(member_xp.last_award_at, excluded.last_award_at),
                                   excluded.last_award_at)
           RETURNING guild_id AS "guild_id!: i64", user_id AS "user_id!: i64",
                     xp AS "xp!: i64", level AS "old_level!: i64",
                     xp_bucket AS "old_bucket!: i64""#,
            guild_id,
            user_id,
            delta,
            at_ms
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| {
            if is_overflow(&e) {
                out_of_range("The XP total")
            } else {
                db_error(e)
            }
        })?;
        finish_one(tx, rows).await.map(Applied::Now)
    }

    async fn reset_xp(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        at: DateTime<Utc>,
        once: Option<Id<InteractionMarker>>,
    ) -> StoreResult<Applied<bool>> {
        let (guild_id, user_id) = (id_to_db(guild), id_to_db(user));
        let Some(mut tx) = self.begin_once(once, guild, at).await? else {
            return Ok(Applied::Before);
        };
        let done = sqlx::query!(
            "DELETE FROM member_xp WHERE guild_id = ?1 AND user_id = ?2",
            guild_id,
            user_id
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Applied::Now(done.rows_affected() > 0))
    }

    async fn reset_guild_xp(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        let guild_id = id_to_db(guild);
        let done = sqlx::query!("DELETE FROM member_xp WHERE guild_id = ?1", guild_id)
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    /// One page. Its first row is in the highest bucket whose running count
    /// (members of higher buckets plus its own, `member_xp_buckets`) passes the
    /// offset; from there the `member_xp_leaderboard` index (guild_id, xp_bucket
    /// DESC) is walked and each bucket sorted by exact XP, so a page costs its bucket
    /// and the next ones it reaches into, however deep it is.
    async fn leaderboard(
        &self,
        guild: Id<GuildMarker>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<MemberXp>> {
        let guild_id = id_to_db(guild);
        let offset = i64::try_from(offset).map_err(|_| out_of_range("The leaderboard page"))?;
        let limit = i64::from(limit);
        let rows = sqlx::query_as!(
            XpRow,
            // `xp_bucket` first, so SQLite walks the index and sorts only within
            // buckets (its plan: "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"). The
            // index is named: left to itself, SQLite 3.50 read the guild's whole range
            // of the table and sorted it (8.9 ms for the top 10 of 100,000 members).
            // One statement, so the counts and the rows are of one snapshot.
            r#"WITH seek AS (
               SELECT xp_bucket, above FROM (
                   SELECT xp_bucket, members,
                          SUM(members) OVER (ORDER BY xp_bucket DESC) - members AS above
                   FROM member_xp_buckets WHERE guild_id = ?1)
               WHERE above + members > ?3
               ORDER BY xp_bucket DESC LIMIT 1)
           SELECT guild_id AS "guild_id!", user_id AS "user_id!", xp AS "xp!",
                  level AS "level!", messages AS "messages!", last_award_at
           FROM member_xp INDEXED BY member_xp_leaderboard
           WHERE guild_id = ?1 AND xp_bucket <= (SELECT xp_bucket FROM seek)
           ORDER BY xp_bucket DESC, xp DESC, user_id
           LIMIT ?2 OFFSET coalesce((SELECT ?3 - above FROM seek), 0)"#,
            guild_id,
            limit,
            offset
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
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
            r#"SELECT m.guild_id, m.user_id, m.last_award_at AS "last_award_at!: i64"
           FROM member_xp m LEFT JOIN guild_settings s ON s.guild_id = m.guild_id
           WHERE m.last_award_at > ?1 - (coalesce(s.xp_cooldown_secs, ?2) + ?3) * 1000"#,
            now_ms,
            default_secs,
            margin_secs,
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        from_rows(rows)
    }

    async fn leaderboard_len(&self, guild: Id<GuildMarker>) -> StoreResult<u64> {
        let guild_id = id_to_db(guild);
        let counts = sqlx::query_scalar!(
            r#"SELECT coalesce(SUM(members), 0) AS "n!: i64" FROM member_xp_buckets
               WHERE guild_id = ?1"#,
            guild_id
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        narrow(counts.first().copied().unwrap_or(0), "member count")
    }

    /// The member's row, how many are ahead of them (more XP, or as much and a lower
    /// id) and how many there are, from one read transaction so the three agree.
    async fn member_rank(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
    ) -> StoreResult<Option<MemberRank>> {
        let (guild_id, user_id) = (id_to_db(guild), id_to_db(user));
        let mut tx = self.begin_read().await?;
        let rows = sqlx::query_as!(
            XpRow,
            r#"SELECT guild_id, user_id, xp, level, messages, last_award_at
           FROM member_xp WHERE guild_id = ?1 AND user_id = ?2"#,
            guild_id,
            user_id
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let rank = ranked(&mut tx, row).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(rank))
    }
}

/// `row`'s place on its guild's leaderboard, read in `tx` (which holds the
/// snapshot `row` was read in): how many are ahead of them (more XP, or as
/// much and a lower id) and how many there are.
pub(crate) async fn ranked(
    tx: &mut Transaction<'static, Sqlite>,
    row: XpRow,
) -> StoreResult<MemberRank> {
    let (guild_id, user_id, xp, bucket) = (row.guild_id, row.user_id, row.xp, xp_bucket(row.xp));
    let counts = sqlx::query!(
        // Ahead: the members of higher buckets, summed from member_xp_buckets (a
        // row per bucket), then those of the member's own bucket with more XP or
        // as much and a lower id (that bucket's rows only: the index is named, as
        // SQLite 3.50 otherwise reads the guild's whole range of the primary key,
        // 6.8 ms in a guild of 100,000).
        r#"SELECT
                 (SELECT coalesce(SUM(members), 0) FROM member_xp_buckets
                  WHERE guild_id = ?1 AND xp_bucket > ?4)
                 + (SELECT COUNT(*) FROM member_xp INDEXED BY member_xp_leaderboard
                    WHERE guild_id = ?1 AND xp_bucket = ?4
                      AND (xp > ?2 OR (xp = ?2 AND user_id < ?3)))
                   AS "ahead!: i64",
                 (SELECT coalesce(SUM(members), 0) FROM member_xp_buckets WHERE guild_id = ?1)
                   AS "total!: i64""#,
        guild_id,
        xp,
        user_id,
        bucket
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    let counts = counts
        .first()
        .ok_or_else(|| StoreError::Internal("a count returned no row".into()))?;
    rank_from_counts(row.try_into()?, counts.ahead, counts.total)
}

/// The most members one transaction of a flush writes; a larger batch is
/// written in parts. A part of 256 held the writer 4.6 ms at p50 and 12.6 ms at
/// p99 in the load benchmark's `/warn` phase (BENCHMARKS.md); parts of 128 and
/// 64 made the flushes longer without a shorter `/warn`.
const PART_MEMBERS: usize = 256;

/// Add `json`'s awards (see [`awards_json`]) in one statement over `json_each`.
///
/// `GROUP BY` sums repeated members (an upsert may touch a row only once per
/// statement). `RETURNING` hands back each member's new total and the level and
/// bucket stored before (the statement touches neither), read with `fetch_all` so the
/// statement is finished and the WAL can checkpoint; the changed levels and buckets
/// are written back in the same transaction. Awards that would take a total below 0
/// violate the table's CHECK and fail the transaction.
async fn upsert_awards(
    tx: &mut Transaction<'static, Sqlite>,
    json: String,
) -> StoreResult<Vec<AwardOutcome>> {
    let rows = sqlx::query_as!(
        Upserted,
        r#"INSERT INTO member_xp (guild_id, user_id, xp, level, messages, last_award_at)
               SELECT value ->> 0, value ->> 1, SUM(value ->> 2), 0, SUM(value ->> 3),
                      MAX(value ->> 4)
               FROM json_each(?1)
               WHERE true -- lets SQLite tell the upsert's ON from a join's
               GROUP BY value ->> 0, value ->> 1
               ON CONFLICT (guild_id, user_id) DO UPDATE SET
                   xp = member_xp.xp + excluded.xp,
                   messages = member_xp.messages + excluded.messages,
                   last_award_at = max(coalesce(member_xp.last_award_at, excluded.last_award_at),
                                       excluded.last_award_at)
               RETURNING guild_id AS "guild_id!: i64", user_id AS "user_id!: i64",
                         xp AS "xp!: i64", level AS "old_level!: i64",
                         xp_bucket AS "old_bucket!: i64""#,
        json
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    let outcomes = rows
        .iter()
        .map(Upserted::outcome)
        .collect::<StoreResult<Vec<_>>>()?;
    write_derived(tx, &rows).await?;
    Ok(outcomes)
}

impl SqliteStore {
    /// Stage `batch` in parts of [`PART_MEMBERS`] with `checkpoints`, in one
    /// transaction; nothing when the checkpoints show it staged (or written)
    /// before.
    async fn stage(&self, batch: &[XpAward], checkpoints: &[GatewaySession]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        if already_written(
            checkpoints,
            &sessions::load_all(&mut tx, checkpoints).await?,
        ) {
            return Ok(());
        }
        // In key order, so that a part's members share the table's pages: in
        // random order each part dirtied (and wrote to the WAL) pages of the
        // whole table, several times the writes of the batch in one transaction.
        let mut sorted: Vec<&XpAward> = batch.iter().collect();
        sorted.sort_unstable_by_key(|a| (a.guild_id, a.user_id));
        for part in sorted.chunks(PART_MEMBERS) {
            let awards = awards_json(part.iter().copied());
            sqlx::query!("INSERT INTO xp_staged (awards) VALUES (?1)", awards)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        sessions::save_all(&mut tx, checkpoints).await?;
        tx.commit().await.map_err(db_error)?;
        self.staged.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Apply every staged part in order, each in its own transaction with its
    /// deletion; the outcomes of all.
    pub(crate) async fn apply_staged(&self) -> StoreResult<Vec<AwardOutcome>> {
        let mut outcomes = Vec::new();
        // Only this store's writer stages (one process per SQLite file).
        if !self.staged.load(Ordering::SeqCst) {
            return Ok(outcomes);
        }
        loop {
            let mut tx = self.begin_write().await?;
            let staged = sqlx::query!(
                r#"SELECT part AS "part!", awards FROM xp_staged ORDER BY part LIMIT 1"#
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            let Some(next) = staged.into_iter().next() else {
                self.staged.store(false, Ordering::SeqCst);
                return Ok(outcomes);
            };
            outcomes.extend(upsert_awards(&mut tx, next.awards).await?);
            sqlx::query!("DELETE FROM xp_staged WHERE part = ?1", next.part)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
        }
    }
}

/// `[[guild, user, xp, messages, at_ms], ...]`; all integers, so no escaping.
fn awards_json<'a>(batch: impl ExactSizeIterator<Item = &'a XpAward>) -> String {
    let mut json = String::with_capacity(2 + batch.len() * 64);
    json.push('[');
    for (i, a) in batch.enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            "[{},{},{},{},{}]",
            id_to_db(a.guild_id),
            id_to_db(a.user_id),
            a.xp,
            a.messages,
            to_ms(a.at)
        ));
    }
    json.push(']');
    json
}

/// Store the new level and bucket of every member where either changed (one
/// statement; usually few rows).
async fn write_derived(
    tx: &mut Transaction<'static, Sqlite>,
    rows: &[Upserted],
) -> StoreResult<()> {
    let mut json = String::from("[");
    for row in rows {
        let (level, bucket) = (level_for_xp(row.xp), xp_bucket(row.xp));
        if i64::from(level) == row.old_level && bucket == row.old_bucket {
            continue;
        }
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(&format!(
            "[{},{},{level},{bucket}]",
            row.guild_id, row.user_id
        ));
    }
    if json.len() == 1 {
        return Ok(());
    }
    json.push(']');
    sqlx::query!(
        r#"UPDATE member_xp SET level = j.value ->> 2, xp_bucket = j.value ->> 3
           FROM json_each(?1) AS j
           WHERE member_xp.guild_id = j.value ->> 0 AND member_xp.user_id = j.value ->> 1"#,
        json
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Write back the level and bucket of a single-member change and commit.
async fn finish_one(
    mut tx: Transaction<'static, Sqlite>,
    rows: Vec<Upserted>,
) -> StoreResult<AwardOutcome> {
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Internal("an upsert returned no row".into()))?;
    let outcome = row.outcome()?;
    write_derived(&mut tx, &rows).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(outcome)
}

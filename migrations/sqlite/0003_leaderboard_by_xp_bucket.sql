-- Schema v3 (SQLite): the leaderboard index orders members by XP bucket
-- (xp / 1000), no longer by XP itself.
--
-- SQLite rewrites an index entry whenever an UPDATE assigns one of the index's
-- columns, so every award moved the member's entry in (guild_id, xp DESC, user_id):
-- a second B-tree page written to the WAL per member. xp_bucket is assigned only
-- when an award crosses a multiple of 1,000 XP (about one award in fifty at 15-25
-- XP each, in a separate statement), so almost every award now writes the table's
-- page alone. Measured at 1,000,000 members, 500-row batches: about 2x
-- (BENCHMARKS.md).
--
-- The leaderboard walks the index bucket by bucket from the top and sorts each
-- bucket by exact XP, so its order is unchanged: XP descending, ties by user id.
-- Keeper writes xp_bucket in the same transaction as xp, like the level.
ALTER TABLE member_xp ADD COLUMN xp_bucket INTEGER NOT NULL DEFAULT 0;
UPDATE member_xp SET xp_bucket = xp / 1000 WHERE xp >= 1000;
DROP INDEX member_xp_leaderboard;
CREATE INDEX member_xp_leaderboard ON member_xp (guild_id, xp_bucket DESC);

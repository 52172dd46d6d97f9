-- Schema v14 (SQLite): per-guild member counts by XP bucket, and buckets that
-- follow where members crowd (issue #15, "Big guilds").
--
-- A rank was "members in higher buckets plus those ahead inside the member's own",
-- counted from member_xp: 11 ms in a guild of 100,000, and a page 50,000 deep read
-- the 50,000 members above it. Now member_xp_buckets holds how many members each
-- (guild, bucket) has, kept exact by the triggers below in the transaction of
-- every write to member_xp, whatever made it (Keeper, a restore, the sqlite3
-- shell). A rank sums the counts of the higher buckets (a few hundred rows) and
-- reads the member's own bucket; a deep page finds its bucket by the running
-- count and reads from there.
--
-- Both are then as fast as the largest bucket is small, so the buckets change
-- from xp / 1000 (15,000 members of such a guild in bucket 0) to
-- floor(4 * cbrt(xp)) (keeper_store::levels::xp_bucket): about 370 members a
-- bucket in that guild, widths growing with XP as the level curve's do, so the
-- busiest members' awards still rarely cross one and write no index (0003).
--
-- One row per (guild, bucket) with members, none for an empty bucket. Not
-- exported or copied: rebuilt as member_xp is written.
CREATE TABLE member_xp_buckets (
    guild_id  INTEGER NOT NULL,
    xp_bucket INTEGER NOT NULL,
    members   INTEGER NOT NULL,
    PRIMARY KEY (guild_id, xp_bucket)
) STRICT, WITHOUT ROWID;

-- The new buckets: the highest b with ceil(b^3 / 64) <= xp (xp capped at 2^40,
-- as Keeper caps it), looked up among every bucket's floor; exact integer
-- arithmetic (this SQLite has no cube root). The index is rebuilt after the
-- rewrite.
CREATE TEMP TABLE xp_bucket_floors (
    floor  INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    PRIMARY KEY (floor, bucket)
) WITHOUT ROWID;
WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < 41285)
INSERT INTO xp_bucket_floors SELECT (n * n * n + 63) / 64, n FROM b;
DROP INDEX member_xp_leaderboard;
UPDATE member_xp SET xp_bucket = (
    SELECT f.bucket FROM xp_bucket_floors AS f
    WHERE f.floor <= min(member_xp.xp, 1099511627776)
    ORDER BY f.floor DESC, f.bucket DESC LIMIT 1);
DROP TABLE xp_bucket_floors;
CREATE INDEX member_xp_leaderboard ON member_xp (guild_id, xp_bucket DESC);

INSERT INTO member_xp_buckets (guild_id, xp_bucket, members)
SELECT guild_id, xp_bucket, COUNT(*) FROM member_xp GROUP BY guild_id, xp_bucket;

-- Row triggers (SQLite has one writer, so no lock order to keep). An award's
-- upsert assigns neither guild_id nor xp_bucket, so it fires none of them; only
-- a new member, a deletion, or a write of a changed bucket does.
CREATE TRIGGER member_xp_buckets_insert AFTER INSERT ON member_xp
BEGIN
    INSERT INTO member_xp_buckets (guild_id, xp_bucket, members)
    VALUES (new.guild_id, new.xp_bucket, 1)
    ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = members + 1;
END;

CREATE TRIGGER member_xp_buckets_delete AFTER DELETE ON member_xp
BEGIN
    DELETE FROM member_xp_buckets
    WHERE guild_id = old.guild_id AND xp_bucket = old.xp_bucket AND members = 1;
    UPDATE member_xp_buckets SET members = members - 1
    WHERE guild_id = old.guild_id AND xp_bucket = old.xp_bucket;
END;

CREATE TRIGGER member_xp_buckets_update AFTER UPDATE OF guild_id, xp_bucket ON member_xp
WHEN old.guild_id <> new.guild_id OR old.xp_bucket <> new.xp_bucket
BEGIN
    DELETE FROM member_xp_buckets
    WHERE guild_id = old.guild_id AND xp_bucket = old.xp_bucket AND members = 1;
    UPDATE member_xp_buckets SET members = members - 1
    WHERE guild_id = old.guild_id AND xp_bucket = old.xp_bucket;
    INSERT INTO member_xp_buckets (guild_id, xp_bucket, members)
    VALUES (new.guild_id, new.xp_bucket, 1)
    ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = members + 1;
END;

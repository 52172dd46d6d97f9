-- Schema v14 (PostgreSQL): per-guild member counts by XP bucket, and buckets
-- that follow where members crowd (issue #15, "Big guilds").
--
-- A rank was "members in higher buckets plus those ahead inside the member's own",
-- counted from member_xp: 53 ms in a guild of 100,000, and a page 50,000 deep read
-- the 50,000 members above it. Now member_xp_buckets holds how many members each
-- (guild, bucket) has, kept exact by the triggers below in the transaction of
-- every write to member_xp, whatever made it (Keeper, a restore, psql). A rank sums
-- the counts of the higher buckets (a few hundred rows) and reads the member's own
-- bucket; a deep page finds its bucket by the running count and reads from there.
--
-- Both are then as fast as the largest bucket is small, so the buckets change
-- from xp / 1000 (15,000 members of such a guild in bucket 0) to
-- floor(4 * cbrt(xp)) (keeper_store::levels::xp_bucket): about 370 members a
-- bucket in that guild, widths growing with XP as the level curve's do, so the
-- busiest members' awards still rarely cross one (HOT updates, 0003).

CREATE TABLE member_xp_buckets (
    guild_id  BIGINT NOT NULL,
    xp_bucket BIGINT NOT NULL,
    members   BIGINT NOT NULL,
    PRIMARY KEY (guild_id, xp_bucket)
);
COMMENT ON TABLE member_xp_buckets IS 'How many members of each guild are in each XP bucket: one row per (guild, bucket) with members, none for an empty bucket. Derived from member_xp by its triggers (member_xp_buckets_count), in the same transaction; ranks and deep leaderboard pages read it. Not exported or copied: rebuilt as member_xp is written.';
COMMENT ON COLUMN member_xp_buckets.xp_bucket IS 'member_xp.xp_bucket: floor(4 * cbrt(xp)), computed by Keeper (keeper_store::levels::xp_bucket).';
COMMENT ON COLUMN member_xp_buckets.members IS 'Rows of member_xp with this guild_id and xp_bucket.';

-- The new buckets: the highest b with ceil(b^3 / 64) <= xp (xp capped at 2^40,
-- as Keeper caps it), found in the array of every bucket's floor; exact integer
-- arithmetic, no float cube root. The index is rebuilt after the rewrite.
DROP INDEX member_xp_leaderboard;
UPDATE member_xp SET xp_bucket = width_bucket(LEAST(xp, 1099511627776),
    ARRAY(SELECT (b * b * b + 63) / 64 FROM generate_series(0::int8, 41285) AS b)) - 1;
CREATE INDEX member_xp_leaderboard ON member_xp (guild_id, xp_bucket DESC);
COMMENT ON COLUMN member_xp.xp_bucket IS 'floor(4 * cbrt(xp)) (0014; xp / 1000 before), written with xp by Keeper (keeper_store::levels::xp_bucket); the leaderboard index orders by it so that most awards change no indexed column (HOT updates), and member_xp_buckets counts members by it.';

INSERT INTO member_xp_buckets (guild_id, xp_bucket, members)
SELECT guild_id, xp_bucket, COUNT(*) FROM member_xp GROUP BY guild_id, xp_bucket;

-- Statement-level triggers: each statement's rows are counted once, by
-- (guild, bucket), and the counts are changed in key order (ORDER BY), so within
-- a statement every transaction takes the count rows' locks in the same order.
-- A transaction takes them only after the member rows it writes: an award flush
-- upserts (and locks) all its members first, then counts its new members, then
-- the bucket changes; a command writes one member. Two flushes never share a
-- guild, and within one guild every writer's counts go in ascending bucket order,
-- so a flush and a command can't deadlock on them. A transaction over several
-- guilds at once (a user's deletion, an import) may meet a flush in the opposite
-- guild order, as it could on member rows before; PostgreSQL then aborts one and
-- the flush is written again. Awards that cross no bucket (most) sum to nothing
-- here and write no count row.
CREATE FUNCTION member_xp_buckets_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO member_xp_buckets AS c (guild_id, xp_bucket, members)
        SELECT guild_id, xp_bucket, COUNT(*) FROM new_rows
        GROUP BY guild_id, xp_bucket ORDER BY guild_id, xp_bucket
        ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = c.members + excluded.members;
    ELSIF TG_OP = 'DELETE' THEN
        -- An upsert too, for its key order; the rows are there (the members were).
        INSERT INTO member_xp_buckets AS c (guild_id, xp_bucket, members)
        SELECT guild_id, xp_bucket, -COUNT(*) FROM old_rows
        GROUP BY guild_id, xp_bucket ORDER BY guild_id, xp_bucket
        ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = c.members + excluded.members;
        DELETE FROM member_xp_buckets AS c
        WHERE c.members = 0
          AND (c.guild_id, c.xp_bucket) IN (SELECT guild_id, xp_bucket FROM old_rows);
    ELSE -- UPDATE
        INSERT INTO member_xp_buckets AS c (guild_id, xp_bucket, members)
        SELECT guild_id, xp_bucket, SUM(delta)
        FROM (SELECT guild_id, xp_bucket, -1 AS delta FROM old_rows
              UNION ALL
              SELECT guild_id, xp_bucket, 1 FROM new_rows) AS d
        GROUP BY guild_id, xp_bucket HAVING SUM(delta) <> 0
        ORDER BY guild_id, xp_bucket
        ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = c.members + excluded.members;
        IF FOUND THEN
            DELETE FROM member_xp_buckets AS c
            WHERE c.members = 0
              AND (c.guild_id, c.xp_bucket) IN (
                  SELECT guild_id, xp_bucket FROM old_rows
                  EXCEPT SELECT guild_id, xp_bucket FROM new_rows);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION member_xp_buckets_count() IS 'Keeps member_xp_buckets equal to the count of member_xp by (guild_id, xp_bucket), statement by statement (0014).';

CREATE TRIGGER member_xp_buckets_insert AFTER INSERT ON member_xp
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_xp_buckets_count();
CREATE TRIGGER member_xp_buckets_update AFTER UPDATE ON member_xp
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_xp_buckets_count();
CREATE TRIGGER member_xp_buckets_delete AFTER DELETE ON member_xp
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_xp_buckets_count();

CREATE FUNCTION member_xp_buckets_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM member_xp_buckets;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION member_xp_buckets_clear() IS 'Empties member_xp_buckets when member_xp is truncated (0014).';
CREATE TRIGGER member_xp_buckets_truncate AFTER TRUNCATE ON member_xp
    FOR EACH STATEMENT EXECUTE FUNCTION member_xp_buckets_clear();

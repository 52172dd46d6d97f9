-- Schema v19 (PostgreSQL): the award flush counts its own bucket moves
-- (issue #15, "without giving back the award throughput").
--
-- 0014's statement-level UPDATE trigger read the transition tables of every
-- updated row: PostgreSQL copies each awarded row's old and new versions into
-- them, whether it crossed a bucket or not (most don't). Now:
--
-- * The award flush says so (set_config('keeper.buckets_counted', 'on', true),
--   for its transaction only) and writes the counts itself, from what its upsert
--   returns: a new member adds one to their bucket; a total that crossed takes one
--   from the old bucket and adds one to the new. One statement after all its
--   member rows are written, in key order (keeper_store::levels::bucket_moves).
-- * Every other UPDATE (a command's /xp set, psql) is counted by a row trigger
--   that fires only when a row's guild or bucket changes; it takes its two count
--   rows in key order too, so it can't deadlock with a flush. An import, which
--   may raise thousands of members at once, counts its guilds again instead.
-- * INSERT and DELETE keep 0014's statement triggers: they copy only the rows
--   inserted or deleted, which an award's upsert rarely has, and count a
--   restore's or a purge's rows in one statement. They skip a transaction that
--   counts itself.
--
-- In psql, a paired test of one 25,000-row award upsert over 1,000,000 members
-- took 14% less time than with 0014's trigger (BENCHMARKS.md, session 18).
-- A transaction that sets keeper.buckets_counted must write every count change it
-- makes; only Keeper's award flush and import do, and the conformance tests compare
-- the counts with a GROUP BY of member_xp after each kind of write. xp_bucket is
-- still written by whoever writes xp: by hand, `SET xp = n, xp_bucket =
-- member_xp_bucket(n)` (a trigger setting it would cost every award a row fetch).

DROP TRIGGER member_xp_buckets_insert ON member_xp;
DROP TRIGGER member_xp_buckets_update ON member_xp;
DROP TRIGGER member_xp_buckets_delete ON member_xp;

-- 0015's function without its UPDATE branch, which no trigger calls any more.
CREATE OR REPLACE FUNCTION member_xp_buckets_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied_guilds  int8[];
    emptied_buckets int8[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO member_xp_buckets AS c (guild_id, xp_bucket, members)
        SELECT guild_id, xp_bucket, COUNT(*) FROM new_rows
        GROUP BY guild_id, xp_bucket ORDER BY guild_id, xp_bucket
        ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = c.members + excluded.members;
        RETURN NULL;
    END IF;
    -- DELETE: an upsert too, for its key order; the rows are there (the members were).
    WITH counted AS (
        INSERT INTO member_xp_buckets AS c (guild_id, xp_bucket, members)
        SELECT guild_id, xp_bucket, -COUNT(*) FROM old_rows
        GROUP BY guild_id, xp_bucket ORDER BY guild_id, xp_bucket
        ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = c.members + excluded.members
        RETURNING c.guild_id, c.xp_bucket, c.members)
    SELECT array_agg(guild_id), array_agg(xp_bucket) INTO emptied_guilds, emptied_buckets
    FROM counted WHERE members = 0;
    IF emptied_guilds IS NOT NULL THEN
        DELETE FROM member_xp_buckets AS c
        USING UNNEST(emptied_guilds, emptied_buckets) AS e(guild_id, xp_bucket)
        WHERE c.guild_id = e.guild_id AND c.xp_bucket = e.xp_bucket AND c.members = 0;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION member_xp_buckets_count() IS 'Keeps member_xp_buckets equal to the count of member_xp by (guild_id, xp_bucket) for inserted and deleted rows, statement by statement (0014; 0019 leaves updates to member_xp_buckets_move).';

CREATE FUNCTION member_xp_buckets_add(g int8, b int8, delta int8) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    left_members int8;
BEGIN
    INSERT INTO member_xp_buckets AS c (guild_id, xp_bucket, members) VALUES (g, b, delta)
    ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = c.members + excluded.members
    RETURNING c.members INTO left_members;
    -- The row stays locked by this transaction, so nobody refills it in between.
    IF left_members = 0 THEN
        DELETE FROM member_xp_buckets WHERE guild_id = g AND xp_bucket = b AND members = 0;
    END IF;
END
$$;
COMMENT ON FUNCTION member_xp_buckets_add(int8, int8, int8) IS 'Adds delta to the members of one (guild, bucket) of member_xp_buckets, deleting the row it leaves at 0 (0019).';

CREATE FUNCTION member_xp_buckets_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The lower key first: every writer takes count rows in ascending key order.
    IF (OLD.guild_id, OLD.xp_bucket) < (NEW.guild_id, NEW.xp_bucket) THEN
        PERFORM member_xp_buckets_add(OLD.guild_id, OLD.xp_bucket, -1);
        PERFORM member_xp_buckets_add(NEW.guild_id, NEW.xp_bucket, 1);
    ELSE
        PERFORM member_xp_buckets_add(NEW.guild_id, NEW.xp_bucket, 1);
        PERFORM member_xp_buckets_add(OLD.guild_id, OLD.xp_bucket, -1);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION member_xp_buckets_move() IS 'Moves one member between the counts of member_xp_buckets when an update changes their guild or bucket (0019).';

CREATE TRIGGER member_xp_buckets_insert AFTER INSERT ON member_xp
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('keeper.buckets_counted', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION member_xp_buckets_count();
CREATE TRIGGER member_xp_buckets_delete AFTER DELETE ON member_xp
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    WHEN (current_setting('keeper.buckets_counted', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION member_xp_buckets_count();
CREATE TRIGGER member_xp_buckets_update AFTER UPDATE ON member_xp
    FOR EACH ROW
    WHEN ((OLD.guild_id, OLD.xp_bucket) IS DISTINCT FROM (NEW.guild_id, NEW.xp_bucket)
          AND current_setting('keeper.buckets_counted', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION member_xp_buckets_move();

COMMENT ON TABLE member_xp_buckets IS 'How many members of each guild are in each XP bucket: one row per (guild, bucket) with members, none for an empty bucket. Derived from member_xp in the same transaction: by its triggers, or by Keeper''s award flush itself (0019); ranks and deep leaderboard pages read it. Not exported or copied: rebuilt as member_xp is written.';

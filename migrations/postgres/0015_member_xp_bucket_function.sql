-- Schema v15 (PostgreSQL): the XP bucket computed by the award's own upsert,
-- and the count trigger's emptied buckets deleted by key (issue #15, "without
-- giving back the award throughput").
--
-- Since 0014 buckets are narrow where members crowd, so about one award in seven
-- moves a member to the next bucket. Keeper computed the bucket after the upsert
-- and wrote it back with a second UPDATE of the same row: a second row version,
-- never HOT because xp_bucket is indexed, and one for every new member too (a
-- member's first award leaves bucket 0). With the bucket computed in SQL, the
-- upsert writes xp and xp_bucket in one row version; only level-ups still take a
-- second write.
--
-- member_xp_bucket(xp) is keeper_store::levels::xp_bucket: the highest b with
-- b^3 <= 64 * xp, xp clamped to [0, 2^40]. The float cube root is a guess within
-- one of it (2^46 is well inside a double's exact integers); member_xp_bucket_exact
-- corrects it either way in integers. Both are SQL-standard bodies, which the
-- planner inlines into the statement that calls them. The store's tests compare
-- the two over every bucket's edges.

CREATE FUNCTION member_xp_bucket_exact(guess int8, scaled int8) RETURNS int8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN (guess + 1) * (guess + 1) * (guess + 1) <= scaled THEN guess + 1
        WHEN guess * guess * guess > scaled THEN guess - 1
        ELSE guess
    END;
COMMENT ON FUNCTION member_xp_bucket_exact(int8, int8) IS 'The b within one of guess with b^3 <= scaled < (b+1)^3 (0015); member_xp_bucket''s correction of its float cube root.';

CREATE FUNCTION member_xp_bucket(xp int8) RETURNS int8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN member_xp_bucket_exact(
        floor(cbrt(64 * LEAST(GREATEST(xp, 0), 1099511627776)::float8))::int8,
        64 * LEAST(GREATEST(xp, 0), 1099511627776));
COMMENT ON FUNCTION member_xp_bucket(int8) IS 'member_xp.xp_bucket for a total of xp: floor(4 * cbrt(xp)), xp clamped to [0, 2^40], exact (0015); the same as Keeper''s keeper_store::levels::xp_bucket, which imports and copies use.';

COMMENT ON COLUMN member_xp.xp_bucket IS 'member_xp_bucket(xp): floor(4 * cbrt(xp)) (0014; xp / 1000 before), written with xp by the same statement (0015; imports and copies compute it in Keeper, keeper_store::levels::xp_bucket, the same function); the leaderboard index orders by it so that most awards change no indexed column (HOT updates), and member_xp_buckets counts members by it.';
COMMENT ON COLUMN member_xp_buckets.xp_bucket IS 'member_xp.xp_bucket: member_xp_bucket(xp), floor(4 * cbrt(xp)).';

-- The count trigger of 0014 again, with one change: a bucket's row is deleted
-- when this statement's change left it at 0, by key. 0014 looked for them with
-- `WHERE members = 0 AND key IN (...)`, which the planner answered by reading
-- the whole of member_xp_buckets (0.9 ms at 26,500 rows) in every award
-- statement that moved a member, nearly all of them emptying nothing. Now the
-- count upsert returns the counts it left, and only those at 0 are deleted (the
-- rows stay locked by this transaction in between, so none can be refilled).
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
    ELSIF TG_OP = 'DELETE' THEN
        -- An upsert too, for its key order; the rows are there (the members were).
        WITH counted AS (
            INSERT INTO member_xp_buckets AS c (guild_id, xp_bucket, members)
            SELECT guild_id, xp_bucket, -COUNT(*) FROM old_rows
            GROUP BY guild_id, xp_bucket ORDER BY guild_id, xp_bucket
            ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = c.members + excluded.members
            RETURNING c.guild_id, c.xp_bucket, c.members)
        SELECT array_agg(guild_id), array_agg(xp_bucket) INTO emptied_guilds, emptied_buckets
        FROM counted WHERE members = 0;
    ELSE -- UPDATE
        WITH counted AS (
            INSERT INTO member_xp_buckets AS c (guild_id, xp_bucket, members)
            SELECT guild_id, xp_bucket, SUM(delta)
            FROM (SELECT guild_id, xp_bucket, -1 AS delta FROM old_rows
                  UNION ALL
                  SELECT guild_id, xp_bucket, 1 FROM new_rows) AS d
            GROUP BY guild_id, xp_bucket HAVING SUM(delta) <> 0
            ORDER BY guild_id, xp_bucket
            ON CONFLICT (guild_id, xp_bucket) DO UPDATE SET members = c.members + excluded.members
            RETURNING c.guild_id, c.xp_bucket, c.members)
        SELECT array_agg(guild_id), array_agg(xp_bucket) INTO emptied_guilds, emptied_buckets
        FROM counted WHERE members = 0;
    END IF;
    IF emptied_guilds IS NOT NULL THEN
        DELETE FROM member_xp_buckets AS c
        USING UNNEST(emptied_guilds, emptied_buckets) AS e(guild_id, xp_bucket)
        WHERE c.guild_id = e.guild_id AND c.xp_bucket = e.xp_bucket AND c.members = 0;
    END IF;
    RETURN NULL;
END
$$;

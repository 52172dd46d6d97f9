-- Schema v20 (MySQL): the award flush counts its own bucket moves (issue #17,
-- "batched awards as fast as the engine allows").
--
-- 0019's update trigger moved a member between the counts of member_xp_buckets
-- with three statements for every awarded row that crossed a bucket; under load
-- a flush of 25,000 members took 2.5 times as long as the same upsert without
-- it. Now:
--
-- * The award flush sets the session variable @keeper_buckets_counted for its
--   transaction and clears it after (a connection that could not clear it is
--   closed, never reused). Its upsert leaves known members' buckets alone; it
--   reads the totals back with the stored buckets, writes the buckets that
--   changed, then the counts they move in one statement, in key order
--   (keeper_store::levels::bucket_count_changes), and deletes the counts it left
--   at 0.
-- * Every other UPDATE (/xp, an import, the mysql client) is counted by the row
--   trigger as before: the variable is unset on every other connection.
-- * INSERT and DELETE keep 0019's triggers (a new member's first award is an
--   insert, counted by its trigger).
--
-- A session that sets @keeper_buckets_counted must write every count change it
-- makes; only Keeper's award flush does. The conformance tests compare the
-- counts with a GROUP BY of member_xp after each kind of write.

DROP TRIGGER member_xp_buckets_update;

CREATE TRIGGER member_xp_buckets_update AFTER UPDATE ON member_xp FOR EACH ROW
BEGIN
    IF @keeper_buckets_counted IS NULL
       AND (OLD.guild_id <> NEW.guild_id OR OLD.xp_bucket <> NEW.xp_bucket) THEN
        DELETE FROM member_xp_buckets
        WHERE guild_id = OLD.guild_id AND xp_bucket = OLD.xp_bucket AND members = 1;
        UPDATE member_xp_buckets SET members = members - 1
        WHERE guild_id = OLD.guild_id AND xp_bucket = OLD.xp_bucket;
        INSERT INTO member_xp_buckets (guild_id, xp_bucket, members)
        VALUES (NEW.guild_id, NEW.xp_bucket, 1)
        ON DUPLICATE KEY UPDATE members = members + 1;
    END IF;
END;

ALTER TABLE member_xp_buckets
  COMMENT = 'Members per (guild, XP bucket), kept by member_xp''s triggers and, for its own writes, by Keeper''s award flush (0020): a rank sums a few hundred counts instead of reading every member above.';

-- Schema v15 (SQLite): nothing changes here.
--
-- On PostgreSQL, 0015 adds member_xp_bucket(xp), so that an award's upsert writes
-- the member's XP bucket in the same row version as the XP instead of a second
-- UPDATE (a second, never-HOT row version there). SQLite has no cube root to
-- compute it with and rewrites a row in place, so Keeper keeps computing the
-- bucket (keeper_store::levels::xp_bucket) and writing it after the upsert, in the
-- same transaction. The file keeps both backends at the same schema version.
SELECT 1;

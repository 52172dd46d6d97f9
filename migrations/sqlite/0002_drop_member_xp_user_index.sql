-- Schema v2 (SQLite): no change.
--
-- PostgreSQL drops member_xp's index on user_id in its 0002 (every award rewrote
-- an entry of it there). SQLite updates an index only when one of its columns
-- changes, and awards never change user_id, so the index costs awards nothing and
-- keeps the export and deletion of one user's data fast. This file exists so that
-- a schema version means the same on both backends.
SELECT 1;

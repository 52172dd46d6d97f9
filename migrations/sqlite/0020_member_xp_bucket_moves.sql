-- Schema v20 (SQLite): nothing changes here.
--
-- On MySQL, 0020 lets the award flush count its own bucket moves instead of a
-- row trigger running three statements for each member who crossed a bucket.
-- SQLite's row triggers are cheap in its embedded engine and one writer holds
-- the database anyway. The file keeps the three backends at the same schema
-- version.
SELECT 1;

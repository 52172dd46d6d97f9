-- Schema v16 (PostgreSQL): nothing changes here.
--
-- On SQLite, 0016 adds xp_staged, where a large XP flush waits in parts so that
-- SQLite's one writer is free for a command between two parts. PostgreSQL has no
-- single writer: a command's transaction runs beside a flush's, so a flush stays
-- one transaction. The file keeps both backends at the same schema version.
SELECT 1;

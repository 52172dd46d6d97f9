-- Schema v13 (SQLite): identify pacing shared by every process of one bot.
-- Discord lets a bot start `max_concurrency` sessions per 5 s, one per bucket
-- (shard id % max_concurrency), across all its processes. Each IDENTIFY first
-- claims its bucket here: one conditional upsert that succeeds only when the
-- bucket's last claim is a whole window old. The database file's write lock
-- orders the claims of several processes on one host (the clock is the
-- host's). Mirrors migrations/postgres/0013_identify_slots.sql. About this
-- connection to Discord, not Keeper's data: `keeper copy` and the restores do
-- not carry it.
CREATE TABLE identify_slots (
    -- shard id % max_concurrency.
    bucket     INTEGER PRIMARY KEY NOT NULL CHECK (bucket >= 0),
    -- The last claim (ms since the Unix epoch).
    claimed_at INTEGER NOT NULL
) STRICT;

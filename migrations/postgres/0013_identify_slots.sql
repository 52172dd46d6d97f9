-- Schema v13 (PostgreSQL): identify pacing shared by every process of one bot.
-- Discord lets a bot start `max_concurrency` sessions per 5 s, one per bucket
-- (shard id % max_concurrency), across all its processes. Each IDENTIFY first
-- claims its bucket here: one conditional upsert, on the server's clock, that
-- succeeds only when the bucket's last claim is a whole window old. Row locks
-- and one statement, no advisory lock: no session state, as a pooler in
-- transaction mode needs. Mirrors migrations/sqlite/0013_identify_slots.sql.
-- About this connection to Discord, not Keeper's data: `keeper copy` and the
-- restores do not carry it.
CREATE TABLE identify_slots (
    bucket     INTEGER PRIMARY KEY CHECK (bucket >= 0),
    claimed_at TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE identify_slots IS
    'When each identify bucket (shard id % max_concurrency) was last claimed by a process about to IDENTIFY.';
COMMENT ON COLUMN identify_slots.bucket IS 'shard id % max_concurrency.';
COMMENT ON COLUMN identify_slots.claimed_at IS
    'The server''s clock at the last claim; the next IDENTIFY of the bucket waits one window (5 s) after it.';

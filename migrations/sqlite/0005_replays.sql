-- Schema v5 (SQLite): what Discord may deliver twice, remembered so its effect
-- happens once. After a crash, a resumed session replays every event after the
-- last stored checkpoint: interactions whose writes may already be committed,
-- member joins whose welcome may already be sent.

-- Each interaction whose write was applied, recorded in the write's own
-- transaction; a replay finds it and writes nothing. Rows older than a day are
-- pruned at start-up: no session stays resumable that long.
CREATE TABLE applied_interactions (
    interaction_id INTEGER PRIMARY KEY NOT NULL,
    guild_id       INTEGER NOT NULL,
    applied_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX applied_interactions_age ON applied_interactions (applied_at);

-- The join each member was last welcomed for (their joined_at); a replayed join
-- carries the same time and is not welcomed again, a later join is.
CREATE TABLE welcomed_members (
    guild_id  INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) STRICT;

-- Keeper schema v1 (SQLite). Mirrors migrations/postgres/0001_init.sql table for
-- table; the two must keep the same meaning (see the comments there). Discord ids
-- are INTEGER (a u64 stored bit for bit as i64). Times are INTEGER milliseconds
-- since the Unix epoch, UTC. Never edit this file once landed: add 0002_*.sql.

CREATE TABLE guild_settings (
    guild_id           INTEGER PRIMARY KEY NOT NULL,
    prefix             TEXT NOT NULL DEFAULT '!' CHECK (length(prefix) BETWEEN 1 AND 10),
    welcome_channel_id INTEGER,
    welcome_message    TEXT CHECK (length(welcome_message) BETWEEN 1 AND 2000),
    modlog_channel_id  INTEGER,
    levelup_mode       TEXT NOT NULL DEFAULT 'here' CHECK (levelup_mode IN ('off', 'here', 'channel')),
    levelup_channel_id INTEGER,
    levelup_message    TEXT CHECK (length(levelup_message) BETWEEN 1 AND 2000),
    xp_min             INTEGER NOT NULL DEFAULT 15,
    xp_max             INTEGER NOT NULL DEFAULT 25,
    xp_cooldown_secs   INTEGER NOT NULL DEFAULT 60 CHECK (xp_cooldown_secs BETWEEN 0 AND 86400),
    warn_expiry_secs   INTEGER CHECK (warn_expiry_secs > 0),
    dm_on_warn         INTEGER NOT NULL DEFAULT 1 CHECK (dm_on_warn IN (0, 1)),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    CHECK (xp_min >= 0 AND xp_min <= xp_max AND xp_max <= 10000),
    CHECK ((levelup_mode = 'channel') = (levelup_channel_id IS NOT NULL))
) STRICT;

CREATE TABLE member_xp (
    guild_id      INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    xp            INTEGER NOT NULL DEFAULT 0 CHECK (xp >= 0),
    level         INTEGER NOT NULL DEFAULT 0 CHECK (level >= 0),
    messages      INTEGER NOT NULL DEFAULT 0 CHECK (messages >= 0),
    last_award_at INTEGER,
    PRIMARY KEY (guild_id, user_id)
) STRICT, WITHOUT ROWID;
-- The leaderboard reads the top of one guild; user_id breaks ties so pages are stable.
CREATE INDEX member_xp_leaderboard ON member_xp (guild_id, xp DESC, user_id);
CREATE INDEX member_xp_user ON member_xp (user_id);

CREATE TABLE case_counters (
    guild_id  INTEGER PRIMARY KEY NOT NULL,
    last_case INTEGER NOT NULL
) STRICT;

CREATE TABLE mod_cases (
    guild_id     INTEGER NOT NULL,
    case_number  INTEGER NOT NULL CHECK (case_number > 0),
    target_id    INTEGER NOT NULL,
    moderator_id INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('warn', 'timeout', 'kick', 'ban', 'unwarn', 'note')),
    reason       TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_by   INTEGER,
    revoked_at   INTEGER,
    PRIMARY KEY (guild_id, case_number),
    CHECK ((revoked_by IS NULL) = (revoked_at IS NULL))
) STRICT;
CREATE INDEX mod_cases_target ON mod_cases (guild_id, target_id, case_number DESC);
CREATE INDEX mod_cases_moderator ON mod_cases (moderator_id);

CREATE TABLE level_rewards (
    guild_id INTEGER NOT NULL,
    level    INTEGER NOT NULL CHECK (level > 0),
    role_id  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, level)
) STRICT;

CREATE TABLE escalation_rules (
    guild_id      INTEGER NOT NULL,
    warnings      INTEGER NOT NULL CHECK (warnings > 0),
    action        TEXT NOT NULL CHECK (action IN ('timeout', 'kick', 'ban')),
    duration_secs INTEGER CHECK (duration_secs > 0),
    PRIMARY KEY (guild_id, warnings)
) STRICT;

CREATE TABLE gateway_sessions (
    shard_id    INTEGER PRIMARY KEY NOT NULL CHECK (shard_id >= 0),
    shard_total INTEGER NOT NULL CHECK (shard_total > shard_id),
    session_id  TEXT NOT NULL,
    resume_url  TEXT NOT NULL,
    sequence    INTEGER NOT NULL CHECK (sequence >= 0),
    updated_at  INTEGER NOT NULL
) STRICT;

-- Keeper schema v1 (PostgreSQL). Mirrors migrations/sqlite/0001_init.sql table for
-- table; the two must keep the same meaning. Discord ids are BIGINT (a u64 stored
-- bit for bit as i64). Never edit this file once landed: add 0002_*.sql instead.

CREATE TABLE guild_settings (
    guild_id          BIGINT PRIMARY KEY,
    prefix            TEXT NOT NULL DEFAULT '!' CHECK (char_length(prefix) BETWEEN 1 AND 10),
    welcome_channel_id BIGINT,
    welcome_message   TEXT CHECK (char_length(welcome_message) BETWEEN 1 AND 2000),
    modlog_channel_id BIGINT,
    levelup_mode      TEXT NOT NULL DEFAULT 'here' CHECK (levelup_mode IN ('off', 'here', 'channel')),
    levelup_channel_id BIGINT,
    levelup_message   TEXT CHECK (char_length(levelup_message) BETWEEN 1 AND 2000),
    xp_min            INTEGER NOT NULL DEFAULT 15,
    xp_max            INTEGER NOT NULL DEFAULT 25,
    xp_cooldown_secs  INTEGER NOT NULL DEFAULT 60 CHECK (xp_cooldown_secs BETWEEN 0 AND 86400),
    warn_expiry_secs  BIGINT CHECK (warn_expiry_secs > 0),
    dm_on_warn        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (xp_min >= 0 AND xp_min <= xp_max AND xp_max <= 10000),
    CHECK ((levelup_mode = 'channel') = (levelup_channel_id IS NOT NULL))
);
COMMENT ON TABLE guild_settings IS 'Per-guild configuration. A guild without a row uses the defaults shown here.';
COMMENT ON COLUMN guild_settings.prefix IS 'Prefix for text commands (!rank), 1-10 characters.';
COMMENT ON COLUMN guild_settings.welcome_channel_id IS 'Channel for welcome messages; NULL: no welcome message.';
COMMENT ON COLUMN guild_settings.welcome_message IS 'Welcome template ({user} {username} {server} {member_count}); NULL: the built-in default.';
COMMENT ON COLUMN guild_settings.modlog_channel_id IS 'Channel where moderation cases and bot problems are logged; NULL: none.';
COMMENT ON COLUMN guild_settings.levelup_mode IS 'Where level-ups are announced: off, here (the channel of the message), channel (levelup_channel_id).';
COMMENT ON COLUMN guild_settings.levelup_message IS 'Level-up template ({user} {username} {server} {level}); NULL: the built-in default.';
COMMENT ON COLUMN guild_settings.xp_min IS 'Least XP one message can earn.';
COMMENT ON COLUMN guild_settings.xp_max IS 'Most XP one message can earn.';
COMMENT ON COLUMN guild_settings.xp_cooldown_secs IS 'A member earns XP at most once per this many seconds.';
COMMENT ON COLUMN guild_settings.warn_expiry_secs IS 'Warnings stop counting after this many seconds; NULL: never.';
COMMENT ON COLUMN guild_settings.dm_on_warn IS 'Whether a warned member is told by DM.';

CREATE TABLE member_xp (
    guild_id      BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    xp            BIGINT NOT NULL DEFAULT 0 CHECK (xp >= 0),
    level         INTEGER NOT NULL DEFAULT 0 CHECK (level >= 0),
    messages      BIGINT NOT NULL DEFAULT 0 CHECK (messages >= 0),
    last_award_at TIMESTAMPTZ,
    PRIMARY KEY (guild_id, user_id)
);
-- The leaderboard reads the top of one guild; user_id breaks ties so pages are stable.
CREATE INDEX member_xp_leaderboard ON member_xp (guild_id, xp DESC, user_id);
CREATE INDEX member_xp_user ON member_xp (user_id);
COMMENT ON TABLE member_xp IS 'XP, level and message count of each member of each guild (one row per guild and user).';
COMMENT ON COLUMN member_xp.xp IS 'Total XP ever earned in this guild (minus what moderators took away).';
COMMENT ON COLUMN member_xp.level IS 'Level reached, derived from xp by the curve 5L^2+50L+100 per level; kept for queries.';
COMMENT ON COLUMN member_xp.messages IS 'Messages counted, including those sent during the XP cooldown.';
COMMENT ON COLUMN member_xp.last_award_at IS 'When XP was last awarded.';

CREATE TABLE case_counters (
    guild_id  BIGINT PRIMARY KEY,
    last_case BIGINT NOT NULL
);
COMMENT ON TABLE case_counters IS 'Last case number used per guild, so numbers are never reused even after a case is deleted.';

CREATE TABLE mod_cases (
    guild_id     BIGINT NOT NULL,
    case_number  BIGINT NOT NULL CHECK (case_number > 0),
    target_id    BIGINT NOT NULL,
    moderator_id BIGINT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('warn', 'timeout', 'kick', 'ban', 'unwarn', 'note')),
    reason       TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_by   BIGINT,
    revoked_at   TIMESTAMPTZ,
    PRIMARY KEY (guild_id, case_number),
    CHECK ((revoked_by IS NULL) = (revoked_at IS NULL))
);
CREATE INDEX mod_cases_target ON mod_cases (guild_id, target_id, case_number DESC);
CREATE INDEX mod_cases_moderator ON mod_cases (moderator_id);
COMMENT ON TABLE mod_cases IS 'Moderation cases: warnings, timeouts, kicks, bans, notes. Numbered 1, 2, 3... per guild.';
COMMENT ON COLUMN mod_cases.kind IS 'warn, timeout, kick, ban, unwarn or note.';
COMMENT ON COLUMN mod_cases.expires_at IS 'When a warning stops counting or a timeout ends; NULL: never.';
COMMENT ON COLUMN mod_cases.revoked_by IS 'Moderator who revoked the case (it stays on record); NULL: in force.';

CREATE TABLE level_rewards (
    guild_id BIGINT NOT NULL,
    level    INTEGER NOT NULL CHECK (level > 0),
    role_id  BIGINT NOT NULL,
    PRIMARY KEY (guild_id, level)
);
COMMENT ON TABLE level_rewards IS 'Role granted to a member when they reach a level.';

CREATE TABLE escalation_rules (
    guild_id      BIGINT NOT NULL,
    warnings      INTEGER NOT NULL CHECK (warnings > 0),
    action        TEXT NOT NULL CHECK (action IN ('timeout', 'kick', 'ban')),
    duration_secs BIGINT CHECK (duration_secs > 0),
    PRIMARY KEY (guild_id, warnings)
);
COMMENT ON TABLE escalation_rules IS 'Automatic action when a member reaches a number of active warnings.';
COMMENT ON COLUMN escalation_rules.duration_secs IS 'Length of a timeout; NULL for kick and ban.';

CREATE TABLE gateway_sessions (
    shard_id    INTEGER PRIMARY KEY CHECK (shard_id >= 0),
    shard_total INTEGER NOT NULL CHECK (shard_total > shard_id),
    session_id  TEXT NOT NULL,
    resume_url  TEXT NOT NULL,
    sequence    BIGINT NOT NULL CHECK (sequence >= 0),
    updated_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE gateway_sessions IS 'Discord gateway session of each shard, so a restarted bot resumes and Discord replays what it missed.';
COMMENT ON COLUMN gateway_sessions.sequence IS 'Last event sequence whose effects (XP awards) are stored.';

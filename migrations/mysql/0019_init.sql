-- Schema v19 (MySQL and MariaDB): the whole schema, as the other backends have it
-- after their 0019.
--
-- MySQL joined at schema version 19, so its first file is 0019: the number is the
-- schema version (`keeper check` prints it), and exports, copies and restores
-- compare versions across backends, so a version means the same schema on all
-- three. The next file of every backend is 0020.
--
-- Types, chosen so the three backends read alike:
-- - Discord ids are BIGINT: unsigned 64-bit ids stored bit for bit in signed
--   64-bit integers, as on SQLite and PostgreSQL.
-- - Times are BIGINT milliseconds since the Unix epoch, UTC, as on SQLite: no
--   session time zone can shift them, and DATETIME/TIMESTAMP would add a
--   conversion that differs between MySQL and MariaDB (TIMESTAMP ends in 2038).
-- - Flags are BOOLEAN (TINYINT(1)); enumerations are VARCHAR with a CHECK (they
--   are indexed, and TEXT cannot be without a prefix); free text is TEXT.
-- - Every table is InnoDB, utf8mb4 (names and reasons with emoji survive),
--   collation utf8mb4_bin: text compares byte for byte, as on the other two.
--
-- CHECK constraints are enforced by MariaDB 10.2+ and MySQL 8.0.16+. Neither has
-- partial indexes, so the two "due" indexes lead with their status column.

CREATE TABLE guild_settings (
    guild_id           BIGINT NOT NULL PRIMARY KEY,
    prefix             TEXT NOT NULL DEFAULT '!' CHECK (CHAR_LENGTH(prefix) BETWEEN 1 AND 10),
    welcome_channel_id BIGINT,
    welcome_message    TEXT CHECK (CHAR_LENGTH(welcome_message) BETWEEN 1 AND 2000),
    modlog_channel_id  BIGINT,
    levelup_mode       VARCHAR(16) NOT NULL DEFAULT 'here'
                       CHECK (levelup_mode IN ('off', 'here', 'channel')),
    levelup_channel_id BIGINT,
    levelup_message    TEXT CHECK (CHAR_LENGTH(levelup_message) BETWEEN 1 AND 2000),
    xp_min             INT NOT NULL DEFAULT 15,
    xp_max             INT NOT NULL DEFAULT 25,
    xp_cooldown_secs   INT NOT NULL DEFAULT 60 CHECK (xp_cooldown_secs BETWEEN 0 AND 86400),
    warn_expiry_secs   BIGINT CHECK (warn_expiry_secs > 0),
    dm_on_warn         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    rank_card          BOOLEAN NOT NULL DEFAULT TRUE
                       COMMENT 'Whether /rank answers with a card image (its text is sent either way).',
    rank_card_accent   INT COMMENT 'The rank card''s accent colour as 0xRRGGBB; NULL: Keeper''s own.'
                       CHECK (rank_card_accent BETWEEN 0 AND 16777215),
    web_public         BOOLEAN NOT NULL DEFAULT FALSE
                       COMMENT 'Whether the leaderboard page and API are served; private answers 404.',
    CONSTRAINT guild_settings_xp_range CHECK (xp_min >= 0 AND xp_min <= xp_max AND xp_max <= 10000),
    CONSTRAINT guild_settings_levelup_channel
        CHECK ((levelup_mode = 'channel') = (levelup_channel_id IS NOT NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Per-guild configuration; a guild without a row uses the defaults.';

CREATE TABLE member_xp (
    guild_id      BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    xp            BIGINT NOT NULL DEFAULT 0 CHECK (xp >= 0),
    level         INT NOT NULL DEFAULT 0 CHECK (level >= 0),
    messages      BIGINT NOT NULL DEFAULT 0 CHECK (messages >= 0),
    last_award_at BIGINT,
    xp_bucket     BIGINT NOT NULL DEFAULT 0
                  COMMENT 'floor(4 * cbrt(xp)), xp clamped to [0, 2^40] (keeper_store::levels::xp_bucket): the leaderboard orders by it; written by Keeper with xp.',
    PRIMARY KEY (guild_id, user_id),
    INDEX member_xp_leaderboard (guild_id, xp_bucket DESC)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'XP, level and message count per (guild, member).';

CREATE TABLE member_xp_buckets (
    guild_id  BIGINT NOT NULL,
    xp_bucket BIGINT NOT NULL,
    members   BIGINT NOT NULL,
    PRIMARY KEY (guild_id, xp_bucket)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Members per (guild, XP bucket), kept by member_xp''s triggers: a rank sums a few hundred counts instead of reading every member above.';

-- Row triggers, as on SQLite: only a row whose bucket changes touches a count.
-- An insert that meets a duplicate key (an award's upsert of a known member)
-- fires the update triggers, not the insert one.
CREATE TRIGGER member_xp_buckets_insert AFTER INSERT ON member_xp FOR EACH ROW
    INSERT INTO member_xp_buckets (guild_id, xp_bucket, members)
    VALUES (NEW.guild_id, NEW.xp_bucket, 1)
    ON DUPLICATE KEY UPDATE members = members + 1;

CREATE TRIGGER member_xp_buckets_delete AFTER DELETE ON member_xp FOR EACH ROW
BEGIN
    DELETE FROM member_xp_buckets
    WHERE guild_id = OLD.guild_id AND xp_bucket = OLD.xp_bucket AND members = 1;
    UPDATE member_xp_buckets SET members = members - 1
    WHERE guild_id = OLD.guild_id AND xp_bucket = OLD.xp_bucket;
END;

CREATE TRIGGER member_xp_buckets_update AFTER UPDATE ON member_xp FOR EACH ROW
BEGIN
    IF OLD.guild_id <> NEW.guild_id OR OLD.xp_bucket <> NEW.xp_bucket THEN
        DELETE FROM member_xp_buckets
        WHERE guild_id = OLD.guild_id AND xp_bucket = OLD.xp_bucket AND members = 1;
        UPDATE member_xp_buckets SET members = members - 1
        WHERE guild_id = OLD.guild_id AND xp_bucket = OLD.xp_bucket;
        INSERT INTO member_xp_buckets (guild_id, xp_bucket, members)
        VALUES (NEW.guild_id, NEW.xp_bucket, 1)
        ON DUPLICATE KEY UPDATE members = members + 1;
    END IF;
END;

CREATE TABLE member_profiles (
    guild_id     BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    display_name TEXT NOT NULL
                 COMMENT 'Nickname, else global display name, else username, as Discord showed it.',
    search_name  TEXT NOT NULL
                 COMMENT 'display_name folded to lower case by Keeper (Unicode''s rules): the search by name compares with it.',
    avatar       TEXT COMMENT 'The avatar hash on Discord''s CDN; NULL for the default avatar.',
    seen_at      BIGINT NOT NULL COMMENT 'When Keeper saw the member so.',
    PRIMARY KEY (guild_id, user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Each member''s name and avatar as last seen, written at most once a day: the leaderboard page shows them.';

CREATE TABLE case_counters (
    guild_id  BIGINT NOT NULL PRIMARY KEY,
    last_case BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'The last case number per guild, so numbers are never reused.';

CREATE TABLE mod_cases (
    guild_id           BIGINT NOT NULL,
    case_number        BIGINT NOT NULL CHECK (case_number > 0),
    target_id          BIGINT NOT NULL,
    moderator_id       BIGINT
                       COMMENT 'NULL only for an act made in Discord''s menus or an imported warning whose moderator is unknown.',
    kind               VARCHAR(16) NOT NULL
                       CHECK (kind IN ('warn', 'timeout', 'kick', 'ban', 'unwarn', 'note', 'untimeout', 'unban')),
    reason             TEXT,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT COMMENT 'When a warning stops counting, a timeout or a temporary ban ends.',
    revoked_by         BIGINT,
    revoked_at         BIGINT,
    source             VARCHAR(16) NOT NULL DEFAULT 'keeper'
                       CHECK (source IN ('keeper', 'escalation', 'discord', 'import')),
    escalated_from     BIGINT COMMENT 'The warning whose count triggered this escalation.'
                       CHECK (escalated_from > 0),
    duration_secs      BIGINT CHECK (duration_secs > 0),
    action_status      VARCHAR(16) NOT NULL DEFAULT 'done'
                       COMMENT 'The act at Discord: pending until Discord answered.'
                       CHECK (action_status IN ('pending', 'done', 'failed')),
    action_error       TEXT,
    lift_status        VARCHAR(16)
                       COMMENT 'A temporary ban''s lift: NULL (none), scheduled at expires_at, lifted, failed.'
                       CHECK (lift_status IN ('scheduled', 'lifted', 'failed')),
    lift_error         TEXT,
    lift_claimed_by    TEXT COMMENT 'The process lifting it, until lift_claimed_until (a lease).',
    lift_claimed_until BIGINT,
    lifted_at          BIGINT,
    log_channel_id     BIGINT,
    log_message_id     BIGINT COMMENT 'The case''s message in the mod-log, edited when the case changes.',
    dm_status          VARCHAR(16)
                       COMMENT 'Whether the warned member was told by DM: NULL (not tried), sent, failed.'
                       CHECK (dm_status IN ('sent', 'failed')),
    PRIMARY KEY (guild_id, case_number),
    INDEX mod_cases_target (guild_id, target_id, case_number DESC),
    INDEX mod_cases_moderator (moderator_id),
    INDEX mod_cases_due_lifts (lift_status, expires_at),
    INDEX mod_cases_pending (action_status, created_at, guild_id, case_number),
    CONSTRAINT mod_cases_revoked CHECK ((revoked_by IS NULL) = (revoked_at IS NULL)),
    CONSTRAINT mod_cases_moderator_known CHECK (moderator_id IS NOT NULL OR source IN ('discord', 'import')),
    CONSTRAINT mod_cases_escalated CHECK ((source = 'escalation') = (escalated_from IS NOT NULL)),
    CONSTRAINT mod_cases_action_failed CHECK ((action_status = 'failed') = (action_error IS NOT NULL)),
    CONSTRAINT mod_cases_lift_ban CHECK (lift_status IS NULL OR (kind = 'ban' AND expires_at IS NOT NULL)),
    CONSTRAINT mod_cases_lifted CHECK ((COALESCE(lift_status, '') = 'lifted') = (lifted_at IS NOT NULL)),
    CONSTRAINT mod_cases_lift_failed CHECK ((COALESCE(lift_status, '') = 'failed') = (lift_error IS NOT NULL)),
    CONSTRAINT mod_cases_lift_claim CHECK ((lift_claimed_by IS NULL) = (lift_claimed_until IS NULL)),
    CONSTRAINT mod_cases_log_message CHECK ((log_channel_id IS NULL) = (log_message_id IS NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Moderation cases, numbered per guild.';

CREATE TABLE case_amendments (
    guild_id    BIGINT NOT NULL,
    case_number BIGINT NOT NULL,
    amendment   INT NOT NULL CHECK (amendment > 0),
    amended_at  BIGINT NOT NULL,
    amended_by  BIGINT NOT NULL,
    old_reason  TEXT,
    new_reason  TEXT NOT NULL,
    PRIMARY KEY (guild_id, case_number, amendment)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Each change of a case''s reason, numbered per case, newest last.';

CREATE TABLE level_rewards (
    guild_id BIGINT NOT NULL,
    level    INT NOT NULL CHECK (level > 0),
    role_id  BIGINT NOT NULL,
    PRIMARY KEY (guild_id, level)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'The role granted at a level.';

CREATE TABLE escalation_rules (
    guild_id      BIGINT NOT NULL,
    warnings      INT NOT NULL CHECK (warnings > 0),
    action        VARCHAR(16) NOT NULL CHECK (action IN ('timeout', 'kick', 'ban')),
    duration_secs BIGINT CHECK (duration_secs > 0),
    PRIMARY KEY (guild_id, warnings)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'The automatic action at a number of active warnings.';

CREATE TABLE gateway_sessions (
    shard_id    INT NOT NULL PRIMARY KEY CHECK (shard_id >= 0),
    shard_total INT NOT NULL,
    session_id  TEXT NOT NULL,
    resume_url  TEXT NOT NULL,
    sequence    BIGINT NOT NULL CHECK (sequence >= 0),
    updated_at  BIGINT NOT NULL,
    CONSTRAINT gateway_sessions_shard_total CHECK (shard_total > shard_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Each shard''s Discord session, so a restart resumes instead of losing events.';

CREATE TABLE applied_interactions (
    interaction_id BIGINT NOT NULL PRIMARY KEY,
    guild_id       BIGINT NOT NULL,
    applied_at     BIGINT NOT NULL,
    INDEX applied_interactions_age (applied_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Interactions whose write was applied, recorded in that write''s transaction, so a replay writes nothing; pruned after a day.';

CREATE TABLE welcomed_members (
    guild_id   BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    joined_at  BIGINT NOT NULL,
    left_at    BIGINT,
    session_id TEXT,
    sequence   BIGINT CHECK (sequence >= 0),
    PRIMARY KEY (guild_id, user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'The join each member was last handled for, their departure, and the gateway event that counted it, so a replay acts once.';

CREATE TABLE guilds (
    guild_id     BIGINT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL,
    owner_id     BIGINT,
    member_count BIGINT NOT NULL CHECK (member_count >= 0),
    joined_at    BIGINT,
    left_at      BIGINT,
    updated_at   BIGINT NOT NULL,
    icon         TEXT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'What the gateway told of each guild; read at start-up, as a resumed session gets no GUILD_CREATE.';

CREATE TABLE guild_roles (
    guild_id    BIGINT NOT NULL,
    role_id     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    position    BIGINT NOT NULL COMMENT 'Discord''s position: a higher role outranks a lower one (ties: lower id).',
    permissions BIGINT NOT NULL COMMENT 'Discord''s permission bits, bit for bit in a signed 64-bit integer.',
    managed     BOOLEAN NOT NULL COMMENT 'Managed by an integration: nobody can give it by hand.',
    held_by_bot BOOLEAN NOT NULL DEFAULT FALSE COMMENT 'Keeper holds this role.',
    PRIMARY KEY (guild_id, role_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Each guild''s roles: what role rewards are checked against.';

CREATE TABLE backup_runs (
    period_start BIGINT NOT NULL PRIMARY KEY COMMENT 'The period''s start: a multiple of the interval.',
    claimed_by   TEXT NOT NULL COMMENT 'The process that claimed it: host, process id and a random tag.',
    claimed_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    file         TEXT,
    error        TEXT,
    CONSTRAINT backup_runs_file_or_error CHECK (file IS NULL OR error IS NULL)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Scheduled backups: one row per period, inserted by the one process that takes it.';

CREATE TABLE identify_slots (
    bucket     INT NOT NULL PRIMARY KEY COMMENT 'shard id % max_concurrency.' CHECK (bucket >= 0),
    claimed_at BIGINT NOT NULL COMMENT 'The last claim.'
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Identify pacing across processes: when a bucket was last claimed to IDENTIFY.';

-- Views for operators in the mysql client (0010 on the other backends).

CREATE VIEW active_warnings AS
SELECT guild_id, case_number, target_id, moderator_id, reason, created_at, expires_at
FROM mod_cases
WHERE kind = 'warn'
  AND revoked_at IS NULL
  AND (expires_at IS NULL OR expires_at > CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED));

CREATE VIEW guild_overview AS
WITH known AS (
    SELECT guild_id FROM guilds
    UNION SELECT guild_id FROM guild_settings
    UNION SELECT guild_id FROM member_xp
    UNION SELECT guild_id FROM mod_cases
)
SELECT k.guild_id,
       g.name,
       g.member_count,
       g.left_at,
       (SELECT COUNT(*) FROM member_xp m WHERE m.guild_id = k.guild_id) AS members_with_xp,
       (SELECT CAST(COALESCE(SUM(m.xp), 0) AS SIGNED) FROM member_xp m
        WHERE m.guild_id = k.guild_id) AS total_xp,
       (SELECT COUNT(*) FROM mod_cases c WHERE c.guild_id = k.guild_id) AS cases,
       (SELECT COUNT(*) FROM active_warnings w WHERE w.guild_id = k.guild_id) AS active_warnings,
       s.prefix,
       s.modlog_channel_id,
       s.welcome_channel_id
FROM known k
LEFT JOIN guilds g ON g.guild_id = k.guild_id
LEFT JOIN guild_settings s ON s.guild_id = k.guild_id;

CREATE VIEW leaderboard AS
SELECT m.guild_id,
       ROW_NUMBER() OVER (PARTITION BY m.guild_id ORDER BY m.xp DESC, m.user_id) AS `rank`,
       m.user_id,
       m.xp,
       m.level,
       m.messages,
       p.display_name
FROM member_xp m
LEFT JOIN member_profiles p ON p.guild_id = m.guild_id AND p.user_id = m.user_id;

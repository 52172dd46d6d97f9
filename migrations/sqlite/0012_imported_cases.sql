-- Schema v12 (SQLite): imported warnings. Mirrors
-- migrations/postgres/0012_imported_cases.sql.
--
-- `keeper import-json` turns the warnings of another bot's data.json into
-- cases of source 'import', whose moderator is unknown unless the file names
-- one. SQLite can't alter a CHECK, so mod_cases is rebuilt as in 0009; the two
-- views of 0010 that read it are dropped first (a view naming a dropped table
-- would fail the rename) and created again, unchanged, at the end.

DROP VIEW guild_overview;
DROP VIEW active_warnings;

CREATE TABLE mod_cases_v12 (
    guild_id           INTEGER NOT NULL,
    case_number        INTEGER NOT NULL CHECK (case_number > 0),
    target_id          INTEGER NOT NULL,
    -- NULL only for an act made in Discord's menus whose moderator is unknown, or
    -- an imported warning whose file did not say.
    moderator_id       INTEGER,
    kind               TEXT NOT NULL CHECK (kind IN ('warn', 'timeout', 'kick', 'ban', 'unwarn',
                                                     'note', 'untimeout', 'unban')),
    reason             TEXT,
    created_at         INTEGER NOT NULL,
    -- When a warning stops counting, a timeout or a temporary ban ends.
    expires_at         INTEGER,
    revoked_by         INTEGER,
    revoked_at         INTEGER,
    -- 'keeper' (a command), 'escalation' (automatic), 'discord' (Discord's own menus),
    -- 'import' (`keeper import-json`, from another bot's data).
    source             TEXT NOT NULL DEFAULT 'keeper'
                       CHECK (source IN ('keeper', 'escalation', 'discord', 'import')),
    -- The warning whose count triggered this escalation.
    escalated_from     INTEGER CHECK (escalated_from > 0),
    duration_secs      INTEGER CHECK (duration_secs > 0),
    -- The act at Discord: 'pending' until Discord answered.
    action_status      TEXT NOT NULL DEFAULT 'done'
                       CHECK (action_status IN ('pending', 'done', 'failed')),
    action_error       TEXT,
    -- A temporary ban's lift: NULL (none), 'scheduled' at expires_at, 'lifted', 'failed'.
    lift_status        TEXT CHECK (lift_status IN ('scheduled', 'lifted', 'failed')),
    lift_error         TEXT,
    -- The process lifting it, until when (a lease: past it, another may take over).
    lift_claimed_by    TEXT,
    lift_claimed_until INTEGER,
    lifted_at          INTEGER,
    -- The case's message in the mod-log, edited when the case changes.
    log_channel_id     INTEGER,
    log_message_id     INTEGER,
    -- Whether the warned member was told by DM: NULL (not tried), 'sent', 'failed'.
    dm_status          TEXT CHECK (dm_status IN ('sent', 'failed')),
    PRIMARY KEY (guild_id, case_number),
    CHECK ((revoked_by IS NULL) = (revoked_at IS NULL)),
    CHECK (moderator_id IS NOT NULL OR source IN ('discord', 'import')),
    CHECK ((source = 'escalation') = (escalated_from IS NOT NULL)),
    CHECK ((action_status = 'failed') = (action_error IS NOT NULL)),
    CHECK (lift_status IS NULL OR (kind = 'ban' AND expires_at IS NOT NULL)),
    CHECK ((coalesce(lift_status, '') = 'lifted') = (lifted_at IS NOT NULL)),
    CHECK ((coalesce(lift_status, '') = 'failed') = (lift_error IS NOT NULL)),
    CHECK ((lift_claimed_by IS NULL) = (lift_claimed_until IS NULL)),
    CHECK ((log_channel_id IS NULL) = (log_message_id IS NULL))
) STRICT;

INSERT INTO mod_cases_v12 (guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
       expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
       action_status, action_error, lift_status, lift_error, lift_claimed_by,
       lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status)
SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
       expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
       action_status, action_error, lift_status, lift_error, lift_claimed_by,
       lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
FROM mod_cases;
DROP TABLE mod_cases;
ALTER TABLE mod_cases_v12 RENAME TO mod_cases;

-- A target's cases, newest first (as before).
CREATE INDEX mod_cases_target ON mod_cases (guild_id, target_id, case_number DESC);
CREATE INDEX mod_cases_moderator ON mod_cases (moderator_id);
-- Temporary bans due to be lifted, soonest first.
CREATE INDEX mod_cases_due_lifts ON mod_cases (expires_at) WHERE lift_status = 'scheduled';
-- Acts Discord has not confirmed yet (completed or failed at start-up), oldest first.
CREATE INDEX mod_cases_pending ON mod_cases (created_at, guild_id, case_number)
    WHERE action_status = 'pending';

-- The views of 0010, as they were.
-- Warnings that count now: not revoked, not expired. julianday works in every
-- sqlite3 shell (unixepoch('subsec') needs 3.42).
CREATE VIEW active_warnings AS
SELECT guild_id, case_number, target_id, moderator_id, reason, created_at, expires_at
FROM mod_cases
WHERE kind = 'warn'
  AND revoked_at IS NULL
  AND (expires_at IS NULL
       OR expires_at > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

-- One row per guild Keeper has anything about: what the gateway said of it,
-- how much it keeps there, and its main settings (NULL: the defaults).
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
       (SELECT COALESCE(SUM(m.xp), 0) FROM member_xp m WHERE m.guild_id = k.guild_id) AS total_xp,
       (SELECT COUNT(*) FROM mod_cases c WHERE c.guild_id = k.guild_id) AS cases,
       (SELECT COUNT(*) FROM active_warnings w WHERE w.guild_id = k.guild_id) AS active_warnings,
       s.prefix,
       s.modlog_channel_id,
       s.welcome_channel_id
FROM known k
LEFT JOIN guilds g ON g.guild_id = k.guild_id
LEFT JOIN guild_settings s ON s.guild_id = k.guild_id;

-- Schema v8 (SQLite): what moderation (issue #13) keeps. Mirrors
-- migrations/postgres/0008_moderation.sql, whose COMMENTs say what each column
-- means. (0007 is another change's number.)
--
-- mod_cases gains the kinds 'untimeout' and 'unban' and the state of each act:
-- who made it (`source`), where Discord is with it (`action_status`), the lift
-- of a temporary ban (`lift_*`), its mod-log message and the warned member's DM.
-- SQLite can't change a CHECK in place, so the table is rebuilt: created anew,
-- filled from the old one (rows before v8 were all Keeper's and done), the old
-- one dropped and the new one renamed, its indexes created again. Migrations run
-- in a transaction: a crash midway leaves v7 as it was.

CREATE TABLE mod_cases_v8 (
    guild_id           INTEGER NOT NULL,
    case_number        INTEGER NOT NULL CHECK (case_number > 0),
    target_id          INTEGER NOT NULL,
    moderator_id       INTEGER NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('warn', 'timeout', 'kick', 'ban', 'unwarn',
                                                     'note', 'untimeout', 'unban')),
    reason             TEXT,
    created_at         INTEGER NOT NULL,
    -- When a warning stops counting, a timeout or a temporary ban ends.
    expires_at         INTEGER,
    revoked_by         INTEGER,
    revoked_at         INTEGER,
    -- 'keeper' (a command), 'escalation' (automatic), 'discord' (Discord's own menus).
    source             TEXT NOT NULL DEFAULT 'keeper'
                       CHECK (source IN ('keeper', 'escalation', 'discord')),
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
    CHECK ((source = 'escalation') = (escalated_from IS NOT NULL)),
    CHECK ((action_status = 'failed') = (action_error IS NOT NULL)),
    CHECK (lift_status IS NULL OR (kind = 'ban' AND expires_at IS NOT NULL)),
    CHECK ((coalesce(lift_status, '') = 'lifted') = (lifted_at IS NOT NULL)),
    CHECK ((coalesce(lift_status, '') = 'failed') = (lift_error IS NOT NULL)),
    CHECK ((lift_claimed_by IS NULL) = (lift_claimed_until IS NULL)),
    CHECK ((log_channel_id IS NULL) = (log_message_id IS NULL))
) STRICT;

INSERT INTO mod_cases_v8 (guild_id, case_number, target_id, moderator_id, kind, reason,
                          created_at, expires_at, revoked_by, revoked_at)
SELECT guild_id, case_number, target_id, moderator_id, kind, reason,
       created_at, expires_at, revoked_by, revoked_at
FROM mod_cases;
DROP TABLE mod_cases;
ALTER TABLE mod_cases_v8 RENAME TO mod_cases;

-- A target's cases, newest first (as before v8).
CREATE INDEX mod_cases_target ON mod_cases (guild_id, target_id, case_number DESC);
CREATE INDEX mod_cases_moderator ON mod_cases (moderator_id);
-- Temporary bans due to be lifted, soonest first.
CREATE INDEX mod_cases_due_lifts ON mod_cases (expires_at) WHERE lift_status = 'scheduled';
-- Acts Discord has not confirmed yet (completed or failed at start-up), oldest first.
CREATE INDEX mod_cases_pending ON mod_cases (created_at, guild_id, case_number)
    WHERE action_status = 'pending';

-- Each change of a case's reason, numbered 1, 2, 3... per case (newest last).
CREATE TABLE case_amendments (
    guild_id    INTEGER NOT NULL,
    case_number INTEGER NOT NULL,
    amendment   INTEGER NOT NULL CHECK (amendment > 0),
    amended_at  INTEGER NOT NULL,
    amended_by  INTEGER NOT NULL,
    old_reason  TEXT,
    new_reason  TEXT NOT NULL,
    PRIMARY KEY (guild_id, case_number, amendment)
) STRICT;

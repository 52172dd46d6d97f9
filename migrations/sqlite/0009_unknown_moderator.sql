-- Schema v9 (SQLite): a case's moderator may be unknown. Mirrors
-- migrations/postgres/0009_unknown_moderator.sql.
--
-- A ban or timeout made in Discord's own menus is recorded from the gateway
-- event, which does not say who made it; the audit log does, when Keeper may
-- read it (View Audit Log). Otherwise the moderator is unknown: NULL, and only
-- for such a case. SQLite can't drop a NOT NULL in place, so the table is
-- rebuilt as in 0008: created anew, filled, the old one dropped and the new one
-- renamed, its indexes created again, all in the migration's transaction.

CREATE TABLE mod_cases_v9 (
    guild_id           INTEGER NOT NULL,
    case_number        INTEGER NOT NULL CHECK (case_number > 0),
    target_id          INTEGER NOT NULL,
    -- NULL only for an act made in Discord's menus whose moderator is unknown.
    moderator_id       INTEGER,
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
    CHECK (moderator_id IS NOT NULL OR source = 'discord'),
    CHECK ((source = 'escalation') = (escalated_from IS NOT NULL)),
    CHECK ((action_status = 'failed') = (action_error IS NOT NULL)),
    CHECK (lift_status IS NULL OR (kind = 'ban' AND expires_at IS NOT NULL)),
    CHECK ((coalesce(lift_status, '') = 'lifted') = (lifted_at IS NOT NULL)),
    CHECK ((coalesce(lift_status, '') = 'failed') = (lift_error IS NOT NULL)),
    CHECK ((lift_claimed_by IS NULL) = (lift_claimed_until IS NULL)),
    CHECK ((log_channel_id IS NULL) = (log_message_id IS NULL))
) STRICT;

INSERT INTO mod_cases_v9 (guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
       expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
       action_status, action_error, lift_status, lift_error, lift_claimed_by,
       lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status)
SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
       expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
       action_status, action_error, lift_status, lift_error, lift_claimed_by,
       lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
FROM mod_cases;
DROP TABLE mod_cases;
ALTER TABLE mod_cases_v9 RENAME TO mod_cases;

-- A target's cases, newest first (as before).
CREATE INDEX mod_cases_target ON mod_cases (guild_id, target_id, case_number DESC);
CREATE INDEX mod_cases_moderator ON mod_cases (moderator_id);
-- Temporary bans due to be lifted, soonest first.
CREATE INDEX mod_cases_due_lifts ON mod_cases (expires_at) WHERE lift_status = 'scheduled';
-- Acts Discord has not confirmed yet (completed or failed at start-up), oldest first.
CREATE INDEX mod_cases_pending ON mod_cases (created_at, guild_id, case_number)
    WHERE action_status = 'pending';

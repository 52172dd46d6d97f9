-- Schema v8 (PostgreSQL): what moderation (issue #13) keeps. Mirrors
-- migrations/sqlite/0008_moderation.sql. (0007 is another change's number.)
--
-- mod_cases gains the kinds 'untimeout' and 'unban' and the state of each act:
-- who made it (`source`), where Discord is with it (`action_status`), the lift
-- of a temporary ban (`lift_*`), its mod-log message and the warned member's DM.
-- Rows before v8 were all Keeper's own and done: the defaults say so.

ALTER TABLE mod_cases DROP CONSTRAINT mod_cases_kind_check;
ALTER TABLE mod_cases ADD CONSTRAINT mod_cases_kind_check
    CHECK (kind IN ('warn', 'timeout', 'kick', 'ban', 'unwarn', 'note', 'untimeout', 'unban'));

ALTER TABLE mod_cases
    ADD COLUMN source TEXT NOT NULL DEFAULT 'keeper'
        CHECK (source IN ('keeper', 'escalation', 'discord')),
    ADD COLUMN escalated_from BIGINT CHECK (escalated_from > 0),
    ADD COLUMN duration_secs BIGINT CHECK (duration_secs > 0),
    ADD COLUMN action_status TEXT NOT NULL DEFAULT 'done'
        CHECK (action_status IN ('pending', 'done', 'failed')),
    ADD COLUMN action_error TEXT,
    ADD COLUMN lift_status TEXT CHECK (lift_status IN ('scheduled', 'lifted', 'failed')),
    ADD COLUMN lift_error TEXT,
    ADD COLUMN lift_claimed_by TEXT,
    ADD COLUMN lift_claimed_until TIMESTAMPTZ,
    ADD COLUMN lifted_at TIMESTAMPTZ,
    ADD COLUMN log_channel_id BIGINT,
    ADD COLUMN log_message_id BIGINT,
    ADD COLUMN dm_status TEXT CHECK (dm_status IN ('sent', 'failed')),
    ADD CHECK ((source = 'escalation') = (escalated_from IS NOT NULL)),
    ADD CHECK ((action_status = 'failed') = (action_error IS NOT NULL)),
    ADD CHECK (lift_status IS NULL OR (kind = 'ban' AND expires_at IS NOT NULL)),
    ADD CHECK ((coalesce(lift_status, '') = 'lifted') = (lifted_at IS NOT NULL)),
    ADD CHECK ((coalesce(lift_status, '') = 'failed') = (lift_error IS NOT NULL)),
    ADD CHECK ((lift_claimed_by IS NULL) = (lift_claimed_until IS NULL)),
    ADD CHECK ((log_channel_id IS NULL) = (log_message_id IS NULL));

-- Temporary bans due to be lifted, soonest first.
CREATE INDEX mod_cases_due_lifts ON mod_cases (expires_at) WHERE lift_status = 'scheduled';
-- Acts Discord has not confirmed yet (completed or failed at start-up), oldest first.
CREATE INDEX mod_cases_pending ON mod_cases (created_at, guild_id, case_number)
    WHERE action_status = 'pending';
-- (A target's cases already have mod_cases_target, from 0001.)

COMMENT ON TABLE mod_cases IS 'Moderation cases: warnings, timeouts, kicks, bans, their undoing, notes; Keeper''s own, automatic escalations and what moderators did in Discord''s menus. Numbered 1, 2, 3... per guild.';
COMMENT ON COLUMN mod_cases.kind IS 'warn, timeout, kick, ban, unwarn, note, untimeout or unban.';
COMMENT ON COLUMN mod_cases.expires_at IS 'When a warning stops counting, a timeout or a temporary ban ends; NULL: never.';
COMMENT ON COLUMN mod_cases.source IS 'Who made the act: keeper (a command), escalation (automatic, at a number of warnings), discord (a moderator in Discord''s own menus, recorded from gateway events).';
COMMENT ON COLUMN mod_cases.escalated_from IS 'For an escalation: the case number of the warning whose count triggered it.';
COMMENT ON COLUMN mod_cases.duration_secs IS 'Length of a timeout or a temporary ban, as asked.';
COMMENT ON COLUMN mod_cases.action_status IS 'The act at Discord: pending (recorded, Discord has not answered; completed or failed at start-up after a crash), done, failed. Notes and warnings are done at once.';
COMMENT ON COLUMN mod_cases.action_error IS 'What Discord answered when the act failed.';
COMMENT ON COLUMN mod_cases.lift_status IS 'A temporary ban''s lift: NULL (none, or cancelled by a hand unban), scheduled (at expires_at), lifted, failed.';
COMMENT ON COLUMN mod_cases.lift_error IS 'What Discord answered when the lift failed.';
COMMENT ON COLUMN mod_cases.lift_claimed_by IS 'The process lifting the ban now; with lift_claimed_until, a lease another process may take over once passed.';
COMMENT ON COLUMN mod_cases.lift_claimed_until IS 'When the claim of lift_claimed_by lapses (a process that crashed mid-lift loses it then).';
COMMENT ON COLUMN mod_cases.lifted_at IS 'When the ban was lifted.';
COMMENT ON COLUMN mod_cases.log_channel_id IS 'Channel of the case''s mod-log message, edited when the case changes.';
COMMENT ON COLUMN mod_cases.log_message_id IS 'The case''s mod-log message.';
COMMENT ON COLUMN mod_cases.dm_status IS 'Whether the warned member was told by DM: NULL (not tried), sent, failed.';
COMMENT ON COLUMN escalation_rules.duration_secs IS 'Length of a timeout (up to 28 days) or of a temporary ban; NULL for a kick and a permanent ban.';

CREATE TABLE case_amendments (
    guild_id    BIGINT NOT NULL,
    case_number BIGINT NOT NULL,
    amendment   INTEGER NOT NULL CHECK (amendment > 0),
    amended_at  TIMESTAMPTZ NOT NULL,
    amended_by  BIGINT NOT NULL,
    old_reason  TEXT,
    new_reason  TEXT NOT NULL,
    PRIMARY KEY (guild_id, case_number, amendment)
);
COMMENT ON TABLE case_amendments IS 'Each change of a case''s reason (the case holds the current one), newest last.';
COMMENT ON COLUMN case_amendments.amendment IS '1, 2, 3... per case, in the order they were made.';
COMMENT ON COLUMN case_amendments.amended_by IS 'The moderator who changed the reason.';
COMMENT ON COLUMN case_amendments.old_reason IS 'The reason before (NULL: there was none).';
COMMENT ON COLUMN case_amendments.new_reason IS 'The reason after.';

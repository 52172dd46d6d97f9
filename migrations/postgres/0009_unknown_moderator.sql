-- Schema v9 (PostgreSQL): a case's moderator may be unknown. Mirrors
-- migrations/sqlite/0009_unknown_moderator.sql.
--
-- A ban or timeout made in Discord's own menus is recorded from the gateway
-- event, which does not say who made it; the audit log does, when Keeper may
-- read it (View Audit Log). Otherwise the moderator is unknown: NULL, and only
-- for such a case.

ALTER TABLE mod_cases ALTER COLUMN moderator_id DROP NOT NULL;
ALTER TABLE mod_cases ADD CONSTRAINT mod_cases_moderator_known
    CHECK (moderator_id IS NOT NULL OR source = 'discord');

COMMENT ON COLUMN mod_cases.moderator_id IS 'Who made the act (for an escalation: the moderator of the warning that triggered it); NULL only for an act made in Discord''s menus whose audit log entry Keeper could not read.';

-- Schema v12 (PostgreSQL): imported warnings. Mirrors
-- migrations/sqlite/0012_imported_cases.sql.
--
-- `keeper import-json` turns the warnings of another bot's data.json into
-- cases of source 'import', whose moderator is unknown unless the file names
-- one.

ALTER TABLE mod_cases DROP CONSTRAINT mod_cases_source_check;
ALTER TABLE mod_cases ADD CONSTRAINT mod_cases_source_check
    CHECK (source IN ('keeper', 'escalation', 'discord', 'import'));
ALTER TABLE mod_cases DROP CONSTRAINT mod_cases_moderator_known;
ALTER TABLE mod_cases ADD CONSTRAINT mod_cases_moderator_known
    CHECK (moderator_id IS NOT NULL OR source IN ('discord', 'import'));

COMMENT ON COLUMN mod_cases.source IS 'Who made the act: keeper (a command), escalation (automatic, at a number of warnings), discord (a moderator in Discord''s own menus, recorded from gateway events), import (a warning from another bot''s data, by keeper import-json).';
COMMENT ON COLUMN mod_cases.moderator_id IS 'Who made the act (for an escalation: the moderator of the warning that triggered it); NULL only for an act made in Discord''s menus whose audit log entry Keeper could not read, or an imported warning whose file did not name one.';

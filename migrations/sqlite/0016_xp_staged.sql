-- Schema v16 (SQLite): the XP flush's staging table (issue #13).
--
-- SQLite has one writer. A flush of thousands of members in one transaction
-- held it for 100 ms and more under load, and a /warn that came meanwhile waited
-- for all of it. Now a flush larger than a part (keeper-store-sqlite's
-- PART_MEMBERS) first stores its parts here, with the gateway checkpoints, in one
-- short transaction; then each part is applied to member_xp and deleted in a
-- transaction of its own, and a command waiting for the writer goes between two.
-- A crash between parts leaves the rest here: they are applied at the next flush
-- or at start-up, exactly once (the checkpoints were saved with them, so Discord
-- does not replay their messages).
--
-- Each row is one part: a JSON array of [guild_id, user_id, xp, messages,
-- last_award_at_ms]. Empty except between the parts of a flush; not exported,
-- copied or backed up on its own (a backup of the file holds it, and opening the
-- restored file applies it).
CREATE TABLE xp_staged (
    part   INTEGER PRIMARY KEY,
    awards TEXT NOT NULL
) STRICT;

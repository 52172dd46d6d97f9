-- Schema v7 (PostgreSQL): a member's departure counted once, like their join.
--
-- A resumed session replays every event after the stored checkpoint, and
-- GUILD_MEMBER_REMOVE carries nothing to tell it from its replay (a join has its
-- `joined_at`). So each member's row in `welcomed_members` now also keeps where
-- in the gateway the last member event counted for them was delivered: the
-- session and its sequence number. A replay comes in the same session with a
-- sequence number not above it, and is skipped, even when the member left and
-- came back in between. The count moves in the same transaction as this row,
-- so a crash can't leave one written without the other.

ALTER TABLE welcomed_members ADD COLUMN left_at TIMESTAMPTZ;
ALTER TABLE welcomed_members ADD COLUMN session_id TEXT;
ALTER TABLE welcomed_members ADD COLUMN sequence BIGINT CHECK (sequence >= 0);
COMMENT ON TABLE welcomed_members IS 'The join and departure last counted for each member, so a replayed GUILD_MEMBER_ADD or GUILD_MEMBER_REMOVE is neither welcomed nor counted twice.';
COMMENT ON COLUMN welcomed_members.joined_at IS 'When they last joined (Discord''s joined_at); a later join is new. The epoch when Keeper saw their departure but never their join.';
COMMENT ON COLUMN welcomed_members.left_at IS 'When they left; NULL while present since joined_at.';
COMMENT ON COLUMN welcomed_members.session_id IS 'The gateway session of the last join or departure counted; NULL for rows older than schema v7.';
COMMENT ON COLUMN welcomed_members.sequence IS 'Its sequence number: an event of the same session at or below it is a replay.';

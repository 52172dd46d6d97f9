-- Schema v7 (SQLite): a member's departure counted once, like their join.
--
-- A resumed session replays every event after the stored checkpoint, and
-- GUILD_MEMBER_REMOVE carries nothing to tell it from its replay (a join has its
-- `joined_at`). So each member's row in `welcomed_members` now also keeps where
-- in the gateway the last member event counted for them was delivered: the
-- session and its sequence number. A replay comes in the same session with a
-- sequence number not above it, and is skipped, even when the member left and
-- came back in between. The count moves in the same transaction as this row,
-- so a crash can't leave one written without the other.

-- When the member left (NULL: present since `joined_at`). A departure of a
-- member whose join Keeper never saw writes a row with `joined_at` 0.
ALTER TABLE welcomed_members ADD COLUMN left_at INTEGER;
-- The gateway session and sequence number of the last join or departure counted
-- (NULL for rows written before v7: their replays are told by `joined_at`).
ALTER TABLE welcomed_members ADD COLUMN session_id TEXT;
ALTER TABLE welcomed_members ADD COLUMN sequence INTEGER CHECK (sequence >= 0);

-- Schema v5 (PostgreSQL): what Discord may deliver twice, remembered so its
-- effect happens once. Mirrors migrations/sqlite/0005_replays.sql. After a crash,
-- a resumed session replays every event after the last stored checkpoint:
-- interactions whose writes may already be committed, member joins whose welcome
-- may already be sent.

CREATE TABLE applied_interactions (
    interaction_id BIGINT PRIMARY KEY,
    guild_id       BIGINT NOT NULL,
    applied_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX applied_interactions_age ON applied_interactions (applied_at);
COMMENT ON TABLE applied_interactions IS 'Interactions (slash commands) whose write was applied, recorded in the same transaction, so a replayed interaction writes nothing. Pruned after a day.';
COMMENT ON COLUMN applied_interactions.interaction_id IS 'Discord''s id of the interaction.';
COMMENT ON COLUMN applied_interactions.guild_id IS 'The guild it was run in.';
COMMENT ON COLUMN applied_interactions.applied_at IS 'When its write was committed.';

CREATE TABLE welcomed_members (
    guild_id  BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    joined_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
COMMENT ON TABLE welcomed_members IS 'The join each member was last welcomed for, so a replayed GUILD_MEMBER_ADD is not welcomed twice.';
COMMENT ON COLUMN welcomed_members.guild_id IS 'The guild joined.';
COMMENT ON COLUMN welcomed_members.user_id IS 'The member.';
COMMENT ON COLUMN welcomed_members.joined_at IS 'When they joined (Discord''s joined_at); a later join is welcomed again.';

-- Schema v6 (PostgreSQL): what Keeper knows of each guild from the gateway.
-- Mirrors migrations/sqlite/0006_guilds.sql. Kept so a restart that RESUMEs
-- (Discord sends no GUILD_CREATE after a resume) still knows every guild's name,
-- owner, member count and roles.
--
-- (There is no 0004: 0005 landed first, and the schema version is the highest
-- applied file, so a 0004 applied after it would make that number lie.)

CREATE TABLE guilds (
    guild_id     BIGINT PRIMARY KEY,
    name         TEXT NOT NULL,
    owner_id     BIGINT,
    member_count BIGINT NOT NULL CHECK (member_count >= 0),
    joined_at    TIMESTAMPTZ,
    left_at      TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE guilds IS 'What the gateway told Keeper of each guild it has been in (GUILD_CREATE, GUILD_UPDATE, member joins and leaves), read at start-up: a resumed session gets no GUILD_CREATE.';
COMMENT ON COLUMN guilds.guild_id IS 'Discord''s id of the guild.';
COMMENT ON COLUMN guilds.name IS 'The guild''s name, for {server} in templates.';
COMMENT ON COLUMN guilds.owner_id IS 'The guild owner''s user id (the owner outranks every role).';
COMMENT ON COLUMN guilds.member_count IS 'Members, for {member_count}: GUILD_CREATE''s count, moved by joins and leaves.';
COMMENT ON COLUMN guilds.joined_at IS 'When Keeper joined the guild (GUILD_CREATE''s joined_at).';
COMMENT ON COLUMN guilds.left_at IS 'When Keeper left the guild or it was deleted (GUILD_DELETE without unavailable); NULL while Keeper is in it. For a retention policy.';
COMMENT ON COLUMN guilds.updated_at IS 'When the row last changed.';

-- Roles in a table of their own (one row per role event), the roles Keeper holds
-- flagged on them (a deleted role takes the flag with it); no foreign key to
-- guilds, so a role is never refused because its guild's row failed a moment before.
CREATE TABLE guild_roles (
    guild_id    BIGINT NOT NULL,
    role_id     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    position    BIGINT NOT NULL,
    permissions BIGINT NOT NULL,
    managed     BOOLEAN NOT NULL,
    held_by_bot BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (guild_id, role_id)
);
COMMENT ON TABLE guild_roles IS 'Each guild''s roles (@everyone''s id is the guild''s), from GUILD_CREATE and GUILD_ROLE_CREATE/UPDATE/DELETE: what Keeper checks role rewards against.';
COMMENT ON COLUMN guild_roles.position IS 'Discord''s position: a higher role outranks a lower one (ties: the lower id).';
COMMENT ON COLUMN guild_roles.permissions IS 'Discord''s permission bits, bit for bit in a signed 64-bit integer.';
COMMENT ON COLUMN guild_roles.managed IS 'Managed by an integration (a bot''s role, the booster role): nobody can give it by hand.';
COMMENT ON COLUMN guild_roles.held_by_bot IS 'Keeper itself holds this role.';

-- Schema v6 (SQLite): what Keeper knows of each guild from the gateway, kept so a
-- restart that RESUMEs (Discord sends no GUILD_CREATE after a resume) still knows
-- every guild's name, owner, member count and roles. Written from GUILD_CREATE,
-- GUILD_UPDATE, GUILD_DELETE, the role events and member joins and leaves; read
-- whole at start-up.
--
-- (There is no 0004: 0005 landed first, and the schema version is the highest
-- applied file, so a 0004 applied after it would make that number lie.)

-- One row per guild Keeper has been in. `left_at` is set when Keeper leaves (or
-- the guild is deleted) and cleared when it comes back; the row stays, so a
-- retention policy can tell how long ago a guild was left.
CREATE TABLE guilds (
    guild_id     INTEGER PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    owner_id     INTEGER,
    member_count INTEGER NOT NULL CHECK (member_count >= 0),
    joined_at    INTEGER,
    left_at      INTEGER,
    updated_at   INTEGER NOT NULL
) STRICT;

-- The guild's roles, @everyone included (its id is the guild's). Roles have a
-- table of their own rather than a JSON column: a role event changes one row,
-- not the guild's whole list. Which roles Keeper itself holds is a flag here,
-- not a list on `guilds`: a role Keeper holds is one of the guild's roles, so a
-- deleted role takes the flag with it, and SQLite has no array type. No foreign
-- key to `guilds`: writes arrive in gateway order, and a role must not be
-- refused because its guild's row failed to be written a moment before.
CREATE TABLE guild_roles (
    guild_id    INTEGER NOT NULL,
    role_id     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    -- Discord's position: a higher role outranks a lower one (ties: lower id).
    position    INTEGER NOT NULL,
    -- Discord's permission bits, bit for bit in a signed 64-bit integer.
    permissions INTEGER NOT NULL,
    -- Managed by an integration (a bot's own role, a booster role...): nobody
    -- can give it by hand.
    managed     INTEGER NOT NULL CHECK (managed IN (0, 1)),
    -- Keeper holds this role.
    held_by_bot INTEGER NOT NULL DEFAULT 0 CHECK (held_by_bot IN (0, 1)),
    PRIMARY KEY (guild_id, role_id)
) STRICT;

-- Schema v18 (SQLite): how members and guilds look, for the web leaderboard
-- (issue #16).
--
-- Each member's display name and avatar in each guild, as Keeper last saw them
-- in their messages. The bot offers a member's profile at most once a day, and
-- a row that already says the same is not rewritten, so awards stay as cheap
-- as they were. Keyed by guild first, as every table.
CREATE TABLE member_profiles (
    guild_id     INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    -- Nickname, else global display name, else username, as Discord showed it.
    display_name TEXT NOT NULL,
    -- The same name folded to lower case by Keeper (Unicode's rules, in Rust):
    -- the search by name compares with it, the same way on every backend.
    search_name  TEXT NOT NULL,
    -- The account's avatar hash on Discord's CDN; NULL for the default avatar.
    avatar       TEXT,
    -- When Keeper saw the member so (the message it read it from).
    seen_at      INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) STRICT;

-- The guild's icon hash on Discord's CDN (GUILD_CREATE, GUILD_UPDATE); NULL
-- when it has none, or until Keeper next sees the guild.
ALTER TABLE guilds ADD COLUMN icon TEXT;

-- The operators' leaderboard view (0010) gains each member's name, last.
DROP VIEW leaderboard;
CREATE VIEW leaderboard AS
SELECT m.guild_id,
       ROW_NUMBER() OVER (PARTITION BY m.guild_id ORDER BY m.xp DESC, m.user_id) AS rank,
       m.user_id,
       m.xp,
       m.level,
       m.messages,
       p.display_name
FROM member_xp m
LEFT JOIN member_profiles p ON p.guild_id = m.guild_id AND p.user_id = m.user_id;

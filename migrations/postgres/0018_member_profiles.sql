-- Schema v18 (PostgreSQL): how members and guilds look, for the web
-- leaderboard (issue #16). Mirrors migrations/sqlite/0018_member_profiles.sql.
CREATE TABLE member_profiles (
    guild_id     BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    display_name TEXT NOT NULL,
    search_name  TEXT NOT NULL,
    avatar       TEXT,
    seen_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
COMMENT ON TABLE member_profiles IS 'Each member''s display name and avatar in each guild as Keeper last saw them in their messages, for the web leaderboard; offered at most once a day per member, rewritten only when changed (0018).';
COMMENT ON COLUMN member_profiles.display_name IS 'Nickname, else global display name, else username, as Discord showed it.';
COMMENT ON COLUMN member_profiles.search_name IS 'display_name folded to lower case by Keeper (Unicode''s rules, in Rust): the search by name compares with it, the same way on every backend.';
COMMENT ON COLUMN member_profiles.avatar IS 'The account''s avatar hash on Discord''s CDN; NULL for the default avatar.';
COMMENT ON COLUMN member_profiles.seen_at IS 'When Keeper saw the member so (the message it read it from).';

ALTER TABLE guilds ADD COLUMN icon TEXT;
COMMENT ON COLUMN guilds.icon IS 'The guild''s icon hash on Discord''s CDN (GUILD_CREATE, GUILD_UPDATE); NULL when it has none (0018).';

-- The operators' leaderboard view (0010) gains each member's name, last (a
-- column added at the end keeps CREATE OR REPLACE valid and the view's grants).
CREATE OR REPLACE VIEW leaderboard AS
SELECT m.guild_id,
       ROW_NUMBER() OVER (PARTITION BY m.guild_id ORDER BY m.xp DESC, m.user_id) AS rank,
       m.user_id,
       m.xp,
       m.level,
       m.messages,
       p.display_name
FROM member_xp m
LEFT JOIN member_profiles p ON p.guild_id = m.guild_id AND p.user_id = m.user_id;
COMMENT ON COLUMN leaderboard.display_name IS 'The member''s name as Keeper last saw it in the guild; NULL: not seen speaking since 0018.';

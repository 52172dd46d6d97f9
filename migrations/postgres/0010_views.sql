-- Schema v10 (PostgreSQL): views for people reading the database with psql
-- (docs/OPERATIONS.md has recipes). Mirrors migrations/sqlite/0010_views.sql.
-- Keeper itself never reads them.

CREATE VIEW leaderboard AS
SELECT guild_id,
       ROW_NUMBER() OVER (PARTITION BY guild_id ORDER BY xp DESC, user_id) AS rank,
       user_id,
       xp,
       level,
       messages
FROM member_xp;
COMMENT ON VIEW leaderboard IS 'Every member with XP, placed in their guild as /rank and /leaderboard place them. Filter by guild_id: SELECT * FROM leaderboard WHERE guild_id = ... AND rank <= 10.';
COMMENT ON COLUMN leaderboard.rank IS 'Place in the guild, from 1: more XP first, a tie broken by the lower user id.';
COMMENT ON COLUMN leaderboard.xp IS 'Total XP in the guild.';
COMMENT ON COLUMN leaderboard.level IS 'Level reached with that XP.';
COMMENT ON COLUMN leaderboard.messages IS 'Messages that earned XP.';

CREATE VIEW active_warnings AS
SELECT guild_id, case_number, target_id, moderator_id, reason, created_at, expires_at
FROM mod_cases
WHERE kind = 'warn'
  AND revoked_at IS NULL
  AND (expires_at IS NULL OR expires_at > now());
COMMENT ON VIEW active_warnings IS 'Warnings that count now (toward escalation rules): not revoked, not expired.';
COMMENT ON COLUMN active_warnings.case_number IS 'The warning''s case number in its guild (/case shows it).';
COMMENT ON COLUMN active_warnings.target_id IS 'The warned member.';
COMMENT ON COLUMN active_warnings.moderator_id IS 'Who warned them.';
COMMENT ON COLUMN active_warnings.expires_at IS 'When it stops counting; NULL: never.';

CREATE VIEW guild_overview AS
WITH known AS (
    SELECT guild_id FROM guilds
    UNION SELECT guild_id FROM guild_settings
    UNION SELECT guild_id FROM member_xp
    UNION SELECT guild_id FROM mod_cases
)
SELECT k.guild_id,
       g.name,
       g.member_count,
       g.left_at,
       (SELECT COUNT(*) FROM member_xp m WHERE m.guild_id = k.guild_id) AS members_with_xp,
       (SELECT COALESCE(SUM(m.xp), 0) FROM member_xp m WHERE m.guild_id = k.guild_id)::BIGINT AS total_xp,
       (SELECT COUNT(*) FROM mod_cases c WHERE c.guild_id = k.guild_id) AS cases,
       (SELECT COUNT(*) FROM active_warnings w WHERE w.guild_id = k.guild_id) AS active_warnings,
       s.prefix,
       s.modlog_channel_id,
       s.welcome_channel_id
FROM known k
LEFT JOIN guilds g ON g.guild_id = k.guild_id
LEFT JOIN guild_settings s ON s.guild_id = k.guild_id;
COMMENT ON VIEW guild_overview IS 'One row per guild Keeper keeps anything about: what the gateway said of it, how much Keeper keeps there, its main settings.';
COMMENT ON COLUMN guild_overview.name IS 'The guild''s name as the gateway last said; NULL: never seen since this table existed.';
COMMENT ON COLUMN guild_overview.member_count IS 'Members, as Discord counts them.';
COMMENT ON COLUMN guild_overview.left_at IS 'When Keeper left or was removed; NULL: still there.';
COMMENT ON COLUMN guild_overview.members_with_xp IS 'Members with a member_xp row.';
COMMENT ON COLUMN guild_overview.total_xp IS 'Sum of their XP.';
COMMENT ON COLUMN guild_overview.cases IS 'Moderation cases recorded.';
COMMENT ON COLUMN guild_overview.active_warnings IS 'Warnings that count now (see active_warnings).';
COMMENT ON COLUMN guild_overview.prefix IS 'Text command prefix; NULL: no settings row, the default (!).';
COMMENT ON COLUMN guild_overview.modlog_channel_id IS 'Mod-log channel; NULL: none.';
COMMENT ON COLUMN guild_overview.welcome_channel_id IS 'Welcome channel; NULL: no welcome messages.';

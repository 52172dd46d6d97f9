-- Schema v10 (SQLite): views for people reading the database by hand (the
-- sqlite3 shell). Mirrors migrations/postgres/0010_views.sql, whose COMMENTs
-- say what each column means. Times are milliseconds since the Unix epoch, as
-- in the tables: `datetime(created_at / 1000, 'unixepoch')` shows one. Keeper
-- itself never reads them.

-- Every member with XP, placed in their guild as /rank and /leaderboard place
-- them: more XP first, a tie broken by the lower user id.
CREATE VIEW leaderboard AS
SELECT guild_id,
       ROW_NUMBER() OVER (PARTITION BY guild_id ORDER BY xp DESC, user_id) AS rank,
       user_id,
       xp,
       level,
       messages
FROM member_xp;

-- Warnings that count now: not revoked, not expired. julianday works in every
-- sqlite3 shell (unixepoch('subsec') needs 3.42).
CREATE VIEW active_warnings AS
SELECT guild_id, case_number, target_id, moderator_id, reason, created_at, expires_at
FROM mod_cases
WHERE kind = 'warn'
  AND revoked_at IS NULL
  AND (expires_at IS NULL
       OR expires_at > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

-- One row per guild Keeper has anything about: what the gateway said of it,
-- how much it keeps there, and its main settings (NULL: the defaults).
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
       (SELECT COALESCE(SUM(m.xp), 0) FROM member_xp m WHERE m.guild_id = k.guild_id) AS total_xp,
       (SELECT COUNT(*) FROM mod_cases c WHERE c.guild_id = k.guild_id) AS cases,
       (SELECT COUNT(*) FROM active_warnings w WHERE w.guild_id = k.guild_id) AS active_warnings,
       s.prefix,
       s.modlog_channel_id,
       s.welcome_channel_id
FROM known k
LEFT JOIN guilds g ON g.guild_id = k.guild_id
LEFT JOIN guild_settings s ON s.guild_id = k.guild_id;

-- Schema v17 (SQLite): each guild's choices for rank cards and the web
-- leaderboard (issue #16).
--
-- /rank answers with a card image unless the guild turned it off, in Keeper's
-- accent colour unless the guild chose one; the leaderboard page and its API
-- serve a guild only when it made them public (private answers 404, as for a
-- guild Keeper never saw). Existing guilds get the defaults: cards on, Keeper's
-- accent, private.
ALTER TABLE guild_settings ADD COLUMN rank_card INTEGER NOT NULL DEFAULT 1
    CHECK (rank_card IN (0, 1));
ALTER TABLE guild_settings ADD COLUMN rank_card_accent INTEGER
    CHECK (rank_card_accent BETWEEN 0 AND 16777215);
ALTER TABLE guild_settings ADD COLUMN web_public INTEGER NOT NULL DEFAULT 0
    CHECK (web_public IN (0, 1));

-- Schema v17 (PostgreSQL): each guild's choices for rank cards and the web
-- leaderboard (issue #16).
--
-- /rank answers with a card image unless the guild turned it off, in Keeper's
-- accent colour unless the guild chose one; the leaderboard page and its API
-- serve a guild only when it made them public (private answers 404, as for a
-- guild Keeper never saw). Existing guilds get the defaults: cards on, Keeper's
-- accent, private. Constant defaults: no table rewrite.
ALTER TABLE guild_settings
    ADD COLUMN rank_card BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN rank_card_accent INTEGER CHECK (rank_card_accent BETWEEN 0 AND 16777215),
    ADD COLUMN web_public BOOLEAN NOT NULL DEFAULT FALSE;
COMMENT ON COLUMN guild_settings.rank_card IS 'Whether /rank answers with a card image (its text is sent either way) (0017).';
COMMENT ON COLUMN guild_settings.rank_card_accent IS 'The rank card''s accent colour as 0xRRGGBB; NULL: Keeper''s own (0017).';
COMMENT ON COLUMN guild_settings.web_public IS 'Whether the guild''s leaderboard page and API are served; private (the default) answers 404 (0017).';

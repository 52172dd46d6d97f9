-- Schema v19 (SQLite): nothing changes here.
--
-- On PostgreSQL, 0019 lets the award flush count its own bucket moves instead of
-- a statement trigger copying every awarded row. SQLite's triggers (0014) are
-- row-level already and fire only when a row's bucket changes, so an award that
-- crosses nothing costs them nothing. The file keeps both backends at the same
-- schema version.
SELECT 1;

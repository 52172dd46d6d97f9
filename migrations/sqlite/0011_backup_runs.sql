-- Schema v11 (SQLite): scheduled backups (KEEPER_BACKUP_EVERY). One row per
-- period, inserted by the process that takes that period's backup: with
-- several processes on one database, the insert decides which one does it.
-- Mirrors migrations/postgres/0011_backup_runs.sql. About this database, not
-- Keeper's data: `keeper copy` (and restoring a SQLite backup) do not carry it.
CREATE TABLE backup_runs (
    -- The period's start (ms since the Unix epoch): a multiple of the interval.
    period_start INTEGER PRIMARY KEY NOT NULL,
    -- The process that claimed it: host, process id and a random tag.
    claimed_by   TEXT NOT NULL,
    claimed_at   INTEGER NOT NULL,
    -- When the backup was written, and its file (NULL until then, or for good
    -- when the process stopped or the backup failed: see `error`).
    finished_at  INTEGER,
    file         TEXT,
    error        TEXT,
    CHECK (file IS NULL OR error IS NULL)
) STRICT;

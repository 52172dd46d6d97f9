-- Schema v11 (PostgreSQL): scheduled backups (KEEPER_BACKUP_EVERY). One row per
-- period, inserted by the process that takes that period's backup: with
-- several processes on one database, the insert decides which one does it.
-- Mirrors migrations/sqlite/0011_backup_runs.sql. About this database, not
-- Keeper's data: `keeper copy` (and restoring a SQLite backup) do not carry it.
CREATE TABLE backup_runs (
    period_start TIMESTAMPTZ PRIMARY KEY,
    claimed_by   TEXT NOT NULL,
    claimed_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    file         TEXT,
    error        TEXT,
    CHECK (file IS NULL OR error IS NULL)
);

COMMENT ON TABLE backup_runs IS
    'Scheduled backups (KEEPER_BACKUP_EVERY): one row per period, inserted by the one process that takes its backup.';
COMMENT ON COLUMN backup_runs.period_start IS
    'The period''s start: a multiple of the interval since the Unix epoch, the same in every process.';
COMMENT ON COLUMN backup_runs.claimed_by IS
    'The process that took the period: host, process id and a random tag.';
COMMENT ON COLUMN backup_runs.claimed_at IS 'When it claimed the period.';
COMMENT ON COLUMN backup_runs.finished_at IS
    'When the backup was written or failed; NULL while under way, or for good if the process stopped.';
COMMENT ON COLUMN backup_runs.file IS 'The backup file written (its path on the claiming host).';
COMMENT ON COLUMN backup_runs.error IS 'Why the backup failed, when it did.';

-- The backups of this deployment, as the pipeline-health dashboard shows them: a mirror of the backup
-- location (ANIME_DASHBOARD_BACKUP_URL), which stays the truth. Rewritten from the location by every
-- backup, verification, retention and restore (anime_dashboard.backups.catalog); a backup no longer in the
-- location keeps its row, with deleted_at.
CREATE TABLE core.backups (
    backup_id            text        PRIMARY KEY,   -- YYYYMMDDTHHMMSSZ, when it was taken (UTC)
    location             text        NOT NULL,
    taken_at             timestamptz NOT NULL,
    duration_seconds     numeric     NOT NULL,
    size_bytes           bigint      NOT NULL,
    databases            text[]      NOT NULL,      -- warehouse, superset, airflow
    snapshots            integer     NOT NULL,      -- warehouse snapshots (type, date) it holds
    last_snapshot_date   date,
    verified_at          timestamptz,
    verified             boolean,                   -- NULL: not verified yet
    verification_problems text[],
    deleted_at           timestamptz
);

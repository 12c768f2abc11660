-- The pipeline itself: one row per DAG run that loaded, failed or skipped.

CREATE VIEW analytics.pipeline_runs AS
SELECT m.dag_id,
       m.run_id,
       m.snapshot_type,
       m.snapshot_date,
       m.outcome,
       m.failed_task,
       m.error,
       m.started_at,
       m.finished_at,
       m.duration_seconds,
       m.requests,
       m.retries,
       m.rate_limited,
       m.pages,
       m.received,
       m.distinct_records,
       m.duplicates,
       m.rejected,
       m.inserted,
       m.updated,
       m.removed
FROM core.run_metrics m;
COMMENT ON VIEW analytics.pipeline_runs IS 'One row per snapshot DAG run (Airflow dag_id and run_id): what it fetched, kept, rejected and wrote, how long it took, and how it ended.';
COMMENT ON COLUMN analytics.pipeline_runs.dag_id IS 'The Airflow DAG: jikan_top_anime, jikan_airing, jikan_upcoming or jikan_movies.';
COMMENT ON COLUMN analytics.pipeline_runs.run_id IS 'The Airflow run id (scheduled__..., manual__..., backfill__...).';
COMMENT ON COLUMN analytics.pipeline_runs.snapshot_type IS 'Which list the run loads: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.pipeline_runs.snapshot_date IS 'The snapshot day (UTC) the run was for.';
COMMENT ON COLUMN analytics.pipeline_runs.outcome IS 'success (snapshot loaded), failed (a task failed after its retries) or skipped (nothing to fetch, e.g. a backfill date: Jikan has no history).';
COMMENT ON COLUMN analytics.pipeline_runs.failed_task IS 'For a failed run: the task that failed (extract, validate, upsert or a data quality check).';
COMMENT ON COLUMN analytics.pipeline_runs.error IS 'For a failed or skipped run: why, as the task reported it.';
COMMENT ON COLUMN analytics.pipeline_runs.started_at IS 'When the extract started.';
COMMENT ON COLUMN analytics.pipeline_runs.finished_at IS 'When the run loaded, failed or skipped.';
COMMENT ON COLUMN analytics.pipeline_runs.duration_seconds IS 'finished_at minus started_at, in seconds.';
COMMENT ON COLUMN analytics.pipeline_runs.requests IS 'HTTP requests sent to Jikan, retries included.';
COMMENT ON COLUMN analytics.pipeline_runs.retries IS 'Requests that were retries of an earlier failed one.';
COMMENT ON COLUMN analytics.pipeline_runs.rate_limited IS 'HTTP 429 (rate limited) answers received from Jikan.';
COMMENT ON COLUMN analytics.pipeline_runs.pages IS 'Result pages fetched.';
COMMENT ON COLUMN analytics.pipeline_runs.received IS 'Records received over all pages, duplicates included.';
COMMENT ON COLUMN analytics.pipeline_runs.distinct_records IS 'Valid distinct titles kept for the snapshot.';
COMMENT ON COLUMN analytics.pipeline_runs.duplicates IS 'Records dropped because the same title came twice (Jikan paging shifts).';
COMMENT ON COLUMN analytics.pipeline_runs.rejected IS 'Records that failed validation (kept with their errors in core.rejects).';
COMMENT ON COLUMN analytics.pipeline_runs.inserted IS 'Snapshot rows written new.';
COMMENT ON COLUMN analytics.pipeline_runs.updated IS 'Snapshot rows rewritten (a rerun of the same day).';
COMMENT ON COLUMN analytics.pipeline_runs.removed IS 'Rows of the same day''s snapshot removed because the title is no longer in the list.';

-- The backups of the warehouse and the metadata databases (a mirror of the backup location).
CREATE VIEW analytics.backups AS
SELECT b.backup_id,
       b.taken_at,
       round(extract(epoch FROM now() - b.taken_at) / 3600, 1) AS age_hours,
       b.duration_seconds,
       b.size_bytes,
       array_to_string(b.databases, ', ') AS databases,
       b.snapshots,
       b.last_snapshot_date,
       b.verified,
       b.verified_at,
       array_to_string(b.verification_problems, '; ') AS verification_problems,
       b.deleted_at IS NULL AS kept,
       b.location
FROM core.backups b;
COMMENT ON VIEW analytics.backups IS 'One row per backup of the warehouse (and of Superset''s and Airflow''s metadata): when it was taken, its size, whether a restore of it was verified against its manifest, and whether retention still keeps it.';
COMMENT ON COLUMN analytics.backups.backup_id IS 'The backup''s name in the backup location: when it was taken, YYYYMMDDTHHMMSSZ (UTC).';
COMMENT ON COLUMN analytics.backups.taken_at IS 'When the backup was taken.';
COMMENT ON COLUMN analytics.backups.age_hours IS 'Hours from taken_at to now.';
COMMENT ON COLUMN analytics.backups.duration_seconds IS 'How long taking it took, in seconds.';
COMMENT ON COLUMN analytics.backups.size_bytes IS 'Its files together (pg_dump archives, SQLite copies), in bytes.';
COMMENT ON COLUMN analytics.backups.databases IS 'The databases it holds, comma-separated: warehouse, superset (Superset''s metadata: saved charts, dashboards, queries), airflow (Airflow''s metadata).';
COMMENT ON COLUMN analytics.backups.snapshots IS 'Snapshots (snapshot type and date) of the warehouse it holds.';
COMMENT ON COLUMN analytics.backups.last_snapshot_date IS 'The newest snapshot date it holds.';
COMMENT ON COLUMN analytics.backups.verified IS 'true: restored into a scratch database and found equal to its manifest (rows per table, checksums of the snapshot tables); false: that check failed; NULL: not checked (verification runs at least weekly).';
COMMENT ON COLUMN analytics.backups.verified_at IS 'When it was verified.';
COMMENT ON COLUMN analytics.backups.verification_problems IS 'For a failed verification: what differed, separated by semicolons.';
COMMENT ON COLUMN analytics.backups.kept IS 'false once retention (or someone) removed it from the backup location.';
COMMENT ON COLUMN analytics.backups.location IS 'Where it is: ANIME_DASHBOARD_BACKUP_URL.';

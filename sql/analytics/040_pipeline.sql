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

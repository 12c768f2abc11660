-- A run that failed or skipped. Counts come from the run's newest extract batch when there is one, else
-- from the failed extract's client (%(requests)s ...: its last try's requests, retries, 429s and pages, NULL
-- when unknown); a run that had loaded (a check failed afterwards) keeps its counts and only changes its
-- outcome.
INSERT INTO core.run_metrics AS m
    (dag_id, run_id, snapshot_type, snapshot_date, batch_id, requests, retries, rate_limited, pages,
     received, started_at, finished_at, duration_seconds, outcome, failed_task, error)
SELECT %(dag_id)s, %(run_id)s, %(snapshot_type)s,
       coalesce(%(snapshot_date)s::date, b.snapshot_date, current_date),
       b.batch_id, coalesce(b.requests, %(requests)s), coalesce(b.retries, %(retries)s),
       coalesce(b.rate_limited, %(rate_limited)s), coalesce(b.pages, %(pages)s), b.received,
       b.started_at, clock_timestamp(), extract(epoch FROM clock_timestamp() - b.started_at),
       %(outcome)s, %(failed_task)s, %(error)s
FROM (SELECT 1) one
LEFT JOIN LATERAL (
    SELECT * FROM raw.extract_batches eb
    WHERE eb.dag_id = %(dag_id)s AND eb.run_id = %(run_id)s
    ORDER BY eb.batch_id DESC LIMIT 1) b ON true
ON CONFLICT (dag_id, run_id) DO UPDATE SET
    outcome = EXCLUDED.outcome,
    failed_task = EXCLUDED.failed_task,
    error = EXCLUDED.error,
    finished_at = EXCLUDED.finished_at,
    duration_seconds = extract(epoch FROM EXCLUDED.finished_at - coalesce(m.started_at, EXCLUDED.started_at));

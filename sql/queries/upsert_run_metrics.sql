INSERT INTO core.run_metrics AS m
    (dag_id, run_id, snapshot_type, snapshot_date, batch_id, requests, retries, rate_limited, pages,
     received, distinct_records, duplicates, rejected, inserted, updated, removed, started_at,
     finished_at, duration_seconds, outcome)
SELECT b.dag_id, %(run_id)s, b.snapshot_type, b.snapshot_date, b.batch_id, b.requests, b.retries,
       b.rate_limited, b.pages, b.received,
       c.staged, b.received - c.staged - c.rejected, c.rejected,
       %(inserted)s, %(updated)s, %(removed)s, b.started_at, clock_timestamp(),
       extract(epoch FROM clock_timestamp() - b.started_at), %(outcome)s
FROM raw.extract_batches b
CROSS JOIN LATERAL (
    SELECT (SELECT count(*) FROM core.staged_records WHERE batch_id = b.batch_id) AS staged,
           (SELECT count(*) FROM core.rejects WHERE batch_id = b.batch_id) AS rejected) c
WHERE b.batch_id = %(batch_id)s
ON CONFLICT (dag_id, run_id) DO UPDATE SET
    snapshot_type = EXCLUDED.snapshot_type, snapshot_date = EXCLUDED.snapshot_date,
    batch_id = EXCLUDED.batch_id, requests = EXCLUDED.requests, retries = EXCLUDED.retries,
    rate_limited = EXCLUDED.rate_limited, pages = EXCLUDED.pages, received = EXCLUDED.received,
    distinct_records = EXCLUDED.distinct_records, duplicates = EXCLUDED.duplicates,
    rejected = EXCLUDED.rejected, inserted = EXCLUDED.inserted, updated = EXCLUDED.updated,
    removed = EXCLUDED.removed, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
    duration_seconds = EXCLUDED.duration_seconds, outcome = EXCLUDED.outcome,
    failed_task = NULL, error = NULL;

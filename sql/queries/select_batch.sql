SELECT batch_id, dag_id, run_id, snapshot_type, snapshot_date, requests, retries, rate_limited,
       pages, received, started_at, finished_at
FROM raw.extract_batches
WHERE batch_id = %(batch_id)s;

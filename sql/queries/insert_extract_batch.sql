-- One extract attempt, with the list definition it fetched (its query and page cap; registered as the type's
-- next version when it is new).
INSERT INTO raw.extract_batches
    (dag_id, run_id, snapshot_type, snapshot_date, query, max_pages, definition_id, requests, retries,
     rate_limited, pages, received, started_at, finished_at)
VALUES
    (%(dag_id)s, %(run_id)s, %(snapshot_type)s, %(snapshot_date)s, %(query)s, %(max_pages)s,
     core.list_definition(%(snapshot_type)s, %(query)s, %(max_pages)s), %(requests)s, %(retries)s,
     %(rate_limited)s, %(pages)s, %(received)s, %(started_at)s, %(finished_at)s)
RETURNING batch_id;

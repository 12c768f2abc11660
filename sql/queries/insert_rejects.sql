INSERT INTO core.rejects
    (batch_id, dag_id, run_id, snapshot_type, snapshot_date, page, mal_id, payload, errors)
VALUES %s;

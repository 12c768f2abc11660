INSERT INTO core.staged_records (batch_id, mal_id, list_position, record, payload)
VALUES %s;

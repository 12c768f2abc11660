-- validate is rerunnable: what an earlier attempt staged or rejected for this batch goes first.
DELETE FROM core.staged_records WHERE batch_id = %(batch_id)s;
DELETE FROM core.rejects WHERE batch_id = %(batch_id)s;

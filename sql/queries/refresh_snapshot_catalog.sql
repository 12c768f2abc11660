-- core.snapshots: the catalog row of one snapshot (type, date), recounted.
SELECT core.refresh_snapshot(%(snapshot_type)s, %(snapshot_date)s);

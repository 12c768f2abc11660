-- The snapshots a warehouse holds: one row per snapshot type and date.
SELECT snapshot_type, snapshot_date::text
FROM core.snapshots
ORDER BY 1, 2;

-- What analysts see: per snapshot type, from the analytics views.
SELECT snapshot_type, snapshots, synthetic_snapshots, first_snapshot_date, last_snapshot_date, snapshot_rows,
       titles_tracked
FROM analytics.database_stats ORDER BY snapshot_type;

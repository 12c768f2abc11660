-- Real snapshots from the first day of the range on: the days they hold are skipped, and each synthetic day is
-- built back from the first of them after it (its anchor). With their list definitions.
SELECT snapshot_type, snapshot_date, definition_id
FROM core.snapshots
WHERE NOT synthetic
  AND snapshot_date >= %(start_date)s
ORDER BY snapshot_type, snapshot_date;

-- Real snapshots in the range: the generator skips them.
SELECT snapshot_type, snapshot_date
FROM core.snapshots
WHERE NOT synthetic
  AND snapshot_type = ANY (%(snapshot_types)s::text[])
  AND snapshot_date BETWEEN %(start_date)s AND %(end_date)s
ORDER BY snapshot_date, snapshot_type;

-- history_targets: the snapshots (type, date) to write - every day of the range for every type, except
-- those holding a real snapshot (catalog row with synthetic = false): those are never touched.
CREATE TEMP TABLE history_targets ON COMMIT DROP AS
SELECT t.snapshot_type, d::date AS snapshot_date
FROM unnest(%(snapshot_types)s::text[]) AS t (snapshot_type)
CROSS JOIN generate_series(%(start_date)s::date, %(end_date)s::date, interval '1 day') AS d
WHERE NOT EXISTS (SELECT 1 FROM core.snapshots c
                  WHERE c.snapshot_type = t.snapshot_type AND c.snapshot_date = d::date AND NOT c.synthetic);

ALTER TABLE history_targets ADD PRIMARY KEY (snapshot_type, snapshot_date);
ANALYZE history_targets;

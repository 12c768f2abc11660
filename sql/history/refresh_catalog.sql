-- core.snapshots for every snapshot written, in one statement: what core.refresh_snapshot(type, date)
-- computes for each (a target left without rows loses its catalog row), with loaded_at taken from the
-- rows (the snapshot date) so that reruns leave identical catalog rows, and the definition of the real
-- snapshot the days were built from. Its triggers keep the history rows of those days (core.upkeep_history).
DELETE FROM core.snapshots c
USING history_targets t
WHERE c.snapshot_type = t.snapshot_type AND c.snapshot_date = t.snapshot_date
  AND NOT EXISTS (SELECT 1 FROM core.anime_snapshots s
                  WHERE s.snapshot_type = t.snapshot_type AND s.snapshot_date = t.snapshot_date);

INSERT INTO core.snapshots AS c (snapshot_type, snapshot_date, titles, synthetic, batch_id, run_id, loaded_at,
                                 definition_id)
SELECT s.snapshot_type, s.snapshot_date, count(*), bool_and(s.synthetic), max(s.batch_id), max(s.run_id),
       max(s.loaded_at), t.definition_id
FROM core.anime_snapshots s
JOIN history_targets t ON t.snapshot_type = s.snapshot_type AND t.snapshot_date = s.snapshot_date
GROUP BY s.snapshot_type, s.snapshot_date, t.definition_id
ON CONFLICT (snapshot_type, snapshot_date) DO UPDATE SET
    titles = EXCLUDED.titles, synthetic = EXCLUDED.synthetic, batch_id = EXCLUDED.batch_id,
    run_id = EXCLUDED.run_id, loaded_at = EXCLUDED.loaded_at, definition_id = EXCLUDED.definition_id;


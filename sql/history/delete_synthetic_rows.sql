-- A rerun replaces what an earlier run wrote: the synthetic rows of the snapshots about to be written.
DELETE FROM core.anime_snapshots s
USING history_targets t
WHERE s.snapshot_type = t.snapshot_type
  AND s.snapshot_date = t.snapshot_date
  AND s.synthetic;

-- A rerun for the same date replaces the snapshot: titles no longer in the list leave it (their ids returned).
DELETE FROM core.anime_snapshots s
WHERE s.snapshot_type = %(snapshot_type)s
  AND s.snapshot_date = %(snapshot_date)s
  AND NOT EXISTS (SELECT 1 FROM core.staged_records st
                  WHERE st.batch_id = %(batch_id)s AND st.mal_id = s.mal_id)
RETURNING s.mal_id;

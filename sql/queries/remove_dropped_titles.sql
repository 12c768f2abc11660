-- A rerun for the same date replaces the snapshot: titles no longer in the list leave it (their ids returned).
-- %(mal_ids)s: the titles upsert_snapshot has just written for this batch (every staged one), so the rows to
-- go are found from the snapshot's own rows alone, whatever the statistics of core.staged_records say.
DELETE FROM core.anime_snapshots s
WHERE s.snapshot_type = %(snapshot_type)s
  AND s.snapshot_date = %(snapshot_date)s
  AND s.mal_id <> ALL (%(mal_ids)s::integer[])
RETURNING s.mal_id;

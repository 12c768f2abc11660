-- The anchors' lists: each real snapshot (type, date) the synthetic days are built back from, its titles in
-- list order, and its definition's query (how its synthetic days are ordered).
SELECT s.snapshot_type, s.snapshot_date, s.mal_id, d.query
FROM unnest(%(snapshot_types)s::text[], %(anchor_dates)s::date[]) AS a (snapshot_type, snapshot_date)
JOIN core.anime_snapshots s USING (snapshot_type, snapshot_date)
JOIN core.snapshots c USING (snapshot_type, snapshot_date)
JOIN core.list_definitions d ON d.definition_id = c.definition_id
ORDER BY s.snapshot_type, s.snapshot_date, s.list_position;

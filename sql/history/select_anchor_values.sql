-- Every title's values on each anchor date (where the drift starts), one row per title and date: a title in
-- several lists that day takes the first list's row (by type name), so it drifts the same in all of them.
SELECT DISTINCT ON (s.snapshot_date, s.mal_id)
       s.snapshot_date, s.mal_id, s.snapshot_type, s.score, s.scored_by, s.members, s.favorites, s.rank,
       s.popularity
FROM core.anime_snapshots s
WHERE s.snapshot_date = ANY (%(anchor_dates)s::date[]) AND NOT s.synthetic
ORDER BY s.snapshot_date, s.mal_id, s.snapshot_type;

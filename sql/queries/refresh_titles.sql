-- core.titles and core.title_tags for these titles (NULL: all), recomputed from their snapshot rows, under
-- the lock core.upkeep_titles takes (migration 005): an upsert's titles upkeep and this recomputation never
-- overlap, so neither writes titles from rows the other has not committed yet.
SELECT pg_advisory_xact_lock(hashtextextended('anime_dashboard.titles', 0));
SELECT core.refresh_titles(%(mal_ids)s::integer[]);

-- One snapshot type's rows for the days of the current chunk that are targets: its candidate pool
-- ordered the way the type's Jikan query orders (key and direction filled in by the generator, NULLs
-- last, ties by mal_id - like the replay), cut to the list size. Labelled synthetic: no batch, the
-- generator's run id, a small marker payload; loaded_at is the snapshot date (reruns are identical).
INSERT INTO core.anime_snapshots (
    snapshot_type, snapshot_date, mal_id, list_position, title, title_english, title_japanese, type,
    source, episodes, status, airing, aired_from, aired_to, duration, rating, score, scored_by, rank,
    popularity, members, favorites, season, year, genres, themes, demographics, studios, payload,
    batch_id, run_id, synthetic, loaded_at, updated_at)
SELECT %(snapshot_type)s, r.snapshot_date, r.mal_id, r.list_position, r.title, r.title_english,
       r.title_japanese, r.type, r.source, r.episodes, r.status, r.airing, r.aired_from, r.aired_to,
       r.duration, r.rating, r.score, r.scored_by, r.rank, r.popularity, r.members, r.favorites,
       r.season, r.year, r.genres, r.themes, r.demographics, r.studios,
       jsonb_build_object('synthetic', true, 'generator', %(generator)s::text,
                          'derived_from_mal_id', r.base_mal_id, 'variant', r.variant),
       NULL, %(run_id)s, true, r.snapshot_date::timestamp AT TIME ZONE 'UTC',
       r.snapshot_date::timestamp AT TIME ZONE 'UTC'
FROM (
    SELECT j.*,
           row_number() OVER (PARTITION BY j.snapshot_date ORDER BY {order_key} {direction} NULLS LAST, j.mal_id)
               AS list_position
    FROM (SELECT d.snapshot_date, d.mal_id, d.score, d.scored_by, d.members, d.favorites, d.rank,
                 d.popularity, h.base_mal_id, h.variant, h.corpus_order, h.title, h.title_english,
                 h.title_japanese, h.type, h.source, h.episodes, h.status, h.airing, h.aired_from,
                 h.aired_to, h.duration, h.rating, h.season, h.year, h.genres, h.themes, h.demographics,
                 h.studios
          FROM history_daily d
          JOIN history_pool p ON p.snapshot_type = %(snapshot_type)s AND p.mal_id = d.mal_id
          JOIN history_targets t ON t.snapshot_type = %(snapshot_type)s AND t.snapshot_date = d.snapshot_date
          JOIN history_titles h ON h.mal_id = d.mal_id) j
) r
WHERE r.list_position <= %(list_size)s;

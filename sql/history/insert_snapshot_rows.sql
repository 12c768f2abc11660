-- The rows of one snapshot type's synthetic snapshots of one list definition, for the days of the current
-- chunk: each day's members ordered as that definition orders (key, direction and where NULLs go filled in
-- by the generator: Jikan's literal sort, NULLs smallest), ties in the anchor's order, cut to the list size.
-- Labelled synthetic: no batch, the generator's run id, a small marker payload; loaded_at is the snapshot
-- date (reruns are identical).
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
                          'derived_from_mal_id', r.base_mal_id, 'variant', r.variant,
                          'anchor_date', r.anchor_date),
       NULL, %(run_id)s, true, r.snapshot_date::timestamp AT TIME ZONE 'UTC',
       r.snapshot_date::timestamp AT TIME ZONE 'UTC'
FROM (
    SELECT j.*,
           row_number() OVER (PARTITION BY j.snapshot_date
                              ORDER BY {order_key} {direction} NULLS {nulls}, j.tie_order, j.mal_id) AS list_position
    FROM (SELECT g.snapshot_date, g.anchor_date, g.list_size, m.tie_order, d.mal_id, d.score, d.scored_by,
                 d.members, d.favorites, d.rank, d.popularity, h.base_mal_id, h.variant, h.title,
                 h.title_english, h.title_japanese, h.type, h.source, h.episodes, h.status, h.airing,
                 h.aired_from, h.aired_to, h.duration, h.rating, h.season, h.year, h.genres, h.themes,
                 h.demographics, h.studios
          FROM history_targets g
          JOIN history_members m ON m.snapshot_type = g.snapshot_type AND m.anchor_date = g.anchor_date
                                AND g.t >= m.t_from AND (m.t_to IS NULL OR g.t <= m.t_to)
          JOIN history_daily d ON d.anchor_date = g.anchor_date AND d.snapshot_date = g.snapshot_date
                              AND d.mal_id = m.mal_id
          JOIN history_titles h ON h.anchor_date = g.anchor_date AND h.mal_id = m.mal_id
          WHERE g.snapshot_type = %(snapshot_type)s AND g.definition_id = %(definition_id)s
            AND g.snapshot_date BETWEEN %(chunk_start)s AND %(chunk_end)s) j
) r
WHERE r.list_position <= r.list_size;

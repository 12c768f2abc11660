-- Staged records of one batch -> core.anime_snapshots for (snapshot_type, snapshot_date).
-- The typed columns come from staging as they are, the Jikan object (payload) straight from raw.jikan_pages by
-- its place (page, item): it never goes through the client again.
-- Returns one row per title: its mal_id; inserted = true for a new row, false for an update; was_synthetic =
-- true when the row it replaced was synthetic (the history generator's): the row is real now.
WITH was_synthetic AS (  -- read before the statement writes (every part of it sees the same snapshot)
    SELECT w.mal_id FROM core.anime_snapshots w
    WHERE w.snapshot_type = %(snapshot_type)s AND w.snapshot_date = %(snapshot_date)s AND w.synthetic
)
INSERT INTO core.anime_snapshots AS s (
    snapshot_type, snapshot_date, mal_id, list_position, title, title_english, title_japanese, type,
    source, episodes, status, airing, aired_from, aired_to, duration, rating, score, scored_by, rank,
    popularity, members, favorites, season, year, genres, themes, demographics, studios, payload,
    batch_id, run_id)
SELECT %(snapshot_type)s, %(snapshot_date)s, r.mal_id, r.list_position, r.title, r.title_english,
       r.title_japanese, r.type, r.source, r.episodes, r.status, r.airing, r.aired_from, r.aired_to,
       r.duration, r.rating, r.score, r.scored_by, r.rank, r.popularity, r.members, r.favorites,
       r.season, r.year, coalesce(r.genres, '{}'), coalesce(r.themes, '{}'),
       coalesce(r.demographics, '{}'), coalesce(r.studios, '{}'), r.payload, r.batch_id, %(run_id)s
FROM (
    -- every page of the batch expanded once, each object matched to its staged record by place; OFFSET 0
    -- keeps that lookup a per-object index probe (staged_records_place_idx), so no plan (whatever the
    -- statistics say) can expand a page again for every record on it
    SELECT st.*, o.obj AS payload
    FROM raw.jikan_pages p
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(p.body -> 'data') = 'array' THEN p.body -> 'data' ELSE '[]' END
    ) WITH ORDINALITY AS o (obj, item)
    CROSS JOIN LATERAL (
        SELECT st.batch_id, st.mal_id, st.list_position, st.title, st.title_english, st.title_japanese,
               st.type, st.source, st.episodes, st.status, st.airing, st.aired_from, st.aired_to, st.duration,
               st.rating, st.score, st.scored_by, st.rank, st.popularity, st.members, st.favorites, st.season,
               st.year, st.genres, st.themes, st.demographics, st.studios
        FROM core.staged_records st
        WHERE st.batch_id = p.batch_id AND st.page = p.page AND st.item = o.item AND st.payload IS NULL
        OFFSET 0
    ) AS st
    WHERE p.batch_id = %(batch_id)s
    UNION ALL
    -- rows staged before migration 005 carry the object themselves (staged_records_legacy_payload_idx)
    SELECT st.batch_id, st.mal_id, st.list_position, st.title, st.title_english, st.title_japanese,
           st.type, st.source, st.episodes, st.status, st.airing, st.aired_from, st.aired_to, st.duration,
           st.rating, st.score, st.scored_by, st.rank, st.popularity, st.members, st.favorites, st.season,
           st.year, st.genres, st.themes, st.demographics, st.studios, st.payload
    FROM core.staged_records st
    WHERE st.batch_id = %(batch_id)s AND st.payload IS NOT NULL
) AS r
ON CONFLICT (snapshot_type, snapshot_date, mal_id) DO UPDATE SET
    list_position  = EXCLUDED.list_position,
    title          = EXCLUDED.title,
    title_english  = EXCLUDED.title_english,
    title_japanese = EXCLUDED.title_japanese,
    type           = EXCLUDED.type,
    source         = EXCLUDED.source,
    episodes       = EXCLUDED.episodes,
    status         = EXCLUDED.status,
    airing         = EXCLUDED.airing,
    aired_from     = EXCLUDED.aired_from,
    aired_to       = EXCLUDED.aired_to,
    duration       = EXCLUDED.duration,
    rating         = EXCLUDED.rating,
    score          = EXCLUDED.score,
    scored_by      = EXCLUDED.scored_by,
    rank           = EXCLUDED.rank,
    popularity     = EXCLUDED.popularity,
    members        = EXCLUDED.members,
    favorites      = EXCLUDED.favorites,
    season         = EXCLUDED.season,
    year           = EXCLUDED.year,
    genres         = EXCLUDED.genres,
    themes         = EXCLUDED.themes,
    demographics   = EXCLUDED.demographics,
    studios        = EXCLUDED.studios,
    -- an unchanged object keeps its stored (compressed, TOASTed) value instead of being written again
    payload        = CASE WHEN s.payload = EXCLUDED.payload THEN s.payload ELSE EXCLUDED.payload END,
    batch_id       = EXCLUDED.batch_id,
    run_id         = EXCLUDED.run_id,
    synthetic      = false,
    updated_at     = now()
RETURNING s.mal_id, (xmax = 0) AS inserted, s.mal_id IN (SELECT mal_id FROM was_synthetic) AS was_synthetic;

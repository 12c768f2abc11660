-- Staged records of one batch -> core.anime_snapshots for (snapshot_type, snapshot_date).
-- Returns one row per title: its mal_id, and inserted = true for a new row, false for an update.
INSERT INTO core.anime_snapshots AS s (
    snapshot_type, snapshot_date, mal_id, list_position, title, title_english, title_japanese, type,
    source, episodes, status, airing, aired_from, aired_to, duration, rating, score, scored_by, rank,
    popularity, members, favorites, season, year, genres, themes, demographics, studios, payload,
    batch_id, run_id)
SELECT %(snapshot_type)s, %(snapshot_date)s, r.mal_id, st.list_position, r.title, r.title_english,
       r.title_japanese, r.type, r.source, r.episodes, r.status, r.airing, r.aired_from, r.aired_to,
       r.duration, r.rating, r.score, r.scored_by, r.rank, r.popularity, r.members, r.favorites,
       r.season, r.year, coalesce(r.genres, '{}'), coalesce(r.themes, '{}'),
       coalesce(r.demographics, '{}'), coalesce(r.studios, '{}'), st.payload, st.batch_id, %(run_id)s
FROM core.staged_records st
CROSS JOIN LATERAL jsonb_populate_record(NULL::core.anime_snapshots, st.record) AS r
WHERE st.batch_id = %(batch_id)s
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
    payload        = EXCLUDED.payload,
    batch_id       = EXCLUDED.batch_id,
    run_id         = EXCLUDED.run_id,
    updated_at     = now()
RETURNING s.mal_id, (xmax = 0) AS inserted;

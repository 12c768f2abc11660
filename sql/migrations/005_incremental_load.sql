-- A cheaper load with the same results:
--   1. core.staged_records no longer keeps a second copy of every Jikan object: it records where the object
--      is in raw.jikan_pages (page, 1-based item in the page's `data`) and the upsert takes it from there.
--   2. core.upkeep_titles: the upsert keeps core.titles / core.title_tags from the rows it has just written,
--      instead of recomputing every loaded title from its whole history (core.refresh_titles).
--   3. lz4 TOAST compression for the JSONB columns that hold Jikan objects (new values; old ones stay pglz).

-- 1. Staging: the object's place in its page. payload stays, nullable, for batches staged before this
--    migration (the upsert still takes their objects from it).
ALTER TABLE core.staged_records
    ADD COLUMN page integer,
    ADD COLUMN item integer,
    ALTER COLUMN payload DROP NOT NULL,
    ADD CONSTRAINT staged_records_payload_or_place
        CHECK (payload IS NOT NULL OR (page IS NOT NULL AND item IS NOT NULL));

CREATE UNIQUE INDEX staged_records_place_idx ON core.staged_records (batch_id, page, item);

COMMENT ON COLUMN core.staged_records.page IS 'Page of raw.jikan_pages (same batch) the object is on.';
COMMENT ON COLUMN core.staged_records.item IS '1-based place of the object in that page''s data array.';
COMMENT ON COLUMN core.staged_records.payload IS
    'The object as received; only in rows staged before migration 005.';

-- 2. Titles upkeep after the upsert of one snapshot (p_type, p_date), in its transaction, once its rows are
--    written: p_mal_ids were upserted (p_inserted: a new row, else an update of an existing one), p_removed
--    lost their row of this snapshot. The result is what core.refresh_titles(those ids) gives:
--      * a title already in core.titles that gained or changed a row is updated from its stored title row
--        and that row: first/last seen least/greatest, snapshots + 1 and the type added for a new row,
--        synthetic and-ed; when p_date is on or after its last_seen its attributes and tags are re-picked
--        from its rows of p_date (refresh_titles' tie-break: real before synthetic, then by type), otherwise
--        they stay (a row older than last_seen is never the latest one). Tags are only compared when the
--        latest row's tag arrays may differ from those of the previous latest row, which title_tags holds;
--      * a title not yet in core.titles, or one that lost a row (a removal can move first/last seen, the
--        types and the latest row), goes through core.refresh_titles, from all its rows.
--    It relies on what refresh_titles maintains: core.titles in step with the rows before the upsert.
--    Cost: a few index probes per upserted title, whatever the history. Each lookup is a per-title index
--    probe by construction (LATERAL ... OFFSET 0 / LIMIT 1; titles written through their primary key), so
--    no plan, even on stale statistics, turns it into a scan per title. Serialised by an advisory lock, so
--    concurrent upserts (the four DAGs) each see the rows and titles the others committed.
--    Returns the number of titles written.

-- The tags of one row's arrays, as core.title_tags holds them.
CREATE FUNCTION core.tags_of(p_genres text[], p_themes text[], p_demographics text[], p_studios text[])
RETURNS TABLE (tag_kind text, tag_name text)
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT 'genre', unnest(p_genres) UNION ALL SELECT 'theme', unnest(p_themes)
    UNION ALL SELECT 'demographic', unnest(p_demographics) UNION ALL SELECT 'studio', unnest(p_studios)
$fn$;

CREATE FUNCTION core.upkeep_titles(p_type text, p_date date, p_mal_ids integer[], p_inserted boolean[],
                                   p_removed integer[]) RETURNS integer
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan  -- plan each call with its arrays (and their sizes) known
SET jit = off                            -- milliseconds of work: compiling it would cost more
AS $$
DECLARE
    n integer;
    full_ids integer[];
    stale_ids integer[];
    stale_kinds text[];
    stale_names text[];
BEGIN
    IF cardinality(p_mal_ids) IS DISTINCT FROM cardinality(p_inserted) THEN
        RAISE EXCEPTION 'core.upkeep_titles: % mal_ids but % inserted flags',
            cardinality(p_mal_ids), cardinality(p_inserted);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('anime_dashboard.titles', 0));

    WITH batch AS (  -- the upserted titles already in core.titles, with their stored title row
        SELECT u.mal_id, u.inserted, p_date >= t.last_seen AS repick, s.synthetic AS row_synthetic,
               t.title, t.title_english, t.title_japanese, t.type, t.source, t.episodes, t.status, t.airing,
               t.aired_from, t.aired_to, t.duration, t.rating, t.score, t.scored_by, t.rank, t.popularity,
               t.members, t.favorites, t.season, t.year,
               t.snapshot_types, t.first_seen, t.last_seen, t.snapshots, t.synthetic
        FROM unnest(p_mal_ids, p_inserted) AS u (mal_id, inserted)
        CROSS JOIN LATERAL (SELECT * FROM core.titles t WHERE t.mal_id = u.mal_id OFFSET 0) AS t
        CROSS JOIN LATERAL (
            SELECT s.synthetic FROM core.anime_snapshots s
            WHERE s.snapshot_type = p_type AND s.snapshot_date = p_date AND s.mal_id = u.mal_id
            OFFSET 0) AS s
    ),
    fresh AS (  -- their new title rows, with the tag arrays of the re-picked latest rows
        SELECT b.mal_id, b.repick,
               -- whether the tags may change: a latest row that moves to a later date can only bring other
               -- tags if its arrays differ from those of the previous latest row
               b.repick AND (p_date = b.last_seen
                             OR (a.genres, a.themes, a.demographics, a.studios) IS DISTINCT FROM (
                                 SELECT (s.genres, s.themes, s.demographics, s.studios)
                                 FROM core.anime_snapshots s
                                 WHERE s.mal_id = b.mal_id AND s.snapshot_date = b.last_seen
                                 ORDER BY s.synthetic, s.snapshot_type
                                 LIMIT 1)) AS retag,
               a.title, a.title_english, a.title_japanese, a.type, a.source, a.episodes, a.status, a.airing,
               a.aired_from, a.aired_to, a.duration, a.rating, a.score, a.scored_by, a.rank, a.popularity,
               a.members, a.favorites, a.season, a.year, a.genres, a.themes, a.demographics, a.studios,
               CASE WHEN b.inserted AND NOT p_type = ANY (b.snapshot_types)
                    THEN ARRAY(SELECT x FROM unnest(b.snapshot_types || p_type) AS x ORDER BY x)
                    ELSE b.snapshot_types END AS snapshot_types,
               CASE WHEN b.inserted THEN least(b.first_seen, p_date) ELSE b.first_seen END AS first_seen,
               CASE WHEN b.inserted THEN greatest(b.last_seen, p_date) ELSE b.last_seen END AS last_seen,
               b.snapshots + b.inserted::integer AS snapshots,
               b.synthetic AND (b.row_synthetic OR NOT b.inserted) AS synthetic
        FROM batch b
        CROSS JOIN LATERAL (
            -- p_date on or after last_seen: the latest row is one of the title's rows of p_date
            (SELECT s.title, s.title_english, s.title_japanese, s.type, s.source, s.episodes, s.status,
                    s.airing, s.aired_from, s.aired_to, s.duration, s.rating, s.score, s.scored_by, s.rank,
                    s.popularity, s.members, s.favorites, s.season, s.year,
                    s.genres, s.themes, s.demographics, s.studios
             FROM core.anime_snapshots s
             WHERE b.repick AND s.mal_id = b.mal_id AND s.snapshot_date = p_date
             ORDER BY s.synthetic, s.snapshot_type
             LIMIT 1)
            UNION ALL
            -- an earlier date: the latest row, hence the attributes, stay
            SELECT b.title, b.title_english, b.title_japanese, b.type, b.source, b.episodes, b.status,
                   b.airing, b.aired_from, b.aired_to, b.duration, b.rating, b.score, b.scored_by, b.rank,
                   b.popularity, b.members, b.favorites, b.season, b.year,
                   NULL::text[], NULL::text[], NULL::text[], NULL::text[]
            WHERE NOT b.repick
        ) AS a
    ),
    written AS (  -- through the primary key (every one of them is there), where something changed
        INSERT INTO core.titles AS t (
            mal_id, title, title_english, title_japanese, type, source, episodes, status, airing, aired_from,
            aired_to, duration, rating, score, scored_by, rank, popularity, members, favorites, season, year,
            snapshot_types, first_seen, last_seen, snapshots, synthetic, updated_at)
        SELECT f.mal_id, f.title, f.title_english, f.title_japanese, f.type, f.source, f.episodes, f.status,
               f.airing, f.aired_from, f.aired_to, f.duration, f.rating, f.score, f.scored_by, f.rank,
               f.popularity, f.members, f.favorites, f.season, f.year,
               f.snapshot_types, f.first_seen, f.last_seen, f.snapshots, f.synthetic, now()
        FROM fresh f
        WHERE NOT EXISTS (  -- unchanged titles are left alone, not even locked
            SELECT 1 FROM core.titles t
            WHERE t.mal_id = f.mal_id
              AND (t.title, t.title_english, t.title_japanese, t.type, t.source, t.episodes, t.status, t.airing,
                   t.aired_from, t.aired_to, t.duration, t.rating, t.score, t.scored_by, t.rank, t.popularity,
                   t.members, t.favorites, t.season, t.year,
                   t.snapshot_types, t.first_seen, t.last_seen, t.snapshots, t.synthetic)
                  IS NOT DISTINCT FROM
                  (f.title, f.title_english, f.title_japanese, f.type, f.source, f.episodes, f.status, f.airing,
                   f.aired_from, f.aired_to, f.duration, f.rating, f.score, f.scored_by, f.rank, f.popularity,
                   f.members, f.favorites, f.season, f.year,
                   f.snapshot_types, f.first_seen, f.last_seen, f.snapshots, f.synthetic))
        ON CONFLICT (mal_id) DO UPDATE SET
            title = EXCLUDED.title, title_english = EXCLUDED.title_english,
            title_japanese = EXCLUDED.title_japanese, type = EXCLUDED.type, source = EXCLUDED.source,
            episodes = EXCLUDED.episodes, status = EXCLUDED.status, airing = EXCLUDED.airing,
            aired_from = EXCLUDED.aired_from, aired_to = EXCLUDED.aired_to, duration = EXCLUDED.duration,
            rating = EXCLUDED.rating, score = EXCLUDED.score, scored_by = EXCLUDED.scored_by,
            rank = EXCLUDED.rank, popularity = EXCLUDED.popularity, members = EXCLUDED.members,
            favorites = EXCLUDED.favorites, season = EXCLUDED.season, year = EXCLUDED.year,
            snapshot_types = EXCLUDED.snapshot_types, first_seen = EXCLUDED.first_seen,
            last_seen = EXCLUDED.last_seen, snapshots = EXCLUDED.snapshots, synthetic = EXCLUDED.synthetic,
            updated_at = EXCLUDED.updated_at
        RETURNING t.mal_id
    ),
    added AS (  -- tags of the new latest rows that are not stored yet
        INSERT INTO core.title_tags (mal_id, tag_kind, tag_name)
        SELECT f.mal_id, k.tag_kind, k.tag_name
        FROM fresh f
        CROSS JOIN LATERAL (
            SELECT DISTINCT k.tag_kind, k.tag_name
            FROM core.tags_of(f.genres, f.themes, f.demographics, f.studios) AS k
            WHERE NOT EXISTS (SELECT 1 FROM core.title_tags tt
                              WHERE tt.mal_id = f.mal_id AND tt.tag_kind = k.tag_kind AND tt.tag_name = k.tag_name)
            OFFSET 0) AS k
        WHERE f.retag
    ),
    stale AS (  -- stored tags that the new latest row does not have
        SELECT f.mal_id, tt.tag_kind, tt.tag_name
        FROM fresh f
        CROSS JOIN LATERAL (
            SELECT tt.tag_kind, tt.tag_name FROM core.title_tags tt
            WHERE tt.mal_id = f.mal_id
              AND NOT tt.tag_name = ANY (CASE tt.tag_kind WHEN 'genre' THEN f.genres WHEN 'theme' THEN f.themes
                                         WHEN 'demographic' THEN f.demographics ELSE f.studios END)
            OFFSET 0) AS tt
        WHERE f.retag
    )
    SELECT (SELECT count(*) FROM written), array_agg(st.mal_id), array_agg(st.tag_kind), array_agg(st.tag_name)
    INTO n, stale_ids, stale_kinds, stale_names
    FROM stale st;

    IF stale_ids IS NOT NULL THEN
        DELETE FROM core.title_tags tt
        USING unnest(stale_ids, stale_kinds, stale_names) AS d (mal_id, tag_kind, tag_name)
        WHERE tt.mal_id = d.mal_id AND tt.tag_kind = d.tag_kind AND tt.tag_name = d.tag_name;
    END IF;

    -- New titles (their first row, as a rule) and titles that lost a row: from all their rows.
    SELECT array_agg(x.mal_id) INTO full_ids
    FROM (SELECT u.mal_id FROM unnest(p_mal_ids) AS u (mal_id)
          WHERE NOT EXISTS (SELECT 1 FROM core.titles t WHERE t.mal_id = u.mal_id)
          UNION
          SELECT r.mal_id FROM unnest(p_removed) AS r (mal_id)) AS x;
    IF full_ids IS NOT NULL THEN
        n := n + core.refresh_titles(full_ids);
    END IF;
    RETURN n;
END;
$$;

-- Room on each page of core.titles for the new version of a row: the upkeep rewrites a title's row whenever
-- it gains a row, and with free space on the page that is a HOT update (no new index entries).
ALTER TABLE core.titles SET (fillfactor = 70);

-- 3. lz4 for the JSONB columns holding Jikan objects: it compresses and decompresses much faster than pglz
--    (each upsert compresses every object it stores; validate and upsert both read the raw pages), for a
--    little more space. PostgreSQL >= 14 built --with-lz4; otherwise they keep default_toast_compression.
DO $$
BEGIN
    IF current_setting('server_version_num')::integer < 140000 THEN
        RAISE NOTICE 'PostgreSQL < 14 has no per-column compression: JSONB columns keep pglz';
        RETURN;
    END IF;
    EXECUTE 'ALTER TABLE raw.jikan_pages ALTER COLUMN body SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE core.anime_snapshots ALTER COLUMN payload SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE core.staged_records ALTER COLUMN payload SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE core.rejects ALTER COLUMN payload SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no lz4 (built without --with-lz4): JSONB columns keep %',
        current_setting('default_toast_compression');
END;
$$;

-- The model the analytics views read, kept by the upsert in the same transaction as the snapshot rows:
--   core.snapshots    one row per stored snapshot (type, date): the catalog of what exists
--   core.titles       one row per title ever stored: its attributes as of its latest snapshot
--   core.title_tags   bridge title -> genre / theme / demographic / studio (no JSON exploding at query time)
-- Synthetic history (the history generator) is labelled in every table that holds it.

-- Synthetic rows have no extract batch; real rows always have one.
ALTER TABLE core.anime_snapshots
    ADD COLUMN synthetic boolean NOT NULL DEFAULT false,
    ALTER COLUMN batch_id DROP NOT NULL,
    ADD CONSTRAINT anime_snapshots_batch_unless_synthetic CHECK (synthetic OR batch_id IS NOT NULL);

CREATE TABLE core.snapshots (
    snapshot_type  text        NOT NULL,
    snapshot_date  date        NOT NULL,
    titles         integer     NOT NULL,
    synthetic      boolean     NOT NULL,
    batch_id       bigint      REFERENCES raw.extract_batches (batch_id),
    run_id         text        NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_type, snapshot_date)
);

CREATE TABLE core.titles (
    mal_id          integer     PRIMARY KEY,
    title           text        NOT NULL,
    title_english   text,
    title_japanese  text,
    type            text,
    source          text,
    episodes        integer,
    status          text,
    airing          boolean,
    aired_from      timestamptz,
    aired_to        timestamptz,
    duration        text,
    rating          text,
    score           numeric(4, 2),
    scored_by       integer,
    rank            integer,
    popularity      integer,
    members         integer,
    favorites       integer,
    season          text,
    year            integer,
    snapshot_types  text[]      NOT NULL,
    first_seen      date        NOT NULL,
    last_seen       date        NOT NULL,
    snapshots       integer     NOT NULL,
    synthetic       boolean     NOT NULL,   -- true when every stored snapshot row of it is synthetic
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX titles_title_idx ON core.titles (title);
CREATE INDEX titles_season_idx ON core.titles (year, season);

CREATE TABLE core.title_tags (
    mal_id    integer NOT NULL REFERENCES core.titles (mal_id) ON DELETE CASCADE,
    tag_kind  text    NOT NULL CHECK (tag_kind IN ('genre', 'theme', 'demographic', 'studio')),
    tag_name  text    NOT NULL,
    PRIMARY KEY (mal_id, tag_kind, tag_name)
);
CREATE INDEX title_tags_tag_idx ON core.title_tags (tag_kind, tag_name);

-- Failed and skipped runs are recorded too (by the DAGs' callbacks): their counts may be unknown.
ALTER TABLE core.run_metrics
    ALTER COLUMN batch_id DROP NOT NULL,
    ALTER COLUMN requests DROP NOT NULL,
    ALTER COLUMN retries DROP NOT NULL,
    ALTER COLUMN rate_limited DROP NOT NULL,
    ALTER COLUMN pages DROP NOT NULL,
    ALTER COLUMN received DROP NOT NULL,
    ALTER COLUMN distinct_records DROP NOT NULL,
    ALTER COLUMN duplicates DROP NOT NULL,
    ALTER COLUMN rejected DROP NOT NULL,
    ALTER COLUMN inserted DROP NOT NULL,
    ALTER COLUMN updated DROP NOT NULL,
    ALTER COLUMN removed DROP NOT NULL,
    ALTER COLUMN started_at DROP NOT NULL,
    ALTER COLUMN duration_seconds DROP NOT NULL,
    ADD COLUMN failed_task text,
    ADD COLUMN error text,
    ADD CONSTRAINT run_metrics_outcome CHECK (outcome IN ('success', 'failed', 'skipped'));

-- Existing data: fill the catalog, titles and tags from the snapshots already stored.
INSERT INTO core.snapshots (snapshot_type, snapshot_date, titles, synthetic, batch_id, run_id, loaded_at)
SELECT snapshot_type, snapshot_date, count(*), bool_and(synthetic), max(batch_id), max(run_id), max(loaded_at)
FROM core.anime_snapshots GROUP BY snapshot_type, snapshot_date;

-- Recompute core.titles and core.title_tags for the given titles (NULL: all) from the snapshot rows:
-- attributes from each title's latest row, first/last seen and types from all of its rows. Titles with
-- no snapshot rows left are removed. Called by the upsert (same transaction) and the history generator.
CREATE FUNCTION core.refresh_titles(p_mal_ids integer[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    DELETE FROM core.titles t
    WHERE (p_mal_ids IS NULL OR t.mal_id = ANY (p_mal_ids))
      AND NOT EXISTS (SELECT 1 FROM core.anime_snapshots s WHERE s.mal_id = t.mal_id);

    INSERT INTO core.titles AS t (
        mal_id, title, title_english, title_japanese, type, source, episodes, status, airing, aired_from,
        aired_to, duration, rating, score, scored_by, rank, popularity, members, favorites, season, year,
        snapshot_types, first_seen, last_seen, snapshots, synthetic, updated_at)
    SELECT l.mal_id, l.title, l.title_english, l.title_japanese, l.type, l.source, l.episodes, l.status,
           l.airing, l.aired_from, l.aired_to, l.duration, l.rating, l.score, l.scored_by, l.rank,
           l.popularity, l.members, l.favorites, l.season, l.year,
           a.snapshot_types, a.first_seen, a.last_seen, a.snapshots, a.synthetic, now()
    FROM (SELECT DISTINCT ON (s.mal_id) s.*
          FROM core.anime_snapshots s
          WHERE p_mal_ids IS NULL OR s.mal_id = ANY (p_mal_ids)
          ORDER BY s.mal_id, s.snapshot_date DESC, s.synthetic, s.snapshot_type) l
    JOIN (SELECT s.mal_id, array_agg(DISTINCT s.snapshot_type ORDER BY s.snapshot_type) AS snapshot_types,
                 min(s.snapshot_date) AS first_seen, max(s.snapshot_date) AS last_seen,
                 count(*)::integer AS snapshots, bool_and(s.synthetic) AS synthetic
          FROM core.anime_snapshots s
          WHERE p_mal_ids IS NULL OR s.mal_id = ANY (p_mal_ids)
          GROUP BY s.mal_id) a USING (mal_id)
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
        updated_at = EXCLUDED.updated_at;
    GET DIAGNOSTICS n = ROW_COUNT;

    DELETE FROM core.title_tags tt WHERE p_mal_ids IS NULL OR tt.mal_id = ANY (p_mal_ids);
    INSERT INTO core.title_tags (mal_id, tag_kind, tag_name)
    SELECT DISTINCT l.mal_id, k.tag_kind, k.tag_name
    FROM (SELECT DISTINCT ON (s.mal_id) s.mal_id, s.genres, s.themes, s.demographics, s.studios
          FROM core.anime_snapshots s
          WHERE p_mal_ids IS NULL OR s.mal_id = ANY (p_mal_ids)
          ORDER BY s.mal_id, s.snapshot_date DESC, s.synthetic, s.snapshot_type) l
    CROSS JOIN LATERAL (
        SELECT 'genre', unnest(l.genres) UNION ALL SELECT 'theme', unnest(l.themes)
        UNION ALL SELECT 'demographic', unnest(l.demographics) UNION ALL SELECT 'studio', unnest(l.studios)
    ) AS k (tag_kind, tag_name);
    RETURN n;
END;
$$;

-- Recompute the catalog row of one snapshot (type, date): removed when it has no rows left.
CREATE FUNCTION core.refresh_snapshot(p_type text, p_date date) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM core.snapshots c
    WHERE c.snapshot_type = p_type AND c.snapshot_date = p_date
      AND NOT EXISTS (SELECT 1 FROM core.anime_snapshots s
                      WHERE s.snapshot_type = p_type AND s.snapshot_date = p_date);
    INSERT INTO core.snapshots AS c (snapshot_type, snapshot_date, titles, synthetic, batch_id, run_id, loaded_at)
    SELECT p_type, p_date, count(*), bool_and(s.synthetic), max(s.batch_id), max(s.run_id), now()
    FROM core.anime_snapshots s
    WHERE s.snapshot_type = p_type AND s.snapshot_date = p_date
    HAVING count(*) > 0
    ON CONFLICT (snapshot_type, snapshot_date) DO UPDATE SET
        titles = EXCLUDED.titles, synthetic = EXCLUDED.synthetic, batch_id = EXCLUDED.batch_id,
        run_id = EXCLUDED.run_id, loaded_at = EXCLUDED.loaded_at;
$$;

SELECT core.refresh_titles(NULL);

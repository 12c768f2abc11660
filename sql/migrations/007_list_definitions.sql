-- List definitions: what a snapshot is a snapshot *of*.
--
-- A list's definition is its query on GET /v4/anime and its page cap (include/anime_dashboard/snapshots.py).
-- Changing either changes what the list holds (the seed's `order_by=popularity&sort=desc` listed the least
-- popular titles first; `members desc` lists the most popular), so two snapshots of different definitions are
-- not comparable: the history views compare a snapshot only with the one before it when both have the same
-- definition.
--   core.list_definitions          one row per (snapshot type, query, page cap), versioned per type: 1, 2, ...
--                                  in the order they were first used
--   raw.extract_batches            + max_pages and definition_id: what each extract asked for
--   core.snapshots                 + definition_id: every stored snapshot's definition, synthetic ones too
--   core.list_definition(...)      the id of a definition, registered as the type's next version when new
CREATE TABLE core.list_definitions (
    definition_id  serial      PRIMARY KEY,
    snapshot_type  text        NOT NULL,
    version        integer     NOT NULL,
    query          jsonb       NOT NULL,  -- params on GET /v4/anime, without page and limit
    max_pages      integer     NOT NULL CHECK (max_pages > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (snapshot_type, query, max_pages),
    UNIQUE (snapshot_type, version)
);

CREATE FUNCTION core.list_definition(p_type text, p_query jsonb, p_max_pages integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    found integer;
BEGIN
    SELECT d.definition_id INTO found FROM core.list_definitions d
    WHERE d.snapshot_type = p_type AND d.query = p_query AND d.max_pages = p_max_pages;
    IF found IS NOT NULL THEN
        RETURN found;
    END IF;
    -- a new definition: the type's next version (one writer at a time, so versions never collide)
    PERFORM pg_advisory_xact_lock(hashtextextended('anime_dashboard.list_definitions', 0));
    INSERT INTO core.list_definitions (snapshot_type, version, query, max_pages)
    SELECT p_type, coalesce(max(d.version), 0) + 1, p_query, p_max_pages
    FROM core.list_definitions d WHERE d.snapshot_type = p_type
    ON CONFLICT (snapshot_type, query, max_pages) DO NOTHING
    RETURNING definition_id INTO found;
    IF found IS NULL THEN  -- registered by another transaction while this one waited for the lock
        SELECT d.definition_id INTO found FROM core.list_definitions d
        WHERE d.snapshot_type = p_type AND d.query = p_query AND d.max_pages = p_max_pages;
    END IF;
    RETURN found;
END;
$$;

-- Existing batches: the query each one sent is stored; the page cap is not, but it never changed before this
-- migration: 8 pages for top and 4 for every other type (snapshots.py from the seed until now).
ALTER TABLE raw.extract_batches
    ADD COLUMN max_pages integer,
    ADD COLUMN definition_id integer REFERENCES core.list_definitions (definition_id);
UPDATE raw.extract_batches SET max_pages = CASE snapshot_type WHEN 'top' THEN 8 ELSE 4 END;

-- Synthetic snapshots have no batch: the history generator made them with the seed's table, whose
-- queries are these (the same ones its real batches sent).
CREATE TEMP TABLE seed_definitions (snapshot_type text PRIMARY KEY, query jsonb NOT NULL, max_pages integer NOT NULL)
ON COMMIT DROP;
INSERT INTO seed_definitions VALUES
    ('top',      '{"status": "complete", "order_by": "score", "sort": "desc"}', 8),
    ('airing',   '{"status": "airing", "order_by": "popularity", "sort": "desc"}', 4),
    ('upcoming', '{"status": "upcoming", "order_by": "popularity", "sort": "desc"}', 4),
    ('movies',   '{"type": "movie", "order_by": "popularity", "sort": "desc"}', 4);

DO $$
DECLARE
    orphan text;
BEGIN
    SELECT c.snapshot_type INTO orphan FROM core.snapshots c
    WHERE c.batch_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM seed_definitions s WHERE s.snapshot_type = c.snapshot_type)
    LIMIT 1;
    IF orphan IS NOT NULL THEN
        RAISE EXCEPTION 'core.snapshots holds snapshots of type % without an extract batch, and % is not one of '
                        'the seed''s types: their list definition is unknown', orphan, orphan;
    END IF;
END;
$$;

-- Every definition used so far, versioned per type in the order of first use (its earliest snapshot date).
INSERT INTO core.list_definitions (snapshot_type, version, query, max_pages)
SELECT u.snapshot_type,
       row_number() OVER (PARTITION BY u.snapshot_type ORDER BY u.first_used, u.query::text, u.max_pages),
       u.query, u.max_pages
FROM (SELECT x.snapshot_type, x.query, x.max_pages, min(x.snapshot_date) AS first_used
      FROM (SELECT b.snapshot_type, b.query, b.max_pages, b.snapshot_date FROM raw.extract_batches b
            UNION ALL
            SELECT c.snapshot_type, s.query, s.max_pages, c.snapshot_date
            FROM core.snapshots c JOIN seed_definitions s USING (snapshot_type)
            WHERE c.batch_id IS NULL) x
      GROUP BY x.snapshot_type, x.query, x.max_pages) u;

UPDATE raw.extract_batches b SET definition_id = d.definition_id
FROM core.list_definitions d
WHERE d.snapshot_type = b.snapshot_type AND d.query = b.query AND d.max_pages = b.max_pages;

ALTER TABLE raw.extract_batches
    ALTER COLUMN max_pages SET NOT NULL,
    ALTER COLUMN definition_id SET NOT NULL;

ALTER TABLE core.snapshots ADD COLUMN definition_id integer REFERENCES core.list_definitions (definition_id);
UPDATE core.snapshots c SET definition_id = b.definition_id
FROM raw.extract_batches b WHERE b.batch_id = c.batch_id;
UPDATE core.snapshots c SET definition_id = d.definition_id
FROM seed_definitions s
JOIN core.list_definitions d ON d.snapshot_type = s.snapshot_type AND d.query = s.query AND d.max_pages = s.max_pages
WHERE c.batch_id IS NULL AND s.snapshot_type = c.snapshot_type;
ALTER TABLE core.snapshots ALTER COLUMN definition_id SET NOT NULL;

-- The catalog row of one snapshot now carries its definition: the batch's when it has one (a real load), else
-- the one it had (a synthetic snapshot edited by hand), else the type's newest.
CREATE OR REPLACE FUNCTION core.refresh_snapshot(p_type text, p_date date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    definition integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM core.anime_snapshots s WHERE s.snapshot_type = p_type AND s.snapshot_date = p_date)
    THEN  -- no rows left: no snapshot
        DELETE FROM core.snapshots c WHERE c.snapshot_type = p_type AND c.snapshot_date = p_date;
        RETURN;
    END IF;
    SELECT coalesce(
        (SELECT b.definition_id FROM raw.extract_batches b
         WHERE b.batch_id = (SELECT max(s.batch_id) FROM core.anime_snapshots s
                             WHERE s.snapshot_type = p_type AND s.snapshot_date = p_date)),
        (SELECT c.definition_id FROM core.snapshots c WHERE c.snapshot_type = p_type AND c.snapshot_date = p_date),
        (SELECT d.definition_id FROM core.list_definitions d WHERE d.snapshot_type = p_type
         ORDER BY d.version DESC LIMIT 1))
    INTO definition;
    IF definition IS NULL THEN
        RAISE EXCEPTION 'no list definition for the % snapshot of %: register one with core.list_definition()',
                        p_type, p_date;
    END IF;
    INSERT INTO core.snapshots AS c (snapshot_type, snapshot_date, titles, synthetic, batch_id, run_id, loaded_at,
                                     definition_id)
    SELECT p_type, p_date, count(*), bool_and(s.synthetic), max(s.batch_id), max(s.run_id), now(), definition
    FROM core.anime_snapshots s
    WHERE s.snapshot_type = p_type AND s.snapshot_date = p_date
    ON CONFLICT (snapshot_type, snapshot_date) DO UPDATE SET
        titles = EXCLUDED.titles, synthetic = EXCLUDED.synthetic, batch_id = EXCLUDED.batch_id,
        run_id = EXCLUDED.run_id, loaded_at = EXCLUDED.loaded_at, definition_id = EXCLUDED.definition_id;
END;
$$;

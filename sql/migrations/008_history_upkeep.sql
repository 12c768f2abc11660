-- The history a dashboard reads, kept by the loads instead of recomputed from all history after each one.
--
-- analytics.market_daily and analytics.list_changes were materialized views that scan every snapshot: the
-- analytics_refresh DAG spent 1.3 s on them at 60 days of history, 32 s at 3 years. Now they are tables in
-- core (the analytics views of those names read them), and core.upkeep_history(type, dates) recomputes
-- exactly the rows those snapshots decide, in the transaction that wrote the snapshots (triggers on the
-- catalog core.snapshots call it, once per statement and type):
--   * market_daily: the row of each (type, date) given (none once the snapshot is gone);
--   * list_changes: the rows of each date given, and those of the next snapshot of the type after each
--     (its previous snapshot is the one given, or was, before a removal or a definition change).
-- The full recomputation is the views core.market_daily_computed and core.list_changes_computed (the
-- materialized views' queries): the migration fills the tables from them, and the tests hold the tables
-- equal to them. Upkeep filters market_daily_computed to the dates; list changes it computes a date at a
-- time with that date's previous snapshot known (by primary key, whatever the history).

-- Each snapshot and the one before it of its type, when both have the same list definition.
CREATE VIEW core.snapshot_previous AS
SELECT c.snapshot_type,
       c.snapshot_date,
       CASE WHEN lag(c.definition_id) OVER w = c.definition_id THEN lag(c.snapshot_date) OVER w END AS previous_date
FROM core.snapshots c
WINDOW w AS (PARTITION BY c.snapshot_type ORDER BY c.snapshot_date);

CREATE VIEW core.market_daily_computed AS
SELECT s.snapshot_type,
       s.snapshot_date,
       count(*)::integer AS titles,
       count(s.score)::integer AS scored_titles,
       round(avg(s.score), 3) AS avg_score,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.score)::numeric(5, 3) AS median_score,
       max(s.score) AS max_score,
       sum(s.members)::bigint AS total_members,
       round(avg(s.members))::bigint AS avg_members,
       sum(s.favorites)::bigint AS total_favorites,
       bool_and(s.synthetic) AS is_synthetic,
       d.version AS definition_version,
       s.snapshot_type || ' v' || d.version AS list_version
FROM core.anime_snapshots s
JOIN core.snapshots c USING (snapshot_type, snapshot_date)
JOIN core.list_definitions d ON d.definition_id = c.definition_id
GROUP BY s.snapshot_type, s.snapshot_date, d.version;

CREATE VIEW core.list_changes_computed AS
WITH snaps AS (
    SELECT snapshot_type, snapshot_date, previous_date FROM core.snapshot_previous WHERE previous_date IS NOT NULL)
SELECT n.snapshot_type, n.snapshot_date, n.previous_date AS previous_snapshot_date, 'entered'::text AS change,
       cur.mal_id, cur.title, cur.list_position, cur.score, cur.members, cur.synthetic AS is_synthetic
FROM snaps n
JOIN core.anime_snapshots cur ON cur.snapshot_type = n.snapshot_type AND cur.snapshot_date = n.snapshot_date
WHERE NOT EXISTS (SELECT 1 FROM core.anime_snapshots p
                  WHERE p.snapshot_type = n.snapshot_type AND p.snapshot_date = n.previous_date
                    AND p.mal_id = cur.mal_id)
UNION ALL
SELECT n.snapshot_type, n.snapshot_date, n.previous_date, 'left'::text,
       p.mal_id, p.title, p.list_position, p.score, p.members, p.synthetic
FROM snaps n
JOIN core.anime_snapshots p ON p.snapshot_type = n.snapshot_type AND p.snapshot_date = n.previous_date
WHERE NOT EXISTS (SELECT 1 FROM core.anime_snapshots c
                  WHERE c.snapshot_type = n.snapshot_type AND c.snapshot_date = n.snapshot_date
                    AND c.mal_id = p.mal_id);

CREATE TABLE core.market_daily AS SELECT * FROM core.market_daily_computed;
ALTER TABLE core.market_daily ADD PRIMARY KEY (snapshot_type, snapshot_date);
CREATE TABLE core.list_changes AS SELECT * FROM core.list_changes_computed;
ALTER TABLE core.list_changes ADD PRIMARY KEY (snapshot_type, snapshot_date, mal_id);
CREATE INDEX list_changes_date ON core.list_changes (snapshot_date);
COMMENT ON TABLE core.market_daily IS 'core.market_daily_computed, kept per snapshot by core.upkeep_history.';
COMMENT ON TABLE core.list_changes IS 'core.list_changes_computed, kept per snapshot by core.upkeep_history.';

-- Called once the snapshots of p_type on p_dates are written (or removed) and their catalog rows refreshed.
-- Serialised per type by an advisory lock (taken before core.upkeep_titles' lock, in loads and in the
-- history generator alike: both refresh the catalog first), so two loads of one type on neighbouring dates each see what the other committed:
-- the later one recomputes the rows the earlier one may have computed from rows it could not see yet.
CREATE FUNCTION core.upkeep_history(p_type text, p_dates date[]) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan  -- plan each statement with its dates known
SET enable_nestloop = off  -- a new day is past the statistics (estimated 1 row): a nested-loop anti-join
                           -- then scans the other day once per title, 1000 x 1000; hash joins stay linear
SET jit = off
AS $$
DECLARE
    d date;
    definition integer;
    prev date;
    prev_definition integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('anime_dashboard.history_upkeep.' || p_type, 0));

    DELETE FROM core.market_daily m WHERE m.snapshot_type = p_type AND m.snapshot_date = ANY (p_dates);
    INSERT INTO core.market_daily
    SELECT * FROM core.market_daily_computed v WHERE v.snapshot_type = p_type AND v.snapshot_date = ANY (p_dates);

    -- list changes: each date given and the next snapshot after each, one date at a time with its previous
    -- snapshot known, so each side is read by primary key (the view's anti-joins, planned for unknown
    -- dates, probe each title's whole history instead: a cost that grows with it)
    FOR d IN SELECT DISTINCT x.d FROM (
                 SELECT unnest(p_dates) AS d
                 UNION ALL
                 SELECT (SELECT min(c.snapshot_date) FROM core.snapshots c
                         WHERE c.snapshot_type = p_type AND c.snapshot_date > g.d)
                 FROM unnest(p_dates) g(d)) x
             WHERE x.d IS NOT NULL LOOP
        DELETE FROM core.list_changes l WHERE l.snapshot_type = p_type AND l.snapshot_date = d;
        SELECT c.definition_id INTO definition FROM core.snapshots c
        WHERE c.snapshot_type = p_type AND c.snapshot_date = d;
        CONTINUE WHEN NOT FOUND;  -- no snapshot that day (any more)
        SELECT c.snapshot_date, c.definition_id INTO prev, prev_definition FROM core.snapshots c
        WHERE c.snapshot_type = p_type AND c.snapshot_date < d ORDER BY c.snapshot_date DESC LIMIT 1;
        CONTINUE WHEN NOT FOUND OR prev_definition <> definition;  -- nothing comparable before it
        INSERT INTO core.list_changes
        SELECT p_type, d, prev, 'entered', cur.mal_id, cur.title, cur.list_position, cur.score, cur.members,
               cur.synthetic
        FROM core.anime_snapshots cur
        WHERE cur.snapshot_type = p_type AND cur.snapshot_date = d
          AND NOT EXISTS (SELECT 1 FROM core.anime_snapshots o
                          WHERE o.snapshot_type = p_type AND o.snapshot_date = prev AND o.mal_id = cur.mal_id)
        UNION ALL
        SELECT p_type, d, prev, 'left', o.mal_id, o.title, o.list_position, o.score, o.members, o.synthetic
        FROM core.anime_snapshots o
        WHERE o.snapshot_type = p_type AND o.snapshot_date = prev
          AND NOT EXISTS (SELECT 1 FROM core.anime_snapshots cur
                          WHERE cur.snapshot_type = p_type AND cur.snapshot_date = d AND cur.mal_id = o.mal_id);
    END LOOP;
END;
$$;

-- Whatever changes the catalog (core.refresh_snapshot in a load, the history generator's bulk statements, a
-- definition_id edited by hand) keeps the history of the snapshots it changed: statement-level triggers,
-- one upkeep per type for all the dates of the statement. Every write of snapshot rows refreshes their
-- catalog rows (their counts and loaded_at), so this sees every change of the rows too.
CREATE FUNCTION core.snapshots_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        FOR t IN SELECT x.snapshot_type, array_agg(DISTINCT x.snapshot_date) AS dates
                 FROM (SELECT snapshot_type, snapshot_date FROM changed_rows
                       UNION ALL SELECT snapshot_type, snapshot_date FROM old_rows) x
                 GROUP BY 1 ORDER BY 1 LOOP  -- types in one order: loads lock them alike
            PERFORM core.upkeep_history(t.snapshot_type, t.dates);
        END LOOP;
    ELSE
        FOR t IN SELECT x.snapshot_type, array_agg(DISTINCT x.snapshot_date) AS dates
                 FROM changed_rows x GROUP BY 1 ORDER BY 1 LOOP
            PERFORM core.upkeep_history(t.snapshot_type, t.dates);
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER snapshots_inserted AFTER INSERT ON core.snapshots
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION core.snapshots_changed();
CREATE TRIGGER snapshots_updated AFTER UPDATE ON core.snapshots
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION core.snapshots_changed();
CREATE TRIGGER snapshots_deleted AFTER DELETE ON core.snapshots
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION core.snapshots_changed();

-- History, the reason snapshots exist: per title and day, the market per day, movers, list entries/exits.
-- market_daily and list_changes read tables that each load keeps for the snapshots it writes
-- (core.upkeep_history, migration 008); the others read by index.

CREATE VIEW analytics.title_history AS
SELECT s.snapshot_type,
       s.snapshot_date,
       s.mal_id,
       t.title,
       s.list_position,
       s.score,
       s.rank,
       s.popularity,
       s.members,
       s.favorites,
       s.scored_by,
       s.synthetic AS is_synthetic,
       d.version AS definition_version
FROM core.anime_snapshots s
JOIN core.titles t USING (mal_id)
JOIN core.snapshots c USING (snapshot_type, snapshot_date)
JOIN core.list_definitions d ON d.definition_id = c.definition_id;
COMMENT ON VIEW analytics.title_history IS 'One row per title, snapshot type and day: its figures that day. Filter by title or mal_id (and snapshot_type) - unfiltered it is every stored row.';
COMMENT ON COLUMN analytics.title_history.snapshot_type IS 'Which list: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.title_history.snapshot_date IS 'The day (UTC) of the snapshot.';
COMMENT ON COLUMN analytics.title_history.mal_id IS 'MyAnimeList id of the title.';
COMMENT ON COLUMN analytics.title_history.title IS 'Default (romanised) title, as last seen.';
COMMENT ON COLUMN analytics.title_history.list_position IS 'Place in that day''s list, 1 = first.';
COMMENT ON COLUMN analytics.title_history.score IS 'MyAnimeList user score that day, 0-10.';
COMMENT ON COLUMN analytics.title_history.rank IS 'MyAnimeList rank by score that day, 1 = best.';
COMMENT ON COLUMN analytics.title_history.popularity IS 'MyAnimeList popularity rank that day, 1 = most members.';
COMMENT ON COLUMN analytics.title_history.members IS 'Users with it on their list that day.';
COMMENT ON COLUMN analytics.title_history.favorites IS 'Users who had it as a favourite that day.';
COMMENT ON COLUMN analytics.title_history.scored_by IS 'Users who had scored it that day.';
COMMENT ON COLUMN analytics.title_history.is_synthetic IS 'True when the row is synthetic history (history generator), not fetched from Jikan.';
COMMENT ON COLUMN analytics.title_history.definition_version IS 'Version of the list definition that day''s snapshot was fetched with (see analytics.snapshot_catalog); list positions of two versions are not comparable.';

CREATE VIEW analytics.market_daily AS
SELECT snapshot_type, snapshot_date, titles, scored_titles, avg_score, median_score, max_score, total_members,
       avg_members, total_favorites, is_synthetic, definition_version, list_version
FROM core.market_daily;
COMMENT ON VIEW analytics.market_daily IS 'One row per snapshot type and day: the list as a whole (size, scores, members), with the definition it was fetched with (chart per list_version to compare days). Kept by each load, in its transaction.';
COMMENT ON COLUMN analytics.market_daily.snapshot_type IS 'Which list: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.market_daily.snapshot_date IS 'The day (UTC) of the snapshot.';
COMMENT ON COLUMN analytics.market_daily.titles IS 'Titles in the list that day.';
COMMENT ON COLUMN analytics.market_daily.scored_titles IS 'Of those, titles with a score.';
COMMENT ON COLUMN analytics.market_daily.avg_score IS 'Average score of the scored titles.';
COMMENT ON COLUMN analytics.market_daily.median_score IS 'Median score of the scored titles.';
COMMENT ON COLUMN analytics.market_daily.max_score IS 'Highest score in the list.';
COMMENT ON COLUMN analytics.market_daily.total_members IS 'Sum of members over the list.';
COMMENT ON COLUMN analytics.market_daily.avg_members IS 'Average members per title.';
COMMENT ON COLUMN analytics.market_daily.total_favorites IS 'Sum of favourites over the list.';
COMMENT ON COLUMN analytics.market_daily.is_synthetic IS 'True when that day''s snapshot is synthetic history, not fetched from Jikan.';
COMMENT ON COLUMN analytics.market_daily.definition_version IS 'Version of the list definition (query and page cap) that day''s snapshot was fetched with (see analytics.snapshot_catalog).';
COMMENT ON COLUMN analytics.market_daily.list_version IS 'The list and its definition version, e.g. airing v2: one series per list_version never joins days of two definitions.';

CREATE VIEW analytics.movers AS
WITH latest AS (  -- the newest snapshot of each type (a handful of rows: the joins below stay index probes)
    SELECT c.snapshot_type, c.snapshot_date, c.definition_id
    FROM (SELECT snapshot_type, max(snapshot_date) AS snapshot_date FROM core.snapshots GROUP BY snapshot_type) l
    JOIN core.snapshots c USING (snapshot_type, snapshot_date)),
since AS MATERIALIZED (  -- comparable snapshots are those after the last one of another definition (four
                        -- rows, computed once, not once per title of the joins below)
    SELECT l.*,
           coalesce((SELECT max(o.snapshot_date) FROM core.snapshots o
                     WHERE o.snapshot_type = l.snapshot_type AND o.snapshot_date < l.snapshot_date
                       AND o.definition_id <> l.definition_id), '-infinity'::date) AS after_date
    FROM latest l),
cmp AS (
    SELECT l.snapshot_type, l.snapshot_date,
           (SELECT max(c.snapshot_date) FROM core.snapshots c
            WHERE c.snapshot_type = l.snapshot_type AND c.snapshot_date < l.snapshot_date
              AND c.snapshot_date > l.after_date) AS previous_date,
           (SELECT max(c.snapshot_date) FROM core.snapshots c
            WHERE c.snapshot_type = l.snapshot_type AND c.snapshot_date <= l.snapshot_date - 7
              AND c.snapshot_date > l.after_date) AS week_ago_date,
           (SELECT max(c.snapshot_date) FROM core.snapshots c
            WHERE c.snapshot_type = l.snapshot_type AND c.snapshot_date <= l.snapshot_date - 30
              AND c.snapshot_date > l.after_date) AS month_ago_date
    FROM since l)
SELECT c.snapshot_type,
       c.snapshot_date,
       s.mal_id,
       s.title,
       s.list_position,
       s.rank,
       s.score,
       s.members,
       c.previous_date,
       p.list_position - s.list_position AS position_change,
       p.rank - s.rank AS rank_change,
       s.score - p.score AS score_change,
       s.members - p.members AS members_change,
       c.week_ago_date,
       w.list_position - s.list_position AS position_change_7d,
       w.rank - s.rank AS rank_change_7d,
       s.score - w.score AS score_change_7d,
       s.members - w.members AS members_change_7d,
       c.month_ago_date,
       m.list_position - s.list_position AS position_change_30d,
       m.rank - s.rank AS rank_change_30d,
       s.score - m.score AS score_change_30d,
       s.members - m.members AS members_change_30d,
       s.synthetic AS is_synthetic
FROM cmp c
JOIN core.anime_snapshots s ON s.snapshot_type = c.snapshot_type AND s.snapshot_date = c.snapshot_date
LEFT JOIN core.anime_snapshots p
       ON p.snapshot_type = c.snapshot_type AND p.snapshot_date = c.previous_date AND p.mal_id = s.mal_id
LEFT JOIN core.anime_snapshots w
       ON w.snapshot_type = c.snapshot_type AND w.snapshot_date = c.week_ago_date AND w.mal_id = s.mal_id
LEFT JOIN core.anime_snapshots m
       ON m.snapshot_type = c.snapshot_type AND m.snapshot_date = c.month_ago_date AND m.mal_id = s.mal_id;
COMMENT ON VIEW analytics.movers IS 'Every title of the newest snapshot of each type with its change against the previous snapshot and against the snapshots 7 and 30 days earlier, of the same list definition only (null when it was not in that list then, or when no snapshot of that definition is that old). Positive changes in position and rank mean it moved up.';
COMMENT ON COLUMN analytics.movers.snapshot_type IS 'Which list: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.movers.snapshot_date IS 'Date of the newest snapshot of this type.';
COMMENT ON COLUMN analytics.movers.mal_id IS 'MyAnimeList id of the title.';
COMMENT ON COLUMN analytics.movers.title IS 'Default (romanised) title.';
COMMENT ON COLUMN analytics.movers.list_position IS 'Place in the newest list, 1 = first.';
COMMENT ON COLUMN analytics.movers.rank IS 'MyAnimeList rank by score now, 1 = best.';
COMMENT ON COLUMN analytics.movers.score IS 'Score now, 0-10.';
COMMENT ON COLUMN analytics.movers.members IS 'Members now.';
COMMENT ON COLUMN analytics.movers.previous_date IS 'Date of the previous snapshot of this type, if it has the same list definition (null if there is none, or the newest is the first of a new definition).';
COMMENT ON COLUMN analytics.movers.position_change IS 'Places moved up in the list since the previous snapshot (negative: down; null: new in the list).';
COMMENT ON COLUMN analytics.movers.rank_change IS 'Places gained in MyAnimeList rank since the previous snapshot (negative: lost).';
COMMENT ON COLUMN analytics.movers.score_change IS 'Score now minus score at the previous snapshot.';
COMMENT ON COLUMN analytics.movers.members_change IS 'Members now minus members at the previous snapshot.';
COMMENT ON COLUMN analytics.movers.week_ago_date IS 'Date of the newest snapshot at least 7 days older than the newest one, of the same list definition.';
COMMENT ON COLUMN analytics.movers.position_change_7d IS 'Places moved up in the list since week_ago_date.';
COMMENT ON COLUMN analytics.movers.rank_change_7d IS 'Places gained in MyAnimeList rank since week_ago_date.';
COMMENT ON COLUMN analytics.movers.score_change_7d IS 'Score change since week_ago_date.';
COMMENT ON COLUMN analytics.movers.members_change_7d IS 'Members gained since week_ago_date.';
COMMENT ON COLUMN analytics.movers.month_ago_date IS 'Date of the newest snapshot at least 30 days older than the newest one, of the same list definition.';
COMMENT ON COLUMN analytics.movers.position_change_30d IS 'Places moved up in the list since month_ago_date.';
COMMENT ON COLUMN analytics.movers.rank_change_30d IS 'Places gained in MyAnimeList rank since month_ago_date.';
COMMENT ON COLUMN analytics.movers.score_change_30d IS 'Score change since month_ago_date.';
COMMENT ON COLUMN analytics.movers.members_change_30d IS 'Members gained since month_ago_date.';
COMMENT ON COLUMN analytics.movers.is_synthetic IS 'True when the newest row is synthetic history, not fetched from Jikan.';

CREATE VIEW analytics.list_changes AS
SELECT snapshot_type, snapshot_date, previous_snapshot_date, change, mal_id, title, list_position, score, members,
       is_synthetic
FROM core.list_changes;
COMMENT ON VIEW analytics.list_changes IS 'Titles entering and leaving each list: one row per title that is in a snapshot but not in the previous one of its type (entered), or the other way round (left), when both snapshots have the same list definition (the first snapshot of a new definition has no rows). Kept by each load, in its transaction.';
COMMENT ON COLUMN analytics.list_changes.snapshot_type IS 'Which list: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.list_changes.snapshot_date IS 'The snapshot in which the title entered, or the first one it was missing from.';
COMMENT ON COLUMN analytics.list_changes.previous_snapshot_date IS 'The snapshot of the same type just before snapshot_date (same list definition).';
COMMENT ON COLUMN analytics.list_changes.change IS 'entered or left.';
COMMENT ON COLUMN analytics.list_changes.mal_id IS 'MyAnimeList id of the title.';
COMMENT ON COLUMN analytics.list_changes.title IS 'Default (romanised) title.';
COMMENT ON COLUMN analytics.list_changes.list_position IS 'entered: its place in the new list; left: its place in the list it left.';
COMMENT ON COLUMN analytics.list_changes.score IS 'Score in the snapshot it entered, or the last one it was in.';
COMMENT ON COLUMN analytics.list_changes.members IS 'Members in the snapshot it entered, or the last one it was in.';
COMMENT ON COLUMN analytics.list_changes.is_synthetic IS 'True when the row comes from synthetic history, not from Jikan.';

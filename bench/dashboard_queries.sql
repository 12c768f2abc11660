-- The queries the dashboards (and analysts) run on the analytics views, as Superset would send them.
-- Each starts with "-- name: <name>"; %(title)s and %(mal_id)s are filled by the benchmark with a real title.

-- name: overview_kpis
SELECT titles_tracked, snapshots, snapshot_rows, last_snapshot_date, last_real_snapshot_date FROM analytics.overview;

-- name: database_stats
SELECT snapshot_type, snapshots, first_snapshot_date, last_snapshot_date, snapshot_rows, titles_tracked
FROM analytics.database_stats ORDER BY snapshot_type;

-- name: snapshot_catalog_latest
SELECT snapshot_type, snapshot_date, titles, is_synthetic FROM analytics.snapshot_catalog
WHERE is_latest ORDER BY snapshot_type;

-- name: genre_distribution_bar
SELECT tag_name, sum(titles) AS titles FROM analytics.genre_distribution
WHERE tag_kind = 'genre' AND snapshot_type = 'top' GROUP BY tag_name ORDER BY titles DESC LIMIT 25;

-- name: genre_distribution_table
SELECT snapshot_type, tag_kind, tag_name, titles, share_of_titles, avg_score, avg_members
FROM analytics.genre_distribution ORDER BY titles DESC LIMIT 1000;

-- name: top_rated
SELECT score_rank, title, media_type, score, scored_by, members, in_lists FROM analytics.top_rated
ORDER BY score_rank LIMIT 100;

-- name: seasonal_trends
SELECT season_start, sum(titles) AS titles, round(sum(avg_score * scored_titles) / nullif(sum(scored_titles), 0), 2) AS avg_score,
       sum(total_members) AS members
FROM analytics.seasonal_trends GROUP BY season_start ORDER BY season_start;

-- name: studio_leaderboard
SELECT studio_rank, studio, titles, avg_score, total_members, best_title FROM analytics.studio_leaderboard
WHERE snapshot_type = 'top' ORDER BY studio_rank LIMIT 20;

-- name: catalog_mix
SELECT snapshot_type, dimension, value, titles, share_of_titles FROM analytics.catalog_mix
ORDER BY snapshot_type, dimension, titles DESC;

-- name: latest_snapshot_table
SELECT list_position, title, media_type, score, members, genres, studios FROM analytics.latest_snapshot
WHERE snapshot_type = 'airing' ORDER BY list_position LIMIT 100;

-- name: market_daily_trend
SELECT snapshot_date, list_version, avg_score, median_score, total_members FROM analytics.market_daily
ORDER BY snapshot_date, list_version;

-- name: title_history_by_title
SELECT snapshot_date, snapshot_type, score, rank, popularity, members, favorites FROM analytics.title_history
WHERE title = %(title)s ORDER BY snapshot_date;

-- name: title_history_by_title_and_type
SELECT snapshot_date, score, rank, members FROM analytics.title_history
WHERE title = %(title)s AND snapshot_type = 'top' ORDER BY snapshot_date;

-- name: title_history_by_mal_id
SELECT snapshot_date, snapshot_type, list_position, score, members FROM analytics.title_history
WHERE mal_id = %(mal_id)s ORDER BY snapshot_date;

-- name: movers_by_members_7d
SELECT title, list_position, position_change_7d, members_change_7d, score_change_7d FROM analytics.movers
WHERE snapshot_type = 'top' ORDER BY members_change_7d DESC NULLS LAST LIMIT 20;

-- name: movers_by_position
SELECT snapshot_type, title, position_change, rank_change, score_change FROM analytics.movers
ORDER BY abs(position_change) DESC NULLS LAST LIMIT 50;

-- name: list_changes_latest
SELECT snapshot_type, change, title, list_position FROM analytics.list_changes
WHERE snapshot_date = (SELECT max(snapshot_date) FROM analytics.snapshot_catalog) ORDER BY snapshot_type, change, list_position;

-- name: list_changes_per_day
SELECT snapshot_date, change, count(*) AS titles FROM analytics.list_changes
WHERE snapshot_date >= (SELECT max(snapshot_date) - 90 FROM analytics.snapshot_catalog)
GROUP BY snapshot_date, change ORDER BY snapshot_date;

-- name: pipeline_runs
SELECT dag_id, snapshot_date, outcome, duration_seconds, requests, rate_limited, inserted, updated, rejected
FROM analytics.pipeline_runs ORDER BY finished_at DESC LIMIT 100;

-- name: title_filter_values
SELECT title FROM analytics.titles ORDER BY members DESC NULLS LAST LIMIT 1000;

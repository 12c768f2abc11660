-- The market today: distributions over the newest snapshot of each type, and seasons over all titles.

CREATE VIEW analytics.genre_distribution AS
WITH latest AS (
    SELECT snapshot_type, snapshot_date, mal_id, score, members FROM analytics.latest_snapshot),
sizes AS (
    SELECT snapshot_type, count(*) AS list_size FROM latest GROUP BY snapshot_type)
SELECT l.snapshot_type,
       l.snapshot_date,
       tt.tag_kind,
       tt.tag_name,
       count(*)::integer AS titles,
       round(count(*)::numeric / z.list_size, 4) AS share_of_titles,
       round(avg(l.score), 2) AS avg_score,
       round(avg(l.members))::bigint AS avg_members,
       sum(l.members)::bigint AS total_members
FROM latest l
JOIN core.title_tags tt ON tt.mal_id = l.mal_id AND tt.tag_kind IN ('genre', 'theme', 'demographic')
JOIN sizes z USING (snapshot_type)
GROUP BY l.snapshot_type, l.snapshot_date, tt.tag_kind, tt.tag_name, z.list_size;
COMMENT ON VIEW analytics.genre_distribution IS 'Genres, themes and demographics in the newest snapshot of each type: how many titles carry each, and how they score.';
COMMENT ON COLUMN analytics.genre_distribution.snapshot_type IS 'Which list: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.genre_distribution.snapshot_date IS 'Date of the newest snapshot of this type (the one counted).';
COMMENT ON COLUMN analytics.genre_distribution.tag_kind IS 'genre, theme or demographic.';
COMMENT ON COLUMN analytics.genre_distribution.tag_name IS 'The genre, theme or demographic, e.g. Action, Isekai, Shounen.';
COMMENT ON COLUMN analytics.genre_distribution.titles IS 'Titles in the list that carry this tag (a title with three genres counts once for each).';
COMMENT ON COLUMN analytics.genre_distribution.share_of_titles IS 'titles divided by the number of titles in the list (0-1; shares of one kind can add up to more than 1).';
COMMENT ON COLUMN analytics.genre_distribution.avg_score IS 'Average score of those titles (scored ones only).';
COMMENT ON COLUMN analytics.genre_distribution.avg_members IS 'Average members of those titles.';
COMMENT ON COLUMN analytics.genre_distribution.total_members IS 'Sum of members of those titles.';

CREATE VIEW analytics.top_rated AS
WITH latest AS (
    SELECT * FROM analytics.latest_snapshot WHERE score IS NOT NULL),
per_title AS (
    SELECT DISTINCT ON (mal_id) * FROM latest ORDER BY mal_id, snapshot_date DESC, snapshot_type),
lists AS (
    SELECT mal_id, string_agg(snapshot_type, ', ' ORDER BY snapshot_type) AS in_lists
    FROM latest GROUP BY mal_id)
SELECT rank() OVER (ORDER BY p.score DESC, p.scored_by DESC NULLS LAST)::integer AS score_rank,
       p.mal_id, p.title, p.title_english, p.media_type, p.score, p.scored_by, p.rank, p.members,
       p.favorites, p.season, p.year, p.genres, p.studios, l.in_lists, p.snapshot_date, p.is_synthetic,
       p.url
FROM per_title p
JOIN lists l USING (mal_id);
COMMENT ON VIEW analytics.top_rated IS 'Every scored title in the newest snapshots (all types, each title once), ranked by score.';
COMMENT ON COLUMN analytics.top_rated.score_rank IS 'Place by score among these titles, 1 = best (ties share a place; more scorers wins a tie).';
COMMENT ON COLUMN analytics.top_rated.mal_id IS 'MyAnimeList id of the title.';
COMMENT ON COLUMN analytics.top_rated.title IS 'Default (romanised) title.';
COMMENT ON COLUMN analytics.top_rated.title_english IS 'English title, when MyAnimeList has one.';
COMMENT ON COLUMN analytics.top_rated.media_type IS 'Format: TV, Movie, OVA, ONA, Special, Music, ...';
COMMENT ON COLUMN analytics.top_rated.score IS 'MyAnimeList user score, 0-10.';
COMMENT ON COLUMN analytics.top_rated.scored_by IS 'Number of users who scored it.';
COMMENT ON COLUMN analytics.top_rated.rank IS 'MyAnimeList''s own rank by score, 1 = best, over all of MyAnimeList.';
COMMENT ON COLUMN analytics.top_rated.members IS 'Users who have it on their list.';
COMMENT ON COLUMN analytics.top_rated.favorites IS 'Users who marked it as a favourite.';
COMMENT ON COLUMN analytics.top_rated.season IS 'Premiere season.';
COMMENT ON COLUMN analytics.top_rated.year IS 'Premiere year.';
COMMENT ON COLUMN analytics.top_rated.genres IS 'Genres, comma-separated.';
COMMENT ON COLUMN analytics.top_rated.studios IS 'Animation studios, comma-separated.';
COMMENT ON COLUMN analytics.top_rated.in_lists IS 'The newest lists it is in, comma-separated (top, airing, upcoming, movies).';
COMMENT ON COLUMN analytics.top_rated.snapshot_date IS 'Date of the snapshot these figures come from.';
COMMENT ON COLUMN analytics.top_rated.is_synthetic IS 'True when the figures are synthetic history, not fetched from Jikan.';
COMMENT ON COLUMN analytics.top_rated.url IS 'The title''s MyAnimeList page.';

CREATE VIEW analytics.seasonal_trends AS
SELECT t.year,
       t.season,
       make_date(t.year, CASE t.season WHEN 'winter' THEN 1 WHEN 'spring' THEN 4
                                       WHEN 'summer' THEN 7 WHEN 'fall' THEN 10 END, 1) AS season_start,
       t.synthetic AS is_synthetic,
       count(*)::integer AS titles,
       count(t.score)::integer AS scored_titles,
       round(avg(t.score), 2) AS avg_score,
       round(avg(t.members))::bigint AS avg_members,
       sum(t.members)::bigint AS total_members
FROM core.titles t
WHERE t.year IS NOT NULL AND t.season IN ('winter', 'spring', 'summer', 'fall')
GROUP BY t.year, t.season, t.synthetic;
COMMENT ON VIEW analytics.seasonal_trends IS 'Per premiere year and season, over every title ever stored (its latest figures): how many, how they score, how many members.';
COMMENT ON COLUMN analytics.seasonal_trends.year IS 'Premiere year.';
COMMENT ON COLUMN analytics.seasonal_trends.season IS 'Premiere season: winter, spring, summer or fall.';
COMMENT ON COLUMN analytics.seasonal_trends.season_start IS 'First day of the season (winter = January, spring = April, summer = July, fall = October), for time axes.';
COMMENT ON COLUMN analytics.seasonal_trends.is_synthetic IS 'True for the row counting synthetic title variants (history generator); filter it out for real titles only.';
COMMENT ON COLUMN analytics.seasonal_trends.titles IS 'Titles that premiered in that season.';
COMMENT ON COLUMN analytics.seasonal_trends.scored_titles IS 'Of those, titles with a score.';
COMMENT ON COLUMN analytics.seasonal_trends.avg_score IS 'Average score of the scored titles.';
COMMENT ON COLUMN analytics.seasonal_trends.avg_members IS 'Average members per title.';
COMMENT ON COLUMN analytics.seasonal_trends.total_members IS 'Sum of members of the titles.';

CREATE VIEW analytics.studio_leaderboard AS
WITH latest AS (
    SELECT l.snapshot_type, l.snapshot_date, l.mal_id, l.title, l.score, l.members
    FROM analytics.latest_snapshot l),
per_studio AS (
    SELECT l.snapshot_type, l.snapshot_date, tt.tag_name AS studio,
           count(*)::integer AS titles,
           round(avg(l.score), 2) AS avg_score,
           sum(l.members)::bigint AS total_members,
           (array_agg(l.title ORDER BY l.score DESC NULLS LAST, l.mal_id))[1] AS best_title,
           max(l.score) AS best_score
    FROM latest l
    JOIN core.title_tags tt ON tt.mal_id = l.mal_id AND tt.tag_kind = 'studio'
    GROUP BY l.snapshot_type, l.snapshot_date, tt.tag_name)
SELECT rank() OVER (PARTITION BY snapshot_type
                    ORDER BY titles DESC, avg_score DESC NULLS LAST)::integer AS studio_rank,
       *
FROM per_studio;
COMMENT ON VIEW analytics.studio_leaderboard IS 'Animation studios in the newest snapshot of each type: how many titles each has in the list and how they do.';
COMMENT ON COLUMN analytics.studio_leaderboard.studio_rank IS 'Place within the list by titles, then by average score; 1 = most titles.';
COMMENT ON COLUMN analytics.studio_leaderboard.snapshot_type IS 'Which list: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.studio_leaderboard.snapshot_date IS 'Date of the newest snapshot of this type.';
COMMENT ON COLUMN analytics.studio_leaderboard.studio IS 'Studio name as MyAnimeList spells it.';
COMMENT ON COLUMN analytics.studio_leaderboard.titles IS 'Titles of the studio in the list (co-productions count for each studio).';
COMMENT ON COLUMN analytics.studio_leaderboard.avg_score IS 'Average score of those titles.';
COMMENT ON COLUMN analytics.studio_leaderboard.total_members IS 'Sum of members of those titles.';
COMMENT ON COLUMN analytics.studio_leaderboard.best_title IS 'The studio''s highest-scored title in the list.';
COMMENT ON COLUMN analytics.studio_leaderboard.best_score IS 'Score of best_title.';

CREATE VIEW analytics.catalog_mix AS
WITH latest AS (
    SELECT snapshot_type, snapshot_date, media_type, rating, source FROM analytics.latest_snapshot),
long AS (
    SELECT l.snapshot_type, l.snapshot_date, d.dimension, coalesce(d.value, 'Unknown') AS value
    FROM latest l
    CROSS JOIN LATERAL (VALUES ('media_type', l.media_type), ('rating', l.rating),
                               ('source', l.source)) AS d (dimension, value))
SELECT snapshot_type, snapshot_date, dimension, value,
       count(*)::integer AS titles,
       round(count(*)::numeric / sum(count(*)) OVER (PARTITION BY snapshot_type, dimension), 4) AS share_of_titles
FROM long
GROUP BY snapshot_type, snapshot_date, dimension, value;
COMMENT ON VIEW analytics.catalog_mix IS 'Mix of formats, age ratings and sources in the newest snapshot of each type.';
COMMENT ON COLUMN analytics.catalog_mix.snapshot_type IS 'Which list: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.catalog_mix.snapshot_date IS 'Date of the newest snapshot of this type.';
COMMENT ON COLUMN analytics.catalog_mix.dimension IS 'What is counted: media_type (TV, Movie, ...), rating (age rating) or source (Manga, Original, ...).';
COMMENT ON COLUMN analytics.catalog_mix.value IS 'The format, rating or source; Unknown when MyAnimeList gives none.';
COMMENT ON COLUMN analytics.catalog_mix.titles IS 'Titles in the list with that value.';
COMMENT ON COLUMN analytics.catalog_mix.share_of_titles IS 'titles divided by the list size (0-1; the values of one dimension add up to 1).';

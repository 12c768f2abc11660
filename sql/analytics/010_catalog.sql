-- What is stored: the snapshot catalog, headline figures, the latest snapshot of each type, the titles.
-- Everything here reads the small core.snapshots / core.titles tables or one snapshot by primary key.

CREATE VIEW analytics.snapshot_catalog AS
WITH seq AS (
    SELECT c.*, d.version, d.query, d.max_pages,
           lag(c.snapshot_date) OVER w AS prior_date,
           lag(c.definition_id) OVER w AS prior_definition_id
    FROM core.snapshots c
    JOIN core.list_definitions d USING (definition_id)
    WINDOW w AS (PARTITION BY c.snapshot_type ORDER BY c.snapshot_date)
), runs AS (  -- consecutive snapshots of one definition form a run: a new run starts where it changes
    SELECT s.*,
           count(*) FILTER (WHERE s.prior_definition_id IS DISTINCT FROM s.definition_id)
               OVER (PARTITION BY s.snapshot_type ORDER BY s.snapshot_date) AS run
    FROM seq s
)
SELECT r.snapshot_type,
       r.snapshot_date,
       r.titles,
       r.synthetic AS is_synthetic,
       r.snapshot_date = max(r.snapshot_date) OVER (PARTITION BY r.snapshot_type) AS is_latest,
       r.loaded_at,
       r.version AS definition_version,
       (SELECT string_agg(q.key || '=' || q.value, '&' ORDER BY q.key) FROM jsonb_each_text(r.query) q)
           AS definition_query,
       r.max_pages AS definition_max_pages,
       min(r.snapshot_date) OVER (PARTITION BY r.snapshot_type, r.run) AS definition_since,
       CASE WHEN r.prior_definition_id = r.definition_id THEN r.prior_date END AS previous_snapshot_date
FROM runs r;
COMMENT ON VIEW analytics.snapshot_catalog IS 'One row per stored snapshot: a snapshot type on a date (UTC), how many titles it lists, and the list definition (query and page cap) it was fetched with. History views compare a snapshot only with previous_snapshot_date, never across definitions.';
COMMENT ON COLUMN analytics.snapshot_catalog.snapshot_type IS 'Which list: top (finished titles by score), airing, upcoming or movies (most members first), as queried from Jikan.';
COMMENT ON COLUMN analytics.snapshot_catalog.snapshot_date IS 'The day (UTC) the snapshot describes; one snapshot per type and day.';
COMMENT ON COLUMN analytics.snapshot_catalog.titles IS 'Number of titles in this snapshot.';
COMMENT ON COLUMN analytics.snapshot_catalog.is_synthetic IS 'True when the snapshot was written by the history generator (derived from real data with a synthetic drift), not fetched from Jikan.';
COMMENT ON COLUMN analytics.snapshot_catalog.is_latest IS 'True for the newest snapshot of its type.';
COMMENT ON COLUMN analytics.snapshot_catalog.loaded_at IS 'When the snapshot was last written to the warehouse.';
COMMENT ON COLUMN analytics.snapshot_catalog.definition_version IS 'Version of the list definition (query and page cap) this snapshot was fetched with: 1, 2, ... per snapshot type, in the order first used.';
COMMENT ON COLUMN analytics.snapshot_catalog.definition_query IS 'The definition''s query on Jikan''s GET /v4/anime (without page and limit), e.g. order_by=members&sort=desc&status=airing.';
COMMENT ON COLUMN analytics.snapshot_catalog.definition_max_pages IS 'The definition''s page cap: at most this many pages of 25 titles were fetched.';
COMMENT ON COLUMN analytics.snapshot_catalog.definition_since IS 'First date of the unbroken run of snapshots of this type with this definition (the date the definition last took effect).';
COMMENT ON COLUMN analytics.snapshot_catalog.previous_snapshot_date IS 'The snapshot of this type just before this one, when it has the same definition; null for the first snapshot and for the first one after a definition change (nothing comparable before it).';

CREATE VIEW analytics.database_stats AS
SELECT c.snapshot_type,
       count(*)::integer AS snapshots,
       min(c.snapshot_date) AS first_snapshot_date,
       max(c.snapshot_date) AS last_snapshot_date,
       sum(c.titles)::bigint AS snapshot_rows,
       (SELECT count(*) FROM core.titles t WHERE c.snapshot_type = ANY (t.snapshot_types))::integer AS titles_tracked,
       count(*) FILTER (WHERE c.synthetic)::integer AS synthetic_snapshots,
       max(c.loaded_at) AS last_loaded_at
FROM core.snapshots c
GROUP BY c.snapshot_type;
COMMENT ON VIEW analytics.database_stats IS 'Per snapshot type: how many snapshots are stored, over which dates, how many rows and distinct titles.';
COMMENT ON COLUMN analytics.database_stats.snapshot_type IS 'Which list: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.database_stats.snapshots IS 'Number of stored snapshots (days) of this type.';
COMMENT ON COLUMN analytics.database_stats.first_snapshot_date IS 'Date of the oldest stored snapshot of this type.';
COMMENT ON COLUMN analytics.database_stats.last_snapshot_date IS 'Date of the newest stored snapshot of this type.';
COMMENT ON COLUMN analytics.database_stats.snapshot_rows IS 'Rows over all snapshots of this type (one per title per day).';
COMMENT ON COLUMN analytics.database_stats.titles_tracked IS 'Distinct titles that have appeared in at least one snapshot of this type.';
COMMENT ON COLUMN analytics.database_stats.synthetic_snapshots IS 'How many of the snapshots are synthetic history (history generator), not fetched from Jikan.';
COMMENT ON COLUMN analytics.database_stats.last_loaded_at IS 'When a snapshot of this type was last written.';

CREATE VIEW analytics.overview AS
SELECT (SELECT count(*) FROM core.titles)::integer AS titles_tracked,
       (SELECT count(*) FROM core.titles WHERE NOT synthetic)::integer AS real_titles_tracked,
       (SELECT count(DISTINCT snapshot_type) FROM core.snapshots)::integer AS snapshot_types,
       (SELECT count(*) FROM core.snapshots)::integer AS snapshots,
       (SELECT coalesce(sum(titles), 0) FROM core.snapshots)::bigint AS snapshot_rows,
       (SELECT min(snapshot_date) FROM core.snapshots) AS first_snapshot_date,
       (SELECT max(snapshot_date) FROM core.snapshots) AS last_snapshot_date,
       (SELECT max(snapshot_date) FROM core.snapshots WHERE NOT synthetic) AS last_real_snapshot_date,
       (SELECT max(loaded_at) FROM core.snapshots) AS last_loaded_at;
COMMENT ON VIEW analytics.overview IS 'One row of headline figures for the whole warehouse (dashboard KPIs).';
COMMENT ON COLUMN analytics.overview.titles_tracked IS 'Distinct titles in any stored snapshot, synthetic variants included.';
COMMENT ON COLUMN analytics.overview.real_titles_tracked IS 'Distinct titles seen in at least one snapshot fetched from Jikan.';
COMMENT ON COLUMN analytics.overview.snapshot_types IS 'Number of snapshot types with at least one snapshot.';
COMMENT ON COLUMN analytics.overview.snapshots IS 'Number of stored snapshots (type and day) in total.';
COMMENT ON COLUMN analytics.overview.snapshot_rows IS 'Rows over all snapshots (one per title, type and day).';
COMMENT ON COLUMN analytics.overview.first_snapshot_date IS 'Date of the oldest stored snapshot.';
COMMENT ON COLUMN analytics.overview.last_snapshot_date IS 'Date of the newest stored snapshot.';
COMMENT ON COLUMN analytics.overview.last_real_snapshot_date IS 'Date of the newest snapshot fetched from Jikan (not synthetic).';
COMMENT ON COLUMN analytics.overview.last_loaded_at IS 'When any snapshot was last written.';

CREATE VIEW analytics.latest_snapshot AS
SELECT s.snapshot_type,
       s.snapshot_date,
       s.list_position,
       s.mal_id,
       s.title,
       s.title_english,
       s.type AS media_type,
       s.source,
       s.episodes,
       s.status,
       s.rating,
       s.score,
       s.scored_by,
       s.rank,
       s.popularity,
       s.members,
       s.favorites,
       s.season,
       s.year,
       array_to_string(s.genres, ', ') AS genres,
       array_to_string(s.themes, ', ') AS themes,
       array_to_string(s.demographics, ', ') AS demographics,
       array_to_string(s.studios, ', ') AS studios,
       s.aired_from,
       s.synthetic AS is_synthetic,
       'https://myanimelist.net/anime/' || s.mal_id AS url
FROM (SELECT DISTINCT ON (snapshot_type) snapshot_type, snapshot_date
      FROM core.snapshots ORDER BY snapshot_type, snapshot_date DESC) l
JOIN core.anime_snapshots s USING (snapshot_type, snapshot_date);
COMMENT ON VIEW analytics.latest_snapshot IS 'The newest snapshot of each type: one row per title in that list, in list order.';
COMMENT ON COLUMN analytics.latest_snapshot.snapshot_type IS 'Which list: top, airing, upcoming or movies.';
COMMENT ON COLUMN analytics.latest_snapshot.snapshot_date IS 'Date (UTC) of the newest snapshot of this type.';
COMMENT ON COLUMN analytics.latest_snapshot.list_position IS 'Place in the list as Jikan returned it, 1 = first.';
COMMENT ON COLUMN analytics.latest_snapshot.mal_id IS 'MyAnimeList id of the title (stable key).';
COMMENT ON COLUMN analytics.latest_snapshot.title IS 'Default (romanised) title.';
COMMENT ON COLUMN analytics.latest_snapshot.title_english IS 'English title, when MyAnimeList has one.';
COMMENT ON COLUMN analytics.latest_snapshot.media_type IS 'Format: TV, Movie, OVA, ONA, Special, Music, ...';
COMMENT ON COLUMN analytics.latest_snapshot.source IS 'What it is adapted from: Manga, Light novel, Original, ...';
COMMENT ON COLUMN analytics.latest_snapshot.episodes IS 'Number of episodes (null when unknown).';
COMMENT ON COLUMN analytics.latest_snapshot.status IS 'Finished Airing, Currently Airing or Not yet aired.';
COMMENT ON COLUMN analytics.latest_snapshot.rating IS 'Age rating, e.g. PG-13 - Teens 13 or older.';
COMMENT ON COLUMN analytics.latest_snapshot.score IS 'MyAnimeList user score, 0-10 (null when not yet scored).';
COMMENT ON COLUMN analytics.latest_snapshot.scored_by IS 'Number of users who scored it.';
COMMENT ON COLUMN analytics.latest_snapshot.rank IS 'MyAnimeList rank by score, 1 = best (null when unranked).';
COMMENT ON COLUMN analytics.latest_snapshot.popularity IS 'MyAnimeList popularity rank by members, 1 = most popular.';
COMMENT ON COLUMN analytics.latest_snapshot.members IS 'Users who have it on their list.';
COMMENT ON COLUMN analytics.latest_snapshot.favorites IS 'Users who marked it as a favourite.';
COMMENT ON COLUMN analytics.latest_snapshot.season IS 'Premiere season: winter, spring, summer or fall.';
COMMENT ON COLUMN analytics.latest_snapshot.year IS 'Premiere year.';
COMMENT ON COLUMN analytics.latest_snapshot.genres IS 'Genres, comma-separated (one row per genre in analytics.title_tags).';
COMMENT ON COLUMN analytics.latest_snapshot.themes IS 'Themes, comma-separated.';
COMMENT ON COLUMN analytics.latest_snapshot.demographics IS 'Target demographics (Shounen, Seinen, ...), comma-separated.';
COMMENT ON COLUMN analytics.latest_snapshot.studios IS 'Animation studios, comma-separated.';
COMMENT ON COLUMN analytics.latest_snapshot.aired_from IS 'First air date.';
COMMENT ON COLUMN analytics.latest_snapshot.is_synthetic IS 'True when this row is synthetic history, not fetched from Jikan.';
COMMENT ON COLUMN analytics.latest_snapshot.url IS 'The title''s MyAnimeList page.';

CREATE VIEW analytics.titles AS
SELECT t.mal_id,
       t.title,
       t.title_english,
       t.type AS media_type,
       t.source,
       t.episodes,
       t.status,
       t.rating,
       t.score,
       t.scored_by,
       t.rank,
       t.popularity,
       t.members,
       t.favorites,
       t.season,
       t.year,
       array_to_string(t.snapshot_types, ', ') AS snapshot_types,
       t.first_seen,
       t.last_seen,
       t.snapshots,
       t.synthetic AS is_synthetic,
       'https://myanimelist.net/anime/' || t.mal_id AS url
FROM core.titles t;
COMMENT ON VIEW analytics.titles IS 'One row per title ever stored, with its attributes as of its latest snapshot.';
COMMENT ON COLUMN analytics.titles.mal_id IS 'MyAnimeList id of the title (stable key).';
COMMENT ON COLUMN analytics.titles.title IS 'Default (romanised) title.';
COMMENT ON COLUMN analytics.titles.title_english IS 'English title, when MyAnimeList has one.';
COMMENT ON COLUMN analytics.titles.media_type IS 'Format: TV, Movie, OVA, ONA, Special, Music, ...';
COMMENT ON COLUMN analytics.titles.source IS 'What it is adapted from: Manga, Light novel, Original, ...';
COMMENT ON COLUMN analytics.titles.episodes IS 'Number of episodes (null when unknown).';
COMMENT ON COLUMN analytics.titles.status IS 'Finished Airing, Currently Airing or Not yet aired (as last seen).';
COMMENT ON COLUMN analytics.titles.rating IS 'Age rating, e.g. PG-13 - Teens 13 or older.';
COMMENT ON COLUMN analytics.titles.score IS 'MyAnimeList user score, 0-10, as last seen.';
COMMENT ON COLUMN analytics.titles.scored_by IS 'Number of users who scored it, as last seen.';
COMMENT ON COLUMN analytics.titles.rank IS 'MyAnimeList rank by score, 1 = best, as last seen.';
COMMENT ON COLUMN analytics.titles.popularity IS 'MyAnimeList popularity rank by members, 1 = most popular, as last seen.';
COMMENT ON COLUMN analytics.titles.members IS 'Users who have it on their list, as last seen.';
COMMENT ON COLUMN analytics.titles.favorites IS 'Users who marked it as a favourite, as last seen.';
COMMENT ON COLUMN analytics.titles.season IS 'Premiere season: winter, spring, summer or fall.';
COMMENT ON COLUMN analytics.titles.year IS 'Premiere year.';
COMMENT ON COLUMN analytics.titles.snapshot_types IS 'The lists it has appeared in, comma-separated.';
COMMENT ON COLUMN analytics.titles.first_seen IS 'Date of the first snapshot that listed it.';
COMMENT ON COLUMN analytics.titles.last_seen IS 'Date of the latest snapshot that listed it.';
COMMENT ON COLUMN analytics.titles.snapshots IS 'Number of snapshot rows it has (over all types and days).';
COMMENT ON COLUMN analytics.titles.is_synthetic IS 'True for a synthetic variant made by the history generator (every row of it synthetic).';
COMMENT ON COLUMN analytics.titles.url IS 'The title''s MyAnimeList page.';

CREATE VIEW analytics.title_tags AS
SELECT tt.mal_id, t.title, tt.tag_kind, tt.tag_name, t.synthetic AS is_synthetic
FROM core.title_tags tt
JOIN core.titles t USING (mal_id);
COMMENT ON VIEW analytics.title_tags IS 'One row per title and genre, theme, demographic or studio (the lists as rows, for filtering and counting).';
COMMENT ON COLUMN analytics.title_tags.mal_id IS 'MyAnimeList id of the title.';
COMMENT ON COLUMN analytics.title_tags.title IS 'Default (romanised) title.';
COMMENT ON COLUMN analytics.title_tags.tag_kind IS 'genre, theme, demographic or studio.';
COMMENT ON COLUMN analytics.title_tags.tag_name IS 'The genre, theme, demographic or studio name, e.g. Action, Isekai, Shounen, Madhouse.';
COMMENT ON COLUMN analytics.title_tags.is_synthetic IS 'True for a synthetic variant made by the history generator.';

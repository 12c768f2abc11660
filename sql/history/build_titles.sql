-- history_titles: every generated title per anchor date, with its attributes (from its row in the anchor
-- snapshot, or from the corpus for variants and corpus-built lists; a variant k > 0 is titled
-- "<title> (synthetic #k)"), its anchor values and its drift parameters. The parameters are uniform numbers
-- in [0, 1) cut from md5 hashes of the mal_id, so the same title always drifts the same way:
--   score drift   = scale * (trend + wave + wobble), each 0 at t = 0, by status (airing titles move most);
--                   scale = sqrt(100k / scored_by) within 0.3 .. 4 (airing: sqrt(30k / scored_by) within
--                   0.5 .. 1.5): the more scorers, the steadier
--   growth        = members' yearly growth rate by status and age (scored_by and favorites in proportion)
--   pace          = the growth clock runs up to 0.5-2 days ahead of / behind the calendar in 16-40 day
--                   cycles: growth comes in spurts but never reverses
-- The figures and where they come from: the docstring of anime_dashboard.history.
CREATE TEMP TABLE history_titles ON COMMIT DROP AS
WITH attributes AS (
    SELECT r.*, a.title AS base_title, a.title_english AS base_title_english, a.title_japanese, a.type, a.source,
           a.episodes, a.status, a.airing, a.aired_from, a.aired_to, a.duration, a.rating, a.season, a.year,
           coalesce(a.genres, '{}') AS genres, coalesce(a.themes, '{}') AS themes,
           coalesce(a.demographics, '{}') AS demographics, coalesce(a.studios, '{}') AS studios
    FROM history_refs r
    CROSS JOIN LATERAL (
        SELECT s.title, s.title_english, s.title_japanese, s.type, s.source, s.episodes, s.status, s.airing,
               s.aired_from, s.aired_to, s.duration, s.rating, s.season, s.year, s.genres, s.themes,
               s.demographics, s.studios
        FROM core.anime_snapshots s
        WHERE r.statics_type IS NOT NULL AND s.snapshot_type = r.statics_type AND s.snapshot_date = r.anchor_date
          AND s.mal_id = r.mal_id
        UNION ALL
        SELECT c.title, c.title_english, c.title_japanese, c.type, c.source, c.episodes, c.status, c.airing,
               c.aired_from, c.aired_to, c.duration, c.rating, c.season, c.year, c.genres, c.themes,
               c.demographics, c.studios
        FROM history_corpus hc
        CROSS JOIN LATERAL jsonb_populate_record(NULL::core.anime_snapshots, hc.record) AS c
        WHERE r.statics_type IS NULL AND hc.mal_id = r.base_mal_id
    ) AS a
), hashed AS (
    SELECT a.*, md5(a.mal_id || ':a') AS ha, md5(a.mal_id || ':b') AS hb, md5(a.mal_id || ':c') AS hc
    FROM attributes a
), u AS (
    SELECT h.*,
           ('x' || substr(h.ha, 1, 8))::bit(32)::bigint / 4294967296.0 AS u1,
           ('x' || substr(h.ha, 9, 8))::bit(32)::bigint / 4294967296.0 AS u2,
           ('x' || substr(h.ha, 17, 8))::bit(32)::bigint / 4294967296.0 AS u3,
           ('x' || substr(h.ha, 25, 8))::bit(32)::bigint / 4294967296.0 AS u4,
           ('x' || substr(h.hb, 1, 8))::bit(32)::bigint / 4294967296.0 AS u5,
           ('x' || substr(h.hb, 9, 8))::bit(32)::bigint / 4294967296.0 AS u6,
           ('x' || substr(h.hb, 17, 8))::bit(32)::bigint / 4294967296.0 AS u7,
           ('x' || substr(h.hb, 25, 8))::bit(32)::bigint / 4294967296.0 AS u8,
           ('x' || substr(h.hc, 1, 8))::bit(32)::bigint / 4294967296.0 AS u9,
           ('x' || substr(h.hc, 9, 8))::bit(32)::bigint / 4294967296.0 AS u10,
           ('x' || substr(h.hc, 17, 8))::bit(32)::bigint / 4294967296.0 AS u11,
           ('x' || substr(h.hc, 25, 8))::bit(32)::bigint / 4294967296.0 AS u12
    FROM hashed h
), params AS (
    SELECT u.*,
           u.status = 'Currently Airing' AS is_airing,
           u.status NOT IN ('Currently Airing', 'Not yet aired')
               AND coalesce(u.aired_to, u.aired_from) > u.anchor_date - 730 AS finished_recently,
           CASE WHEN u.status = 'Currently Airing'
                THEN least(1.5, greatest(0.5, sqrt(30000.0 / greatest(coalesce(u.scored_by, 0), 1000))))
                ELSE least(4.0, greatest(0.3, sqrt(100000.0 / greatest(coalesce(u.scored_by, 0), 1000))))
           END AS scale
    FROM u
)
SELECT p.anchor_date, p.mal_id, p.base_mal_id, p.variant,
       CASE WHEN p.variant = 0 THEN p.base_title
            ELSE p.base_title || ' (synthetic #' || p.variant || ')' END AS title,
       CASE WHEN p.variant = 0 OR p.base_title_english IS NULL THEN p.base_title_english
            ELSE p.base_title_english || ' (synthetic #' || p.variant || ')' END AS title_english,
       p.title_japanese, p.type, p.source, p.episodes, p.status, p.airing, p.aired_from, p.aired_to,
       p.duration, p.rating, p.season, p.year, p.genres, p.themes, p.demographics, p.studios,
       -- anchor values
       p.score, p.scored_by, p.members, p.favorites, p.rank, p.popularity, p.rank_slope, p.popularity_slope,
       -- score drift, points (+ means higher in the past): a trend that levels off after trend_days, a wave
       -- and a wobble. Finished titles: -0.03 .. +0.07 a year (x4 in the two years after they end), a
       -- 0.001-0.005 wave over 2-6 months; airing ones: up to +-0.4 over a cour, a 0.03-0.10 wave over 25-70
       -- days and a 0.005-0.015 wobble over 5-12 days
       (p.scale * CASE WHEN p.is_airing THEN 0.4 * (2 * p.u7 - 1)
                       ELSE (-0.03 + 0.10 * p.u7) * CASE WHEN p.finished_recently THEN 4 ELSE 1 END * 2 END
       )::double precision AS trend_points,
       (CASE WHEN p.is_airing THEN 90 ELSE 730 END)::double precision AS trend_days,
       (p.scale * CASE WHEN p.is_airing THEN 0.03 + 0.07 * p.u4 ELSE 0.001 + 0.004 * p.u4 END)::double precision
           AS wave_amplitude,
       (CASE WHEN p.is_airing THEN 25 + 45 * p.u5 ELSE 60 + 120 * p.u5 END)::double precision AS wave_days,
       (2 * pi() * p.u6)::double precision AS wave_phase,
       (p.scale * CASE WHEN p.is_airing THEN 0.005 + 0.010 * p.u9 ELSE 0.0005 * p.u9 END)::double precision
           AS wobble_amplitude,
       (CASE WHEN p.is_airing THEN 5 + 7 * p.u10 ELSE 7 + 14 * p.u10 END)::double precision AS wobble_days,
       (2 * pi() * p.u8)::double precision AS wobble_phase,
       -- yearly growth of members (finished over two years ago 5-12 %, in the two years after they end
       -- 12-37 %, airing 60-200 %, not yet aired 20-110 %), of scored_by (x0.8-1.0, airing x1.8-2.8) and of
       -- favorites (x0.5-0.8)
       (CASE p.status WHEN 'Currently Airing' THEN 0.60 + 1.40 * p.u3
                      WHEN 'Not yet aired' THEN 0.20 + 0.90 * p.u3
                      ELSE CASE WHEN p.finished_recently THEN 0.12 + 0.25 * p.u3 ELSE 0.05 + 0.07 * p.u3 END
        END)::double precision AS members_growth,
       (CASE WHEN p.is_airing THEN 1.8 + p.u11 ELSE 0.8 + 0.2 * p.u11 END)::double precision AS scored_by_factor,
       (0.5 + 0.3 * p.u12)::double precision AS favorites_factor,
       (0.5 + 1.5 * p.u9)::double precision AS pace_days,
       (16 + 24 * p.u1)::double precision AS pace_cycle_days,
       (2 * pi() * p.u10)::double precision AS pace_phase
FROM params p;

ALTER TABLE history_titles ADD PRIMARY KEY (anchor_date, mal_id);
ANALYZE history_titles;
ANALYZE history_members;
ANALYZE history_targets;

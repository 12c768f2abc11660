-- history_titles: every generated title (a corpus title, or variant k of one: mal_id = k * 1000000 + its
-- mal_id) with its static columns, its values at the end date and its drift parameters. The parameters
-- are uniform numbers in [0, 1) cut from md5 hashes of the mal_id, so the same title always drifts the
-- same way. history_pool: the generated titles in each snapshot type's candidate pool.
CREATE TEMP TABLE history_titles ON COMMIT DROP AS
WITH generated AS (
    SELECT b.base_mal_id, k.variant, k.variant * 1000000 + b.base_mal_id AS mal_id
    FROM (SELECT base_mal_id, max(variants) AS variants FROM history_pools GROUP BY base_mal_id) b
    CROSS JOIN LATERAL generate_series(0, b.variants - 1) AS k (variant)
), hashed AS (
    SELECT g.*, md5(g.mal_id || ':a') AS ha, md5(g.mal_id || ':b') AS hb, md5(g.mal_id || ':c') AS hc,
           md5(g.mal_id || ':d') AS hd
    FROM generated g
), u AS (  -- fourteen uniforms per title
    SELECT h.base_mal_id, h.variant, h.mal_id,
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
           ('x' || substr(h.hc, 25, 8))::bit(32)::bigint / 4294967296.0 AS u12,
           ('x' || substr(h.hd, 1, 8))::bit(32)::bigint / 4294967296.0 AS u13,
           ('x' || substr(h.hd, 9, 8))::bit(32)::bigint / 4294967296.0 AS u14
    FROM hashed h
), corpus AS (
    SELECT c.corpus_order, r.*
    FROM history_corpus c
    CROSS JOIN LATERAL jsonb_populate_record(NULL::core.anime_snapshots, c.record) AS r
), params AS (
    SELECT u.*, c.corpus_order, c.title AS corpus_title, c.title_english AS corpus_title_english,
           c.title_japanese, c.type, c.source, c.episodes, c.status, c.airing, c.aired_from, c.aired_to,
           c.duration, c.rating, c.season, c.year, coalesce(c.genres, '{}') AS genres,
           coalesce(c.themes, '{}') AS themes, coalesce(c.demographics, '{}') AS demographics,
           coalesce(c.studios, '{}') AS studios, c.score AS corpus_score, c.members AS corpus_members,
           c.scored_by AS corpus_scored_by, c.favorites AS corpus_favorites,
           -- a variant is a different title: score shifted by up to +-0.3, audience 0.3x .. 1.1x
           CASE WHEN u.variant = 0 THEN 1.0 ELSE 0.3 + 0.8 * u.u2 END AS audience,
           -- members grow per year by this share of the past value (new titles grow fastest)
           CASE c.status WHEN 'Not yet aired' THEN 0.40 + 1.20 * u.u3
                         WHEN 'Currently Airing' THEN 0.25 + 0.75 * u.u3
                         ELSE 0.05 + 0.40 * u.u3 END AS growth
    FROM u JOIN corpus c ON c.mal_id = u.base_mal_id
)
SELECT p.mal_id, p.base_mal_id, p.variant, p.corpus_order,
       CASE WHEN p.variant = 0 THEN p.corpus_title
            ELSE p.corpus_title || ' (synthetic #' || p.variant || ')' END AS title,
       CASE WHEN p.variant = 0 OR p.corpus_title_english IS NULL THEN p.corpus_title_english
            ELSE p.corpus_title_english || ' (synthetic #' || p.variant || ')' END AS title_english,
       p.title_japanese, p.type, p.source, p.episodes, p.status, p.airing, p.aired_from, p.aired_to,
       p.duration, p.rating, p.season, p.year, p.genres, p.themes, p.demographics, p.studios,
       -- values at the end date
       CASE WHEN p.corpus_score IS NULL THEN NULL
            WHEN p.variant = 0 THEN p.corpus_score::double precision
            ELSE least(10.0, greatest(1.0, round((p.corpus_score + 0.6 * (p.u1 - 0.5))::numeric, 2)))::double precision
       END AS score_end,
       round(p.corpus_members * p.audience)::double precision AS members_end,
       round(p.corpus_scored_by * p.audience)::double precision AS scored_by_end,
       round(p.corpus_favorites * p.audience)::double precision AS favorites_end,
       -- score drift: slow trend (points a year, + means higher in the past), a 3-13 week wave and a 3-9 day wobble
       (0.30 * (p.u7 - 0.5))::double precision AS trend,
       (0.04 + 0.12 * p.u4)::double precision AS wave_amplitude,
       (21 + 70 * p.u5)::double precision AS wave_days,
       (2 * pi() * p.u6)::double precision AS wave_phase,
       (0.02 + 0.04 * p.u9)::double precision AS wobble_amplitude,
       (3 + 6 * p.u10)::double precision AS wobble_days,
       (2 * pi() * p.u8)::double precision AS wobble_phase,
       -- yearly growth rates of members, scored_by, favorites; the pace of growth varies: the counts
       -- follow a clock running ahead of / behind the calendar by up to 3-21 days, in 4-14 day cycles
       p.growth::double precision AS members_growth,
       (p.growth * (0.8 + 0.4 * p.u11))::double precision AS scored_by_growth,
       (p.growth * (0.9 + 0.4 * p.u12))::double precision AS favorites_growth,
       (3 + 18 * p.u13)::double precision AS pace_days,
       (4 + 10 * p.u14)::double precision AS pace_cycle_days,
       (2 * pi() * p.u1)::double precision AS pace_phase
FROM params p;

ALTER TABLE history_titles ADD PRIMARY KEY (mal_id);

CREATE TEMP TABLE history_pool ON COMMIT DROP AS
SELECT p.snapshot_type, k.variant * 1000000 + p.base_mal_id AS mal_id
FROM history_pools p
CROSS JOIN LATERAL generate_series(0, p.variants - 1) AS k (variant);

ALTER TABLE history_pool ADD PRIMARY KEY (snapshot_type, mal_id);
ANALYZE history_titles;
ANALYZE history_pool;

-- history_daily: the values of every title in a list on the days of one chunk, t = days before its anchor
-- (at t = 0 every value is its anchor value):
--   score      = anchor score + trend * (1 - exp(-t / trend_days)) + wave + wobble (build_titles.sql),
--                clamped to 1..10, 2 decimals; NULL stays NULL
--   members    = anchor members / (1 + growth * g / 365), likewise scored_by and favorites (smaller in the past
--                when they grow), where g = t + pace * (sin(2 pi t / cycle + phase) - sin(phase)) >= 0 is the
--                growth clock
--   rank       = anchor rank + the ranks its score change crosses (rank_slope ranks per point, read off the
--                anchor day's score -> rank curve); NULL and 0 (unranked) stay
--   popularity = anchor popularity + popularity_slope * (its log members change - the median one that day):
--                a title growing like the market keeps its place
TRUNCATE history_daily;

INSERT INTO history_daily (anchor_date, snapshot_date, mal_id, score, scored_by, members, favorites, rank,
                           popularity)
WITH need AS (
    SELECT DISTINCT g.anchor_date, g.snapshot_date, g.t, m.mal_id
    FROM history_targets g
    JOIN history_members m ON m.snapshot_type = g.snapshot_type AND m.anchor_date = g.anchor_date
                          AND g.t >= m.t_from AND (m.t_to IS NULL OR g.t <= m.t_to)
    WHERE g.snapshot_date BETWEEN %(chunk_start)s AND %(chunk_end)s
), clock AS (
    SELECT n.snapshot_date, n.t, h.*,
           greatest(0.0, n.t + h.pace_days * (sin(2 * pi() * n.t / h.pace_cycle_days + h.pace_phase)
                                              - sin(h.pace_phase))) AS g
    FROM need n
    JOIN history_titles h ON h.anchor_date = n.anchor_date AND h.mal_id = n.mal_id
), v AS (
    SELECT c.anchor_date, c.snapshot_date, c.mal_id, c.score AS anchor_score, c.members AS anchor_members,
           c.rank AS anchor_rank, c.popularity AS anchor_popularity, c.rank_slope, c.popularity_slope,
           CASE WHEN c.score IS NOT NULL THEN least(10.0, greatest(1.0, round((
               c.score
               + c.trend_points * (1 - exp(-c.t / c.trend_days))
               + c.wave_amplitude * (sin(2 * pi() * c.t / c.wave_days + c.wave_phase) - sin(c.wave_phase))
               + c.wobble_amplitude * (sin(2 * pi() * c.t / c.wobble_days + c.wobble_phase) - sin(c.wobble_phase))
           )::numeric, 2))) END AS score,
           round(c.scored_by / (1 + c.members_growth * c.scored_by_factor * c.g / 365.0))::integer AS scored_by,
           round(c.members / (1 + c.members_growth * c.g / 365.0))::integer AS members,
           round(c.favorites / (1 + c.members_growth * c.favorites_factor * c.g / 365.0))::integer AS favorites
    FROM clock c
), market AS (  -- the median title's growth in log members since that day, per anchor
    SELECT v.anchor_date, v.snapshot_date,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY ln(v.anchor_members) - ln(v.members)) AS log_growth
    FROM v WHERE v.anchor_members > 0 AND v.members > 0
    GROUP BY v.anchor_date, v.snapshot_date
)
SELECT v.anchor_date, v.snapshot_date, v.mal_id, v.score, v.scored_by, v.members, v.favorites,
       CASE WHEN v.anchor_rank IS NULL OR v.anchor_rank <= 0 OR v.score IS NULL THEN v.anchor_rank
            ELSE greatest(1, round(v.anchor_rank + v.rank_slope * (v.anchor_score - v.score)))::integer END,
       CASE WHEN v.anchor_popularity IS NULL OR v.anchor_popularity <= 0 OR v.anchor_members <= 0
                 OR v.members <= 0 THEN v.anchor_popularity
            ELSE greatest(1, round(v.anchor_popularity + v.popularity_slope
                                   * (ln(v.anchor_members) - ln(v.members) - m.log_growth)))::integer END
FROM v
LEFT JOIN market m ON m.anchor_date = v.anchor_date AND m.snapshot_date = v.snapshot_date;

ANALYZE history_daily;

-- history_daily: every generated title's values on each day of one chunk of the range
-- (t = days before the end date; at t = 0 every value is the title's end value):
--   score      = end score + trend * t / 365 + wave and wobble (each 0 at t = 0), clamped to 1..10, 2 decimals;
--                NULL stays NULL
--   members    = end members / (1 + growth * g / 365), likewise scored_by and favorites (smaller in the past),
--                where g = t + pace * (sin(2 pi t / cycle + phase) - sin(phase)), at least 0: a clock that runs
--                up to `pace` days ahead of or behind the calendar, so growth comes in spurts
--   rank       = place by score (desc, then mal_id) among all generated titles that day; NULL without a score
--   popularity = place by members (desc, then mal_id) among all generated titles that day
TRUNCATE history_daily;

INSERT INTO history_daily (snapshot_date, mal_id, score, scored_by, members, favorites, rank, popularity)
SELECT v.snapshot_date, v.mal_id, v.score, v.scored_by, v.members, v.favorites,
       CASE WHEN v.score IS NOT NULL THEN
           row_number() OVER (PARTITION BY v.snapshot_date ORDER BY v.score DESC NULLS LAST, v.mal_id) END,
       CASE WHEN v.members IS NOT NULL THEN
           row_number() OVER (PARTITION BY v.snapshot_date ORDER BY v.members DESC NULLS LAST, v.mal_id) END
FROM (
    SELECT w.snapshot_date, w.mal_id,
           CASE WHEN w.score_end IS NOT NULL THEN least(10.0, greatest(1.0, round((
               w.score_end
               + w.trend * w.t / 365.0
               + w.wave_amplitude * (sin(2 * pi() * w.t / w.wave_days + w.wave_phase) - sin(w.wave_phase))
               + w.wobble_amplitude * (sin(2 * pi() * w.t / w.wobble_days + w.wobble_phase) - sin(w.wobble_phase))
           )::numeric, 2))) END AS score,
           round(w.scored_by_end / (1 + w.scored_by_growth * w.growth_days / 365.0))::integer AS scored_by,
           round(w.members_end / (1 + w.members_growth * w.growth_days / 365.0))::integer AS members,
           round(w.favorites_end / (1 + w.favorites_growth * w.growth_days / 365.0))::integer AS favorites
    FROM (SELECT d.snapshot_date, d.t, h.*,
                 greatest(0.0, d.t + h.pace_days * (sin(2 * pi() * d.t / h.pace_cycle_days + h.pace_phase)
                                                    - sin(h.pace_phase))) AS growth_days
          FROM (SELECT day::date AS snapshot_date, (%(end_date)s::date - day::date) AS t
                FROM generate_series(%(chunk_start)s::date, %(chunk_end)s::date, interval '1 day') AS day) d
          CROSS JOIN history_titles h) w
) v;

ANALYZE history_daily;

-- Rows per snapshot type and date, with the metrics of the run that last loaded it.
SELECT s.snapshot_type, s.snapshot_date, s.rows, m.pages, m.requests, m.inserted, m.updated, m.rejected
FROM (SELECT snapshot_type, snapshot_date, count(*) AS rows
      FROM core.anime_snapshots GROUP BY 1, 2) s
LEFT JOIN LATERAL (
    SELECT * FROM core.run_metrics rm
    WHERE rm.snapshot_type = s.snapshot_type AND rm.snapshot_date = s.snapshot_date
    ORDER BY rm.finished_at DESC LIMIT 1) m ON true
ORDER BY s.snapshot_date DESC, s.snapshot_type;

-- Real (fetched) snapshots, newest first, with the metrics of the run that last loaded each.
SELECT c.snapshot_type, c.snapshot_date, c.titles, m.pages, m.requests, m.inserted, m.updated, m.rejected
FROM core.snapshots c
LEFT JOIN LATERAL (
    SELECT * FROM core.run_metrics rm
    WHERE rm.snapshot_type = c.snapshot_type AND rm.snapshot_date = c.snapshot_date AND rm.batch_id IS NOT NULL
    ORDER BY rm.finished_at DESC LIMIT 1) m ON true
WHERE NOT c.synthetic
ORDER BY c.snapshot_date DESC, c.snapshot_type
LIMIT 20;

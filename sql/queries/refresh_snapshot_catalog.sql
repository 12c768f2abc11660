-- core.snapshots: the catalog row of one snapshot (type, date), recounted; its triggers keep the history rows
-- (core.market_daily, core.list_changes: core.upkeep_history).
SELECT core.refresh_snapshot(%(snapshot_type)s, %(snapshot_date)s);

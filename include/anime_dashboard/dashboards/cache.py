"""Keep Superset's chart caches fresh after the analytics refresh, without giving up the Redis cache.

After new snapshots land (each load keeps the history views in its transaction), every chart-data cache key recorded
for the warehouse's datasets is invalidated (POST /api/v1/cachekey/invalidate; Superset records the keys
because ``STORE_CACHE_KEYS_IN_METADATA_DB`` is on), then every chart is run again into the cache
(PUT /api/v1/chart/warm_up_cache, with its dashboard's filters). The next dashboard view shows the new
snapshot and still comes from Redis.
"""
from __future__ import annotations

import logging
from typing import Any

from anime_dashboard.dashboards.client import SupersetClient, SupersetError

log = logging.getLogger(__name__)

WAREHOUSE_DATABASE_NAME = "AnimeDashboard warehouse"


def refresh_caches(client: SupersetClient, database_name: str = WAREHOUSE_DATABASE_NAME) -> dict[str, Any]:
    """Invalidate and re-warm the caches of every chart on the warehouse's datasets. Raises SupersetError
    naming the charts whose warm-up failed (after trying all of them)."""
    datasets = [d for d in client.list_all("dataset", ["id", "table_name", "database.database_name"])
                if (d.get("database") or {}).get("database_name") == database_name]
    dataset_ids = sorted(d["id"] for d in datasets)
    client.invalidate_datasets(dataset_ids)
    charts = [c for c in client.list_all("chart", ["id", "slice_name", "datasource_id", "datasource_type"])
              if c.get("datasource_type") == "table" and c.get("datasource_id") in set(dataset_ids)]
    chart_ids = {c["id"] for c in charts}
    warmed, failures = 0, []
    on_dashboards: set[int] = set()
    for dash in client.list_all("dashboard", ["id", "dashboard_title"]):
        for chart in client.request("GET", f"/api/v1/dashboard/{dash['id']}/charts").json()["result"]:
            if chart["id"] not in chart_ids:
                continue
            on_dashboards.add(chart["id"])
            failures += _warm(client, chart["id"], dash["id"])
            warmed += 1
    for chart_id in sorted(chart_ids - on_dashboards):
        failures += _warm(client, chart_id, None)
        warmed += 1
    summary = {"datasets_invalidated": len(dataset_ids), "charts_warmed": warmed, "failures": failures}
    log.info("Superset caches: %s datasets invalidated, %s chart queries warmed", len(dataset_ids), warmed)
    if failures:
        raise SupersetError(f"warming {len(failures)} chart(s) failed: {failures}")
    return summary


def _warm(client: SupersetClient, chart_id: int, dashboard_id: int | None) -> list[dict[str, Any]]:
    try:
        results = client.warm_up_chart(chart_id, dashboard_id)
    except SupersetError as exc:
        return [{"chart_id": chart_id, "dashboard_id": dashboard_id, "error": str(exc)}]
    return [{"chart_id": chart_id, "dashboard_id": dashboard_id, "error": r.get("viz_error")}
            for r in results if r.get("viz_error")]

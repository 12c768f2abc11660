"""The upsert of one staged batch into ``core.anime_snapshots``, atomically with what depends on it.

In the same transaction: the snapshot catalog (``core.snapshots``) and the history rows the snapshot
decides (``core.market_daily``, ``core.list_changes``: the catalog's triggers call ``core.upkeep_history``),
the titles it touches (``core.titles`` and the ``core.title_tags`` bridge, kept incrementally by ``core.upkeep_titles`` from the
rows just written) and the run's metrics.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from anime_dashboard.warehouse.db import query, transaction


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    updated: int
    removed: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def load_snapshot(conn, batch: dict[str, Any], run_id: str) -> LoadResult:
    """Upsert the batch's staged records as the snapshot of (type, date) and write the run's metrics.

    One transaction: readers see the old snapshot or the new one, never a mix; a failure leaves both
    the snapshot and the metrics as they were.
    """
    params = {"batch_id": batch["batch_id"], "snapshot_type": batch["snapshot_type"],
              "snapshot_date": batch["snapshot_date"], "run_id": run_id}
    with transaction(conn), conn.cursor() as cur:
        cur.execute(query("upsert_snapshot"), params)
        upserted = cur.fetchall()
        mal_ids = [mal_id for mal_id, _, _ in upserted]
        flags = [inserted for _, inserted, _ in upserted]
        cur.execute(query("remove_dropped_titles"), {**params, "mal_ids": mal_ids})
        removed_ids = [row[0] for row in cur.fetchall()]
        result = LoadResult(inserted=sum(flags), updated=len(flags) - sum(flags), removed=len(removed_ids))
        cur.execute(query("refresh_snapshot_catalog"), params)
        # a title whose synthetic row became real is recomputed from all its rows, as one that lost a row is
        # (its synthetic flag can change, which the incremental path keeps on an update)
        made_real = [mal_id for mal_id, _, was_synthetic in upserted if was_synthetic]
        cur.execute(query("upkeep_titles"), {**params, "mal_ids": mal_ids, "inserted": flags,
                                             "removed": removed_ids + made_real})
        cur.execute(query("upsert_run_metrics"), {**params, **result.as_dict(), "outcome": "success"})
    return result

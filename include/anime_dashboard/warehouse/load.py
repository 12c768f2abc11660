"""The upsert of one staged batch into ``core.anime_snapshots``, with its run metrics, atomically."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from anime_dashboard.warehouse.db import query


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
    with conn, conn.cursor() as cur:
        cur.execute(query("upsert_snapshot"), params)
        flags = [row[0] for row in cur.fetchall()]
        cur.execute(query("remove_dropped_titles"), params)
        removed = cur.rowcount
        result = LoadResult(inserted=sum(flags), updated=len(flags) - sum(flags), removed=removed)
        cur.execute(query("upsert_run_metrics"), {**params, **result.as_dict(), "outcome": "success"})
    return result

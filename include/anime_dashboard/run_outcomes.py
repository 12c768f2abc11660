"""How each snapshot run ended, in ``core.run_metrics`` (read by ``analytics.pipeline_runs``).

The upsert writes the full metrics of a successful load; these functions add the runs that did not
load: ``failed`` (a task failed after its retries; called from the task failure callback) and
``skipped`` (a date Jikan has no data for). ``mark_published`` confirms success once the checks pass.
"""
from __future__ import annotations

import logging
from datetime import date

from anime_dashboard.warehouse.db import query, transaction

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000
STAT_KEYS = ("requests", "retries", "rate_limited", "pages")


def record_outcome(conn, *, dag_id: str, run_id: str, snapshot_type: str, snapshot_date: date | None,
                   outcome: str, failed_task: str | None = None, error: str | None = None,
                   stats: dict[str, int] | None = None) -> None:
    """Insert or update the run's row with outcome ``failed`` or ``skipped`` (counts kept if loaded).

    ``stats``: the Jikan client's counts (requests, retries, rate_limited, pages) of an extract that gave
    up, which landed no batch to take them from (``JikanRequestError.stats``).
    """
    if outcome not in ("failed", "skipped"):
        raise ValueError(f"record_outcome is for failed or skipped runs, not {outcome!r}")
    if error and len(error) > MAX_ERROR_CHARS:
        error = error[: MAX_ERROR_CHARS - 1] + "…"
    with transaction(conn), conn.cursor() as cur:
        cur.execute(query("record_run_outcome"), {
            "dag_id": dag_id, "run_id": run_id, "snapshot_type": snapshot_type,
            "snapshot_date": snapshot_date, "outcome": outcome, "failed_task": failed_task,
            "error": error, **{k: (stats or {}).get(k) for k in STAT_KEYS}})


def mark_published(conn, *, dag_id: str, run_id: str) -> int:
    """The run loaded and passed its checks: outcome ``success``, no error. Rows updated (0 or 1)."""
    with transaction(conn), conn.cursor() as cur:
        cur.execute(query("mark_run_published"), {"dag_id": dag_id, "run_id": run_id})
        return cur.rowcount

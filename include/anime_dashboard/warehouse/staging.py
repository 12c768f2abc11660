"""Staging valid records and keeping rejects, per extract batch (rerunnable)."""
from __future__ import annotations

from typing import Any

from psycopg2.extras import Json, execute_values

from anime_dashboard.warehouse.db import query


def stage_batch(conn, batch: dict[str, Any], valid: list[dict[str, Any]],
                rejects: list[dict[str, Any]]) -> None:
    """Replace what is staged/rejected for ``batch`` with ``valid`` and ``rejects``, in one transaction.

    valid:   {mal_id, list_position, record, payload}
    rejects: {page, mal_id, payload, errors}
    """
    batch_id = batch["batch_id"]
    with conn, conn.cursor() as cur:
        cur.execute(query("clear_batch_validation"), {"batch_id": batch_id})
        if valid:
            execute_values(cur, query("insert_staged_records"), [
                (batch_id, v["mal_id"], v["list_position"], Json(v["record"]), Json(v["payload"]))
                for v in valid], page_size=1000)
        if rejects:
            execute_values(cur, query("insert_rejects"), [
                (batch_id, batch["dag_id"], batch["run_id"], batch["snapshot_type"], batch["snapshot_date"],
                 r["page"], r["mal_id"], Json(r["payload"]), Json(r["errors"]))
                for r in rejects], page_size=1000)

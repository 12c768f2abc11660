"""Staging valid records and keeping rejects, per extract batch (rerunnable)."""
from __future__ import annotations

import io
import json
from typing import Any

from psycopg2.extras import Json, execute_values

from anime_dashboard.warehouse.db import query


def _copy_line(batch_id: int, v: dict[str, Any]) -> str:
    # COPY's text format: tab-separated, \N for NULL, backslashes doubled. json.dumps escapes every control
    # character (tab, newline, carriage return) itself, so only its backslashes need doubling.
    record = json.dumps(v["record"], ensure_ascii=False, separators=(",", ":")).replace("\\", "\\\\")
    return f"{batch_id}\t{v['mal_id']}\t{v['list_position']}\t{v['page']}\t{v['item']}\t{record}\n"


def stage_batch(conn, batch: dict[str, Any], valid: list[dict[str, Any]],
                rejects: list[dict[str, Any]]) -> None:
    """Replace what is staged/rejected for ``batch`` with ``valid`` and ``rejects``, in one transaction.

    valid:   {mal_id, list_position, page, item, record} -- the typed columns (record) and where the Jikan
             object is in raw.jikan_pages (page, 1-based item); the upsert takes the object from there
    rejects: {page, mal_id, payload, errors}
    """
    batch_id = batch["batch_id"]
    with conn, conn.cursor() as cur:
        cur.execute(query("clear_batch_validation"), {"batch_id": batch_id})
        if valid:
            cur.copy_expert(query("copy_staged_records"),
                            io.StringIO("".join(_copy_line(batch_id, v) for v in valid)), size=1 << 20)
        if rejects:
            execute_values(cur, query("insert_rejects"), [
                (batch_id, batch["dag_id"], batch["run_id"], batch["snapshot_type"], batch["snapshot_date"],
                 r["page"], r["mal_id"], Json(r["payload"]), Json(r["errors"]))
                for r in rejects], page_size=1000)

"""Staging valid records and keeping rejects, per extract batch (rerunnable)."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from psycopg2.extras import Json, execute_values

from anime_dashboard.warehouse.db import query


def _copy_line(batch_id: int, v: dict[str, Any]) -> str:
    # COPY's text format: tab-separated, \N for NULL, backslashes doubled. json.dumps escapes every control
    # character (tab, newline, carriage return) itself, so only its backslashes need doubling.
    record = json.dumps(v["record"], ensure_ascii=False, separators=(",", ":")).replace("\\", "\\\\")
    return f"{batch_id}\t{v['mal_id']}\t{v['list_position']}\t{v['page']}\t{v['item']}\t{record}\n"


class _Lines:
    """A file-like ``read`` over lines made on demand: COPY streams them as they are produced, so the server
    stores one chunk while the client makes the next (validation and ingest overlap on two cores)."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines

    def read(self, size: int = -1) -> str:
        chunk: list[str] = []
        length = 0
        for line in self._lines:
            chunk.append(line)
            length += len(line)
            if 0 < size <= length:
                break
        return "".join(chunk)


def stage_batch(conn, batch: dict[str, Any], valid: Iterable[dict[str, Any]],
                rejects: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Replace what is staged/rejected for ``batch`` with ``valid`` and ``rejects()``, in one transaction.

    valid:   {mal_id, list_position, page, item, record} -- the typed columns (record) and where the Jikan
             object is in raw.jikan_pages (page, 1-based item); the upsert takes the object from there.
             May be a generator: it is consumed while COPY runs (so it must not use ``conn``); an exception
             it raises aborts the COPY and the transaction.
    rejects: called once ``valid`` is exhausted (it may use ``conn``): {page, mal_id, payload, errors}
    Returns the rejects written.
    """
    batch_id = batch["batch_id"]
    with conn, conn.cursor() as cur:
        cur.execute(query("clear_batch_validation"), {"batch_id": batch_id})
        cur.copy_expert(query("copy_staged_records"), _Lines(_copy_line(batch_id, v) for v in valid),
                        size=1 << 16)
        written = rejects()
        if written:
            execute_values(cur, query("insert_rejects"), [
                (batch_id, batch["dag_id"], batch["run_id"], batch["snapshot_type"], batch["snapshot_date"],
                 r["page"], r["mal_id"], Json(r["payload"]), Json(r["errors"]))
                for r in written], page_size=1000)
    return written

"""Landing Jikan pages in ``raw`` exactly as received, and reading them back."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from psycopg2.extras import Json, RealDictCursor

from anime_dashboard.jikan.client import Page, RequestStats
from anime_dashboard.warehouse.db import query


def land_batch(conn, *, dag_id: str, run_id: str, snapshot_type: str, snapshot_date: date,
               params: dict[str, Any], pages: Iterable[Page], stats: RequestStats,
               started_at: datetime, finished_at: datetime) -> tuple[int, int]:
    """Write one extract batch and all its pages in one transaction. Returns (batch_id, records)."""
    pages = list(pages)
    received = sum(len(p.data) for p in pages)
    with conn, conn.cursor() as cur:
        cur.execute(query("insert_extract_batch"), {
            "dag_id": dag_id, "run_id": run_id, "snapshot_type": snapshot_type,
            "snapshot_date": snapshot_date, "query": Json(params), **stats.as_dict(),
            "received": received, "started_at": started_at, "finished_at": finished_at,
        })
        batch_id = cur.fetchone()[0]
        for p in pages:
            cur.execute(query("insert_page"), {
                "batch_id": batch_id, "page": p.page, "request_url": p.url, "http_status": p.status,
                "fetched_at": p.fetched_at, "body": Json(p.body),
            })
    return batch_id, received


def read_batch(conn, batch_id: int) -> dict[str, Any]:
    with conn.cursor(cursor_factory=RealDictCursor) as cur:
        cur.execute(query("select_batch"), {"batch_id": batch_id})
        row = cur.fetchone()
    if row is None:
        raise LookupError(f"extract batch {batch_id} is not in raw.extract_batches")
    return dict(row)


def iter_batch_records(conn, batch_id: int) -> Iterator[tuple[int, Any]]:
    """(page, record) for every record of every page of the batch, in the order Jikan listed them."""
    with conn.cursor() as cur:
        cur.execute(query("select_batch_pages"), {"batch_id": batch_id})
        for page, body in cur.fetchall():
            data = body.get("data") if isinstance(body, dict) else None
            for record in data or []:
                yield page, record

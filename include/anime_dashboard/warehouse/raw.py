"""Landing Jikan pages in ``raw`` exactly as received, and reading them back."""
from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime
from typing import Any

from psycopg2.extras import Json, RealDictCursor
from pydantic_core import from_json

from anime_dashboard.jikan.client import Page, RequestStats
from anime_dashboard.warehouse.db import query, transaction


def land_batch(conn, *, dag_id: str, run_id: str, snapshot_type: str, snapshot_date: date,
               params: dict[str, Any], max_pages: int, pages: Iterable[Page], stats: RequestStats,
               started_at: datetime, finished_at: datetime) -> tuple[int, int]:
    """Write one extract batch and all its pages in one transaction. Returns (batch_id, records).

    ``params`` and ``max_pages`` are the list definition the batch was fetched with (its query and page cap).
    """
    pages = list(pages)
    received = sum(len(p.data) for p in pages)
    with transaction(conn), conn.cursor() as cur:
        cur.execute(query("insert_extract_batch"), {
            "dag_id": dag_id, "run_id": run_id, "snapshot_type": snapshot_type,
            "snapshot_date": snapshot_date, "query": Json(params), "max_pages": max_pages, **stats.as_dict(),
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


def batch_records(conn, batch_id: int, keys: Collection[str] | None = None) -> list[tuple[int, int, Any]]:
    """(page, item, record) for every record of every page of the batch, in the order Jikan listed them.

    ``item`` is the record's 1-based place in its page's ``data``. With ``keys`` (the keys validation
    reads), the server drops from each object the other keys found on the batch's first page (images,
    synopsis, trailer, ...), so most of each Jikan object is neither sent nor decoded; a key that only
    later pages have comes along, ignored by validation like any key it does not read. ``None``: whole
    records. The server sends each record as JSON text, decoded here by pydantic-core's parser (the same
    values as ``json.loads``, in about 60% of its time).
    """
    with conn.cursor() as cur:
        cur.execute(query("select_batch_records"),
                    {"batch_id": batch_id, "keys": sorted(keys) if keys is not None else None})
        # cache_strings=False: pydantic-core's string cache costs more than it saves on one-off records
        return [(page, item, from_json(record, cache_strings=False)) for page, item, record in cur.fetchall()]


def batch_objects(conn, batch_id: int, places: Collection[tuple[int, int]]) -> dict[tuple[int, int], Any]:
    """The whole records of the batch at ``places`` ((page, item) pairs), by place."""
    if not places:
        return {}
    pages, items = zip(*sorted(places))
    with conn.cursor() as cur:
        cur.execute(query("select_batch_objects"),
                    {"batch_id": batch_id, "pages": list(pages), "items": list(items)})
        return {(page, item): obj for page, item, obj in cur.fetchall()}

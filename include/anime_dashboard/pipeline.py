"""The three steps of a snapshot run, as plain functions (no Airflow needed to call or test them).

extract  -> Jikan pages into raw (one batch); returns the batch id, never the payloads
validate -> the batch's records through the pydantic model: valid ones staged (de-duplicated by
            mal_id, first place kept), invalid ones into core.rejects with their errors
upsert   -> the staged batch becomes the snapshot of (type, date), metrics beside it, one transaction
"""
from __future__ import annotations

import logging
import socket
from datetime import date, datetime, timedelta, timezone
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from anime_dashboard.jikan.client import JikanClient
from anime_dashboard.models import AnimeRecord, validation_errors
from anime_dashboard.snapshots import SnapshotType
from anime_dashboard.warehouse.load import load_snapshot
from anime_dashboard.warehouse.raw import batch_objects, batch_records, land_batch, read_batch
from anime_dashboard.warehouse.staging import stage_batch

log = logging.getLogger(__name__)


class StaleSnapshotDate(Exception):
    """The run's date is in the past: Jikan only serves today's data."""


class TooManyRejects(Exception):
    """More records failed validation than the configured share allows."""


class EmptySnapshot(Exception):
    """Jikan answered, but with no records at all: not a snapshot worth replacing another with."""


def snapshot_date_for(logical_date: datetime | None, run_after: datetime | None = None,
                      start_date: datetime | None = None) -> date:
    """The snapshot date of a run: its logical date in UTC; a manual run without one uses its start."""
    when = logical_date or run_after or start_date
    if when is None:
        raise ValueError("the run has neither a logical date nor a start time")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).date()


def ensure_current(snapshot_date: date, today: date | None = None) -> None:
    """Refuse dates older than yesterday (UTC): writing today's data under them would be a lie."""
    today = today or datetime.now(timezone.utc).date()
    if snapshot_date < today - timedelta(days=1):
        raise StaleSnapshotDate(
            f"snapshot date {snapshot_date} is older than yesterday ({today - timedelta(days=1)}); "
            "Jikan serves only current data and has no history, so this run (a backfill or a cleared "
            "old run) skips and the stored snapshot for that date stays as it was")


def extract(snapshot: SnapshotType, *, conn, dag_id: str, run_id: str, snapshot_date: date,
            client: JikanClient | None = None,
            on_page: Callable[[dict[str, int]], None] | None = None) -> dict[str, Any]:
    """Fetch the snapshot's pages and land them as one batch. ``on_page`` gets the progress after each
    page: pages fetched, the pages there are (Jikan's last page, within the cap) and records so far."""
    ensure_current(snapshot_date)
    client = client or JikanClient()
    started = datetime.now(timezone.utc)
    pages, records = [], 0
    for page in client.iter_anime_pages(snapshot.params, snapshot.max_pages):
        pages.append(page)
        records += len(page.data) if isinstance(page.data, list) else 0
        if on_page is not None:  # Jikan's last page is a hint only (it has been wrong): shown, not trusted
            last = (page.body.get("pagination") or {}).get("last_visible_page")
            of = min(snapshot.max_pages, last) if isinstance(last, int) and last > 0 else snapshot.max_pages
            on_page({"pages": len(pages), "of": max(of, len(pages)), "records": records})
    batch_id, received = land_batch(
        conn, dag_id=dag_id, run_id=run_id, snapshot_type=snapshot.name, snapshot_date=snapshot_date,
        params=snapshot.params, max_pages=snapshot.max_pages, pages=pages, stats=client.stats, started_at=started,
        finished_at=datetime.now(timezone.utc))
    # the host names the Celery worker (several may run): Airflow's task log does not say where it ran
    log.info("%s %s: landed batch %s, %d pages, %d records, %s, on host %s", snapshot.name, snapshot_date, batch_id,
             len(pages), received, client.stats.as_dict(), socket.gethostname())
    return {"batch_id": batch_id, "snapshot_date": snapshot_date.isoformat(), "pages": len(pages),
            "received": received, **client.stats.as_dict()}


def validated_keys(model: type[BaseModel] = AnimeRecord) -> frozenset[str] | None:
    """The top-level keys ``model`` reads from a record, or None when a record must be validated whole.

    Keys outside them are extras, which the model keeps (``extra="allow"``) or drops (``"ignore"``) but
    never validates, so validating the record cut down to these keys accepts and rejects exactly what the
    whole record would (rejects are re-validated whole, for their stored errors). With ``extra="forbid"``
    or an alias that is not a plain key, extras with a declared type (validated), or a model validator
    (it sees the whole record), every key may matter: None.
    """
    if (model.model_config.get("extra") == "forbid" or model.__pydantic_decorators__.model_validators
            or "__pydantic_extra__" in getattr(model, "__annotations__", {})):
        return None
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        aliases = [info.alias, info.validation_alias]
        if any(a is not None and not isinstance(a, str) for a in aliases):
            return None
        keys.update(a for a in [name, *aliases] if a)
    return frozenset(keys)


VALIDATED_KEYS = validated_keys()


def _mal_id_of(raw: Any) -> int | None:
    mal_id = raw.get("mal_id") if isinstance(raw, dict) else None
    return (mal_id if isinstance(mal_id, int) and not isinstance(mal_id, bool) and 0 < mal_id < 2**31
            else None)


def validate(batch_id: int, *, conn, max_reject_share: float) -> dict[str, Any]:
    batch = read_batch(conn, batch_id)
    # the records as the server cuts them to what validation reads: the Jikan objects themselves stay in
    # raw.jikan_pages, where the upsert takes them from (by page and item)
    records = batch_records(conn, batch_id, keys=VALIDATED_KEYS)
    failed: list[tuple[int, int, ValidationError]] = []
    counts = {"valid": 0, "duplicates": 0}

    def valid() -> Iterator[dict[str, Any]]:  # consumed by staging's COPY, as the server stores them
        seen: set[int] = set()
        for page, item, raw in records:
            try:
                record = AnimeRecord.model_validate(raw)
            except ValidationError as exc:
                failed.append((page, item, exc))
                continue
            if record.mal_id in seen:  # Jikan repeats titles across pages: the first place counts
                counts["duplicates"] += 1
                continue
            seen.add(record.mal_id)
            counts["valid"] += 1
            yield {"mal_id": record.mal_id, "list_position": counts["valid"], "page": page, "item": item,
                   "record": record.snapshot_columns()}

    rejects = stage_batch(conn, batch, valid(), lambda: _rejects(conn, batch_id, failed))
    received, duplicates = len(records), counts["duplicates"]
    valid_count = counts["valid"]
    result = {"batch_id": batch_id, "received": received, "valid": valid_count,
              "duplicates": duplicates, "rejected": len(rejects)}
    log.info("batch %s validated: %s", batch_id, result)
    if received == 0:
        raise EmptySnapshot(f"batch {batch_id} ({batch['snapshot_type']} {batch['snapshot_date']}) has no "
                            "records: Jikan returned empty pages; the stored snapshot is left as it was")
    share = len(rejects) / (valid_count + len(rejects))
    if share > max_reject_share:
        raise TooManyRejects(
            f"{len(rejects)} of {valid_count + len(rejects)} records ({share:.1%}) failed validation, "
            f"more than the allowed {max_reject_share:.1%} (ANIME_DASHBOARD_MAX_REJECT_SHARE); they are in "
            f"core.rejects with batch_id={batch_id}")
    return result


def _rejects(conn, batch_id: int, failed: list[tuple[int, int, ValidationError]]) -> list[dict[str, Any]]:
    """The failed records whole, with their errors as validating the whole record reports them."""
    objects = batch_objects(conn, batch_id, [(page, item) for page, item, _ in failed])
    rejects = []
    for page, item, exc in failed:
        raw = objects[(page, item)]
        try:
            AnimeRecord.model_validate(raw)
        except ValidationError as whole:
            exc = whole  # the same failure; its messages may quote the whole record
        rejects.append({"page": page, "payload": raw, "errors": validation_errors(exc),
                        "mal_id": _mal_id_of(raw)})
    return rejects


def upsert(batch_id: int, *, conn, run_id: str) -> dict[str, Any]:
    batch = read_batch(conn, batch_id)
    result = load_snapshot(conn, batch, run_id)
    log.info("%s %s: %s", batch["snapshot_type"], batch["snapshot_date"], result.as_dict())
    return {"batch_id": batch_id, "snapshot_type": batch["snapshot_type"],
            "snapshot_date": str(batch["snapshot_date"]), **result.as_dict()}

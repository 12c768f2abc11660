"""One day's snapshots landed and loaded the way the snapshot DAGs do it, for the benchmarks that time the daily
load (bench/daily_cost.py, bench/backup.py): each type's list made of the real corpus (415 Jikan objects) as its Jikan
query returns them, topped up with variants (``k * 1_000_000 + mal_id``, as the history generator does); landed in
``raw`` as 25-record Jikan pages, then ``pipeline.validate`` + ``pipeline.upsert`` batch by batch."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlencode

VARIANT_STRIDE = 1_000_000
DAG_PREFIX = "bench_load"


def variant(raw: dict, k: int) -> dict:
    """Variant k of a corpus object: another title (mal_id k * 1,000,000 + mal_id), the rest as is."""
    if k == 0:
        return raw
    return {**raw, "mal_id": k * VARIANT_STRIDE + raw["mal_id"], "title": f"{raw['title']} (synthetic #{k})"}


def build_lists(list_sizes: dict[str, int]) -> dict[str, list[dict]]:
    """Each type's list: the corpus titles its query returns (replay filters), topped up with variants."""
    from anime_dashboard.history import load_corpus
    from anime_dashboard.history_plan import matches
    from anime_dashboard.snapshots import BY_NAME

    corpus = load_corpus()
    lists = {}
    for name, size in list_sizes.items():
        candidates = [raw for raw, _ in corpus if matches(BY_NAME[name], raw)]
        k_max = math.ceil(size / len(candidates))
        lists[name] = [variant(raw, k) for k in range(k_max) for raw in candidates][:size]
        assert len({r["mal_id"] for r in lists[name]}) == size
    return lists


def pages_of(snapshot, records: list[dict], fetched_at: datetime) -> list:
    """The list as the Jikan pages extract would have fetched (25 records a page, Jikan's envelope)."""
    from anime_dashboard.jikan.client import Page
    from anime_dashboard.snapshots import PAGE_SIZE

    last = max(1, math.ceil(len(records) / PAGE_SIZE))
    pages = []
    for n in range(1, last + 1):
        data = records[(n - 1) * PAGE_SIZE:n * PAGE_SIZE]
        body = {"pagination": {"last_visible_page": last, "has_next_page": n < last, "current_page": n,
                               "items": {"count": len(data), "total": len(records), "per_page": PAGE_SIZE}},
                "data": data}
        url = "https://api.jikan.moe/v4/anime?" + urlencode({**snapshot.params, "page": n, "limit": PAGE_SIZE})
        pages.append(Page(page=n, url=url, status=200, body=body, fetched_at=fetched_at))
    return pages


def plan(days: int, end: date, lists: dict[str, list[dict]]) -> list[tuple[str, date, str]]:
    """(type, date, run_id) of every snapshot, in the order the daily runs would load them."""
    from anime_dashboard.snapshots import BY_NAME

    out = []
    for d in range(days):
        day = end - timedelta(days=days - 1 - d)
        for name in lists:
            out.append((name, day, f"scheduled__{day.isoformat()}T00:00:00+00:00:{BY_NAME[name].dag_id}"))
    return out


def land_all(conn, snapshots, lists) -> list[int]:
    """Land every snapshot as an extract batch (what extract writes after fetching); batch ids."""
    from anime_dashboard.jikan.client import RequestStats
    from anime_dashboard.snapshots import BY_NAME
    from anime_dashboard.warehouse.raw import land_batch

    batch_ids = []
    for name, day, run_id in snapshots:
        snapshot = BY_NAME[name]
        now = datetime.now(timezone.utc)
        pages = pages_of(snapshot, lists[name], now)
        stats = RequestStats(requests=len(pages), pages=len(pages))
        batch_id, _ = land_batch(conn, dag_id=f"{DAG_PREFIX}_{snapshot.dag_id}", run_id=run_id,
                                 snapshot_type=name, snapshot_date=day, params=snapshot.params,
                                 max_pages=snapshot.max_pages, pages=pages,
                                 stats=stats, started_at=now, finished_at=now)
        batch_ids.append(batch_id)
    return batch_ids


def validate_and_upsert(conn, snapshots, batch_ids, expect: str, per_day: int,
                        after_day: Callable[[int], None]) -> dict[str, float]:
    """The project's validate + upsert of every batch; wall time of each step, summed. ``after_day(d)`` runs
    (untimed here) after the last snapshot of each day d."""
    from anime_dashboard import pipeline

    validate_s = upsert_s = 0.0
    rows = 0
    for i, ((name, day, run_id), batch_id) in enumerate(zip(snapshots, batch_ids)):
        t0 = time.perf_counter()
        checked = pipeline.validate(batch_id, conn=conn, max_reject_share=0.05)
        t1 = time.perf_counter()
        loaded = pipeline.upsert(batch_id, conn=conn, run_id=run_id)
        t2 = time.perf_counter()
        validate_s += t1 - t0
        upsert_s += t2 - t1
        if checked["rejected"] or checked["duplicates"] or loaded["removed"] or \
                loaded[expect] != checked["valid"]:
            raise SystemExit(f"batch {batch_id} ({name} {day}): unexpected counts {checked} {loaded} "
                             f"(every row should be {expect})")
        rows += loaded[expect]
        if (i + 1) % per_day == 0:
            after_day(i // per_day)
    return {"rows": rows, "seconds": validate_s + upsert_s, "validate_s": validate_s, "upsert_s": upsert_s}

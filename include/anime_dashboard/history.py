"""Synthetic history: N past days of snapshots of all four types, derived from the real corpus.

The warehouse gets one real snapshot per type and day, so trend dashboards start flat and nothing can be
tested at scale. :func:`generate_history` writes the days before (by default) today's real snapshot:

* every generated title is a corpus title (``variant`` 0, its real ``mal_id``) or a deterministic
  *variant* of one (``variant`` k > 0: ``mal_id = k * 1_000_000 + mal_id``, title ``"<title> (synthetic #k)"``),
  needed when a list is longer than what the corpus supplies;
* each title's score, members, scored_by and favorites drift deterministically (parameters hashed from
  its ``mal_id``) towards its corpus values at the end date; rank and popularity are its places among all
  generated titles of the day, and a title has the same values in every list it is in on a day;
* each type's list is its candidate pool (corpus titles matching the type's Jikan filter, times
  variants, about 1.25x the list) ordered the way the type's query orders, cut to the list size, so
  titles enter and leave the lists from day to day;
* rows are labelled: ``synthetic = true``, no batch, run id ``synthetic:history-generator``, a small
  marker payload. A (type, date) holding a real snapshot is skipped and never touched; a rerun replaces
  the synthetic snapshots of its range (same arguments: identical rows).

All of it runs in Postgres (``sql/history/*.sql``), in one transaction, followed by the snapshot catalog,
``core.refresh_titles(NULL)`` and a refresh of the materialized analytics views.

Command line::

    python -m anime_dashboard.history --days 90 [--end 2026-11-23] [--list-size top=1000 ...] [--scale-3y]
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import math
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from pydantic import ValidationError

from anime_dashboard.jikan.replay import DEFAULT_CORPUS_PATH, ORDER_FIELDS, STATUS_FILTERS, TYPE_FILTERS
from anime_dashboard.models import AnimeRecord
from anime_dashboard.snapshots import PAGE_SIZE, SNAPSHOT_TYPES, SnapshotType
from anime_dashboard.warehouse.db import query, sql_dir

log = logging.getLogger(__name__)

GENERATOR = "anime_dashboard.history"
RUN_ID = "synthetic:history-generator"
VARIANT_STRIDE = 1_000_000  # variant k of title X: k * VARIANT_STRIDE + X
POOL_FACTOR = 1.25  # candidate pool >= this many times the list, so lists change from day to day
SCALE_3Y_DAYS = 1095
SCALE_3Y_LIST_SIZE = 1000
CHUNK_ROWS = 600_000  # generated title-days computed per statement (bounds temp table and sort size)
_MAX_INT = 2**31 - 1

# Jikan's ?order_by= -> column of the generated rows (what the replay sorts on); None: corpus order.
ORDER_COLUMNS: dict[str | None, str] = {
    None: "corpus_order",
    "mal_id": "mal_id",
    "title": "title",
    "start_date": "aired_from",
    "end_date": "aired_to",
    "episodes": "episodes",
    "score": "score",
    "scored_by": "scored_by",
    "rank": "rank",
    "popularity": "popularity",
    "members": "members",
    "favorites": "favorites",
}
assert set(ORDER_COLUMNS) - {None} == set(ORDER_FIELDS)


def history_query(name: str) -> str:
    """The text of ``sql/history/<name>.sql``."""
    path = sql_dir() / "history" / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path}")
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# The corpus and the candidate pools
# --------------------------------------------------------------------------


def load_corpus(path: Path | str = DEFAULT_CORPUS_PATH) -> list[tuple[dict, AnimeRecord]]:
    """(raw object, validated record) of every corpus title the real pipeline would accept, in file order."""
    with open(path, encoding="utf-8") as fh:
        corpus = json.load(fh)
    if isinstance(corpus, dict) and isinstance(corpus.get("data"), list):
        corpus = corpus["data"]
    out, seen = [], set()
    for raw in corpus:
        try:
            record = AnimeRecord.model_validate(raw)
        except ValidationError:
            continue
        if record.mal_id in seen:
            continue
        if record.mal_id >= VARIANT_STRIDE:
            raise ValueError(f"corpus mal_id {record.mal_id} does not fit the variant scheme "
                             f"(k * {VARIANT_STRIDE} + mal_id)")
        seen.add(record.mal_id)
        out.append((raw, record))
    return out


def matches(snapshot: SnapshotType, raw: dict) -> bool:
    """Whether the type's Jikan query returns this object (the replay's filters)."""
    status = snapshot.params.get("status")
    if status and raw.get("status") != STATUS_FILTERS[status.lower()]:
        return False
    type_ = snapshot.params.get("type")
    if type_ and not (isinstance(raw.get("type"), str) and raw["type"].lower() == TYPE_FILTERS[type_.lower()]):
        return False
    return True


def candidate_titles(corpus: list[tuple[dict, AnimeRecord]]) -> dict[str, list[int]]:
    """mal_ids of the corpus titles each snapshot type's query returns."""
    return {s.name: [rec.mal_id for raw, rec in corpus if matches(s, raw)] for s in SNAPSHOT_TYPES}


def default_list_sizes(corpus: list[tuple[dict, AnimeRecord]] | None = None) -> dict[str, int]:
    """What the real pipeline stores per type: max_pages x 25, capped by what the corpus supplies."""
    candidates = candidate_titles(corpus if corpus is not None else load_corpus())
    return {s.name: min(s.max_pages * PAGE_SIZE, len(candidates[s.name])) for s in SNAPSHOT_TYPES}


def variants_needed(list_size: int, candidates: int) -> int:
    """Variants per corpus title (variant 0 included) for a pool of at least POOL_FACTOR x the list."""
    return max(1, math.ceil(POOL_FACTOR * list_size / candidates))


def order_clause(snapshot: SnapshotType):
    """(ORDER BY key, direction) of the type's query as psycopg2 SQL: the replay's order."""
    from psycopg2 import sql

    order_by = snapshot.params.get("order_by")
    order_by = order_by.lower() if order_by else None
    if order_by not in ORDER_COLUMNS:
        raise ValueError(f"{snapshot.name}: cannot order by {order_by!r}")
    key = sql.Identifier("j", ORDER_COLUMNS[order_by])
    if order_by == "title":
        key = sql.SQL('{} COLLATE "C"').format(key)  # Python's string order: by code point
    sort = (snapshot.params.get("sort") or "desc").lower() if order_by else "asc"
    if sort not in ("asc", "desc"):
        raise ValueError(f"{snapshot.name}: unknown sort {sort!r}")
    return key, sql.SQL(sort.upper())


# --------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------


def generate_history(conn, *, end_date: date, days: int, list_sizes: dict[str, int] | None = None) -> dict:
    """Write ``days`` days of synthetic snapshots of every type, ending with ``end_date``.

    ``list_sizes`` (type -> titles a day) overrides the defaults of :func:`default_list_sizes` per type.
    Returns a summary: rows and snapshots written, real snapshots skipped, seconds taken.
    """
    from psycopg2 import sql

    from anime_dashboard.analytics import refresh_materialized_views

    started = time.perf_counter()
    if days < 1:
        raise ValueError("days must be at least 1")
    corpus = load_corpus()
    candidates = candidate_titles(corpus)
    sizes = default_list_sizes(corpus)
    unknown = set(list_sizes or {}) - set(sizes)
    if unknown:
        raise ValueError(f"unknown snapshot types {sorted(unknown)}; known: {sorted(sizes)}")
    sizes.update(list_sizes or {})
    variants = {}
    for s in SNAPSHOT_TYPES:
        if sizes[s.name] < 1:
            raise ValueError(f"list size of {s.name} must be at least 1")
        if not candidates[s.name]:
            raise ValueError(f"the corpus has no title for {s.name}")
        variants[s.name] = variants_needed(sizes[s.name], len(candidates[s.name]))
        if (variants[s.name] - 1) * VARIANT_STRIDE + max(candidates[s.name]) > _MAX_INT:
            raise ValueError(f"list size {sizes[s.name]} of {s.name} needs more variants than mal_ids allow")
    start_date = end_date - timedelta(days=days - 1)
    names = [s.name for s in SNAPSHOT_TYPES]
    dates = {"snapshot_types": names, "start_date": start_date, "end_date": end_date}

    autocommit = conn.autocommit
    if autocommit:
        conn.autocommit = False  # the work tables live until the commit
    try:
        with conn, conn.cursor() as cur:
            cur.execute(history_query("begin"))
            cur.execute(history_query("create_work_tables"))
            lines = "".join(
                f"{i}\t{json.dumps(rec.snapshot_columns(), ensure_ascii=True)}\n".replace("\\", "\\\\")
                for i, (_, rec) in enumerate(corpus))
            cur.copy_expert(history_query("copy_corpus"), io.StringIO(lines))
            pools = [(name, mal_id, variants[name]) for name in names for mal_id in candidates[name]]
            cur.execute(history_query("insert_pools"), {"snapshot_types": [p[0] for p in pools],
                                                        "base_mal_ids": [p[1] for p in pools],
                                                        "variants": [p[2] for p in pools]})
            cur.execute(history_query("build_titles"))
            cur.execute("SELECT count(*) FROM history_titles")
            titles = cur.fetchone()[0]

            cur.execute(history_query("select_real_snapshots"), dates)
            skipped = [(t, d.isoformat()) for t, d in cur.fetchall()]
            cur.execute(history_query("build_targets"), dates)
            cur.execute(history_query("delete_synthetic_rows"))
            replaced = cur.rowcount

            rows = 0
            chunk_days = max(1, CHUNK_ROWS // max(titles, 1))
            inserts = {}
            for s in SNAPSHOT_TYPES:
                key, direction = order_clause(s)
                inserts[s.name] = sql.SQL(history_query("insert_snapshot_rows")).format(
                    order_key=key, direction=direction)
            chunk_start = start_date
            while chunk_start <= end_date:
                chunk_end = min(end_date, chunk_start + timedelta(days=chunk_days - 1))
                cur.execute(history_query("build_daily"), {"chunk_start": chunk_start, "chunk_end": chunk_end,
                                                           "end_date": end_date})
                for name in names:
                    cur.execute(inserts[name], {"snapshot_type": name, "list_size": sizes[name],
                                                "generator": GENERATOR, "run_id": RUN_ID})
                    rows += cur.rowcount
                log.info("history %s .. %s: %d rows so far (%.1f s)", chunk_start, chunk_end, rows,
                         time.perf_counter() - started)
                chunk_start = chunk_end + timedelta(days=1)

            cur.execute(history_query("refresh_catalog"))
            cur.execute("SELECT count(*) FROM history_targets")
            snapshots = cur.fetchone()[0]
            generated = time.perf_counter() - started
            cur.execute(query("refresh_titles"), {"mal_ids": None})
            titles_refreshed = time.perf_counter() - started
    finally:
        if autocommit:
            conn.autocommit = True
    views = refresh_materialized_views(conn, concurrently=False)  # after a bulk load: faster
    summary = {
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "days": days,
        "list_sizes": sizes,
        "pool_sizes": {name: variants[name] * len(candidates[name]) for name in names},
        "generated_titles": titles,
        "rows_written": rows,
        "rows_replaced": replaced,
        "snapshots_written": snapshots,
        "snapshots_skipped": len(skipped),
        "skipped": [f"{t} {d}" for t, d in skipped],
        "views_refreshed": sorted(views),
        "seconds_generate": round(generated, 3),
        "seconds_titles": round(titles_refreshed - generated, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("history %s..%s: %d rows in %d snapshots (%d real ones skipped) in %.1f s", summary["start_date"],
             summary["end_date"], summary["rows_written"], snapshots, len(skipped), summary["seconds"])
    return summary


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _list_size(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or name not in {s.name for s in SNAPSHOT_TYPES}:
        raise argparse.ArgumentTypeError(
            f"expected TYPE=N with TYPE one of {', '.join(s.name for s in SNAPSHOT_TYPES)}")
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if size < 1:
        raise argparse.ArgumentTypeError("a list size must be at least 1")
    return name, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="anime-dashboard history",
        description="Write N days of synthetic snapshots of all four types (labelled synthetic, derived from "
                    "the bundled corpus) into the warehouse (AIRFLOW_CONN_WAREHOUSE). Real snapshots are "
                    "skipped; rerunning replaces what an earlier run wrote.")
    parser.add_argument("--days", type=int, help="days to write, ending with --end (default with "
                        f"--scale-3y: {SCALE_3Y_DAYS})")
    parser.add_argument("--end", type=date.fromisoformat,
                        help="last day written, YYYY-MM-DD (default: yesterday, UTC)")
    parser.add_argument("--list-size", type=_list_size, action="append", default=[], metavar="TYPE=N",
                        help="titles a day of one type (repeatable; default: the real pipeline's list sizes)")
    parser.add_argument("--scale-3y", action="store_true",
                        help=f"performance scale: {SCALE_3Y_DAYS} days of {SCALE_3Y_LIST_SIZE} titles per type "
                             "and day (~4.4M rows) unless --days / --list-size say otherwise")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    days = args.days if args.days is not None else (SCALE_3Y_DAYS if args.scale_3y else None)
    if days is None:
        parser.error("--days is required (or --scale-3y)")
    if days < 1:
        parser.error("--days must be at least 1")
    list_sizes = {s.name: SCALE_3Y_LIST_SIZE for s in SNAPSHOT_TYPES} if args.scale_3y else {}
    list_sizes.update(dict(args.list_size))
    end = args.end or datetime.now(timezone.utc).date() - timedelta(days=1)

    from anime_dashboard.warehouse.db import connect

    with connect() as conn:
        summary = generate_history(conn, end_date=end, days=days, list_sizes=list_sizes or None)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

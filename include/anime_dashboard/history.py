"""Synthetic history: N past days of snapshots of all four types, built backwards from the real snapshots.

The warehouse gets one real snapshot per type and day, so trend dashboards start flat and nothing can be
tested at scale. :func:`generate_history` writes the days before the real snapshots, so that the last
synthetic day and the first real one differ by about one day's drift:

* **Anchors.** Each synthetic day of a type is built from its *anchor*: the first real snapshot of that
  type after the day (its list, its values, its list definition). Without one (an empty warehouse, or a
  range after every real snapshot), the anchor is what the real pipeline would store on the day after the
  range: the bundled corpus as the offline replay serves the type's current definition (snapshots.py).
  Every synthetic snapshot records its anchor's definition, so history views compare it with its anchor.
* **Values drift backwards from the anchor's.** ``t`` days before its anchor a title's score, members,
  scored_by and favorites are its anchor values moved by a deterministic drift (parameters hashed from its
  ``mal_id``: ``sql/history/build_titles.sql``, applied in ``build_daily.sql``):

  - *score*: a trend, a wave and (airing titles) a wobble, scaled down for titles with many scorers and
    rounded to 2 decimals as MyAnimeList shows it. Finished titles with 100k+ scorers move by 0.01 on a
    few days in a hundred (median daily change 0.00, largest 0.01); airing titles move on most days
    (median 0.01, at most about 0.05).
  - *members* grow every day, at a pace that speeds up and slows down but never reverses (scored_by and
    favorites in proportion): finished titles 5-12 % a year, 12-37 % in the two years after they end,
    airing titles 60-200 %, titles not yet aired 20-110 %.
  - *rank* (by score) and *popularity* (by members) follow them: the anchor rank moves by the ranks the
    score change crosses on the anchor day's score -> rank curve (popularity likewise on log members, net
    of the median title's growth, so a title growing like the market keeps its place).

  Calibrated against real Jikan responses of MyAnimeList titles recorded at known times (Date and
  Last-Modified headers): the recordings in ``shared/jikan/recordings.json`` (2022-12-02 .. 12-09), every
  committed version of the jikanpy client's test cassettes (github.com/abhinavk99/jikanpy,
  ``tests/vcr_cassettes``, 2019-03-04 .. 2022-12-09: 3,543 dated objects), the daily Jikan seasonal dumps of
  github.com/LeoRigasaki/Anime-dataset (``data/raw/jikan_seasonal_YYYYMMDD.csv``, 26 days of 2026) and a
  dated top-50 snapshot in github.com/sasigume/animegurafu (``src/pages/sampleJson.ts``, 2021-03-04):

  ======================================  =========================================================
  score, finished, 100k+ scorers           median daily change 0.00; a 0.01 step on 0-1.3 % of days;
                                           largest one-day change 0.01; over 60-900 days median
                                           0.027 a year (FMA:B 9.24 in 2019 -> 9.11 in 2022-12),
                                           just-finished hits about -0.2 a year
  score, finished, 10k-100k scorers        a 0.01 step on 3-6 % of days, never more in a day
  score, airing                            changes on 64-79 % of days: median 0.01, p90 0.03, max 0.05
  members, finished 2+ years ago           0.018 % a day (p10-p90 0.014-0.028): 5-10 % a year today
  members, finished within 2 years         0.057 % a day (about 21 % a year); 28-42 % a year long-run
  members, airing                          0.31 % a day (p10-p90 0.165-0.56)
  members, not yet aired                   0.15-0.28 % a day
  members falling                          0 of 300+ title pairs with 10k+ members
  scored_by / members growth               0.9x (finished), 2.3x (airing); favorites 0.6x
  rank, top 50                             about 0.02 moves a title and day (FMA:B #1 2019-2022)
  rank, 51-500 / 501-2000 / 2000+          median |daily change| 0.23 / 2.3 / 8 places
  ======================================  =========================================================

  Jikan caches for 24 h and can serve stale copies, so a client sees a value flat for days, then a step;
  the generator drifts smoothly instead.
* **Lists change a little every day.** Going back from the anchor, each day a few titles of the list are
  swapped for *variants* (``mal_id = k * 1_000_000 + mal_id`` of a corpus title matching the list's filter,
  title ``"<title> (synthetic #k)"``, values close to the title they replace): a title that entered the list
  later is absent earlier. The swaps per day are a fixed share of the list (``history_plan.CHURN_PER_DAY``:
  a season's turnover for ``airing`` and ``upcoming``, a few titles a week for ``top`` and ``movies``),
  spread evenly over the days (the anchor's own day is a day like any other), so entries and exits at the
  seam are those of any synthetic day. A list longer than its anchor (``list_sizes``) is topped up with
  variants, one shorter is cut (both make a seam: the real list is what it is).
* Each day's list is ordered the way its definition orders (key, direction, nulls where Jikan puts them:
  smallest), ties in the anchor's order; a title has the same values in every list anchored on the same
  day.
* Rows are labelled: ``synthetic = true``, no batch, run id ``synthetic:history-generator``, a small marker
  payload. A (type, date) holding a real snapshot is skipped and never touched; a rerun replaces the
  synthetic snapshots of its range (same arguments and real snapshots: identical rows).

All of it runs in one transaction (the drift and the lists in Postgres, ``sql/history/*.sql``; the list
changes, planned in Python by ``anime_dashboard.history_plan``, are small), followed by the snapshot
catalog (whose triggers keep the history rows of the days written), then ``core.refresh_titles(NULL)``.

Command line (anime_dashboard.cli)::

    anime-dashboard history --days 90 [--end YYYY-MM-DD] [--list-size top=1000 ...] [--scale-3y]
"""
from __future__ import annotations

import io
import json
import logging
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from pydantic import ValidationError

from anime_dashboard.history_plan import VARIANT_STRIDE, Anchor, Ref, build_plan
from anime_dashboard.jikan.replay import DEFAULT_CORPUS_PATH, ORDER_FIELDS
from anime_dashboard.jikan.replay.search import DEFAULT_SORT
from anime_dashboard.models import AnimeRecord
from anime_dashboard.snapshots import BY_NAME, PAGE_SIZE, SNAPSHOT_TYPES, SnapshotType
from anime_dashboard.warehouse.db import query, sql_dir

log = logging.getLogger(__name__)

GENERATOR = "anime_dashboard.history"
RUN_ID = "synthetic:history-generator"
CHUNK_ROWS = 600_000  # generated title-days computed per statement (bounds temp table and sort size)

# Jikan's ?order_by= -> column of the generated rows (what the list is ordered by).
ORDER_COLUMNS: dict[str, str] = {
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
assert set(ORDER_COLUMNS) == set(ORDER_FIELDS)


def history_query(name: str) -> str:
    """The text of ``sql/history/<name>.sql``."""
    path = sql_dir() / "history" / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path}")
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# The corpus
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


def served_list(snapshot: SnapshotType, corpus_path: Path | str = DEFAULT_CORPUS_PATH) -> list[int]:
    """mal_ids of what the pipeline stores for the type against the offline replay: the pages the replay
    serves for its definition (up to its page cap), validated and de-duplicated (first place kept)."""
    from anime_dashboard.jikan.replay import JikanReplay

    replay = JikanReplay(corpus_path=corpus_path)
    listed: list[int] = []
    for page in range(1, snapshot.max_pages + 1):
        body = replay.search_anime({**snapshot.params, "page": str(page), "limit": str(PAGE_SIZE)}).payload
        for raw in body["data"]:
            try:
                mal_id = AnimeRecord.model_validate(raw).mal_id
            except ValidationError:
                continue
            if mal_id not in listed:
                listed.append(mal_id)
        if not body["pagination"]["has_next_page"]:
            break
    return listed


def order_clause(params: dict):
    """(ORDER BY key, direction, nulls) of a definition's query as psycopg2 SQL: the order Jikan lists in.
    Jikan sorts literally on the stored field, nulls being the smallest value: first ascending, last
    descending."""
    from psycopg2 import sql

    order_by = (params.get("order_by") or "mal_id").lower()
    if order_by not in ORDER_COLUMNS:
        raise ValueError(f"cannot order by {order_by!r}")
    key = sql.Identifier("j", ORDER_COLUMNS[order_by])
    if order_by == "title":
        key = sql.SQL('{} COLLATE "C"').format(key)  # Jikan's (MongoDB's) string order: by code point
    sort = (params.get("sort") or DEFAULT_SORT).lower() if params.get("order_by") else "asc"
    if sort not in ("asc", "desc"):
        raise ValueError(f"unknown sort {sort!r}")
    return key, sql.SQL(sort.upper()), sql.SQL("FIRST" if sort == "asc" else "LAST")


# --------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------


def _check_arguments(days: int, list_sizes: dict[str, int]) -> None:
    if days < 1:
        raise ValueError("days must be at least 1")
    unknown = set(list_sizes) - set(BY_NAME)
    if unknown:
        raise ValueError(f"unknown snapshot types {sorted(unknown)}; known: {sorted(BY_NAME)}")
    if any(n < 1 for n in list_sizes.values()):
        raise ValueError("a list size must be at least 1")


def _copy(cur, table: str, columns: list[str], rows) -> None:
    def text(v) -> str:
        if v is None:
            return "\\N"
        return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    buf = io.StringIO("".join("\t".join(text(v) for v in row) + "\n" for row in rows))
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)


@contextmanager
def _transaction(conn):
    """A cursor in one transaction, committed at the end; an autocommit connection is switched out of
    autocommit meanwhile (the work tables live until the commit)."""
    autocommit = conn.autocommit
    if autocommit:
        conn.autocommit = False
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        if autocommit:
            conn.autocommit = True


# --- read: the anchors and their titles' values ---------------------------------------------------------


def _anchors(cur, start_date: date, end_date: date):
    """The anchor of every synthetic day, and the days skipped because a real snapshot holds them."""
    cur.execute(history_query("select_real_snapshots"), {"start_date": start_date})
    real = {}  # type -> [(date, definition_id)] ascending
    skipped = []
    for snapshot_type, snapshot_date, definition_id in cur.fetchall():
        real.setdefault(snapshot_type, []).append((snapshot_date, definition_id))
        if snapshot_date <= end_date and snapshot_type in BY_NAME:
            skipped.append((snapshot_type, snapshot_date.isoformat()))
    anchors: dict[tuple[str, date], Anchor] = {}
    virtual_date = end_date + timedelta(days=1)
    for s in SNAPSHOT_TYPES:
        dates = real.get(s.name, [])
        taken = {d for d, _ in dates}
        for offset in range((end_date - start_date).days + 1):
            day = start_date + timedelta(days=offset)
            if day in taken:
                continue
            later = [(d, i) for d, i in dates if d > day]
            anchor_date, definition_id = later[0] if later else (virtual_date, None)
            anchor = anchors.get((s.name, anchor_date))
            if anchor is None:
                anchor = anchors[s.name, anchor_date] = Anchor(s.name, anchor_date, definition_id, {}, [],
                                                               real=definition_id is not None)
            anchor.days.append(day)
    return anchors, skipped


def _read_real_anchors(cur, anchors: dict[tuple[str, date], Anchor], refs: dict, statics: dict) -> None:
    """The real anchors' lists and definitions, and their titles' values, from the warehouse."""
    real = [a for a in anchors.values() if a.real]
    if not real:
        return
    cur.execute(history_query("select_anchor_lists"),
                {"snapshot_types": [a.snapshot_type for a in real], "anchor_dates": [a.anchor_date for a in real]})
    for snapshot_type, anchor_date, mal_id, params in cur.fetchall():
        anchor = anchors[snapshot_type, anchor_date]
        anchor.listed.append(mal_id)
        anchor.params = params
    cur.execute(history_query("select_anchor_values"), {"anchor_dates": sorted({a.anchor_date for a in real})})
    for anchor_date, mal_id, snapshot_type, *values in cur.fetchall():
        score = float(values[0]) if values[0] is not None else None
        refs.setdefault(anchor_date, {})[mal_id] = Ref(score, *values[1:])
        statics.setdefault(anchor_date, {})[mal_id] = snapshot_type


def _read_corpus_anchors(cur, anchors: dict[tuple[str, date], Anchor], corpus_refs: dict[int, Ref], refs: dict,
                         statics: dict) -> None:
    """The virtual anchors (no real snapshot after the day): the type's current definition (recorded in
    core.list_definitions) and the corpus as the replay serves it."""
    from psycopg2.extras import Json

    for a in anchors.values():
        if a.real:
            continue
        s = BY_NAME[a.snapshot_type]
        params, max_pages = s.definition
        cur.execute("SELECT core.list_definition(%s, %s, %s)", (s.name, Json(params), max_pages))
        a.definition_id, a.params, a.listed = cur.fetchone()[0], params, served_list(s)
        refs.setdefault(a.anchor_date, {}).update({m: corpus_refs[m] for m in a.listed})
        statics.setdefault(a.anchor_date, {}).update(dict.fromkeys(a.listed))


def read_anchors(cur, start_date: date, end_date: date, corpus: list[tuple[dict, AnimeRecord]]):
    """(anchors, skipped real days, refs, statics) of the range: what :func:`build_plan` plans from."""
    corpus_refs = {rec.mal_id: Ref(rec.score, rec.scored_by, rec.members, rec.favorites, rec.rank,
                                   rec.popularity) for _, rec in corpus}
    anchors, skipped = _anchors(cur, start_date, end_date)
    refs: dict[date, dict[int, Ref]] = {}
    statics: dict[date, dict[int, str | None]] = {}
    _read_real_anchors(cur, anchors, refs, statics)
    _read_corpus_anchors(cur, anchors, corpus_refs, refs, statics)
    return anchors, skipped, refs, statics


# --- write: the plan into work tables, then the snapshots day by day ------------------------------------


def write_work_tables(cur, corpus: list[tuple[dict, AnimeRecord]], plan) -> None:
    """The corpus and the plan COPYed into the transaction's work tables, and the titles' drift built."""
    cur.execute(history_query("create_work_tables"))
    corpus_by_id = {rec.mal_id: rec for _, rec in corpus}
    lines = "".join(
        f"{rec.mal_id}\t{json.dumps(rec.snapshot_columns(), ensure_ascii=True)}\n".replace("\\", "\\\\")
        for rec in corpus_by_id.values())
    cur.copy_expert(history_query("copy_corpus"), io.StringIO(lines))
    _copy(cur, "history_refs", ["anchor_date", "mal_id", "base_mal_id", "variant", "statics_type",
                                "score", "scored_by", "members", "favorites", "rank", "popularity",
                                "rank_slope", "popularity_slope"], plan.titles.values())
    _copy(cur, "history_members", ["snapshot_type", "anchor_date", "mal_id", "t_from", "t_to", "tie_order"],
          [(m.snapshot_type, m.anchor_date, m.mal_id, m.t_from, m.t_to, m.tie_order) for m in plan.members])
    _copy(cur, "history_targets", ["snapshot_type", "snapshot_date", "anchor_date", "t", "definition_id",
                                   "list_size"], plan.targets)
    cur.execute(history_query("build_titles"))


def _inserts(anchors: dict[tuple[str, date], Anchor]) -> dict:
    """(type, definition) -> its INSERT of snapshot rows, ordered as that definition orders."""
    from psycopg2 import sql

    inserts = {}
    for a in anchors.values():
        if (a.snapshot_type, a.definition_id) not in inserts:
            key, direction, nulls = order_clause(a.params)
            inserts[a.snapshot_type, a.definition_id] = sql.SQL(history_query("insert_snapshot_rows")).format(
                order_key=key, direction=direction, nulls=nulls)
    return inserts


def _chunk_days(plan) -> int:
    """Days per statement, so that one computes about CHUNK_ROWS title-days."""
    per_day = max(1, sum(t[5] for t in plan.targets) // max(1, len(plan.targets)) * len(BY_NAME))
    return max(1, CHUNK_ROWS // per_day)


def write_snapshots(cur, anchors: dict[tuple[str, date], Anchor], plan, start_date: date, end_date: date,
                    started: float) -> int:
    """The synthetic snapshot rows of the range, a chunk of days at a time; returns the rows written."""
    inserts = _inserts(anchors)
    chunk_days = _chunk_days(plan)
    rows = 0
    chunk_start = start_date
    while chunk_start <= end_date:
        chunk_end = min(end_date, chunk_start + timedelta(days=chunk_days - 1))
        chunk = {"chunk_start": chunk_start, "chunk_end": chunk_end}
        cur.execute(history_query("build_daily"), chunk)
        for (name, definition_id), insert in inserts.items():
            cur.execute(insert, {**chunk, "snapshot_type": name, "definition_id": definition_id,
                                 "generator": GENERATOR, "run_id": RUN_ID})
            rows += cur.rowcount
        log.info("history %s .. %s: %d rows so far (%.1f s)", chunk_start, chunk_end, rows,
                 time.perf_counter() - started)
        chunk_start = chunk_end + timedelta(days=1)
    return rows


# --- the generator ----------------------------------------------------------------------------------------


def _summary(anchors, skipped, plan, list_sizes: dict[str, int], start_date: date, end_date: date, days: int,
             counts: dict, seconds: dict) -> dict:
    sizes = {}
    for (name, _), a in sorted(anchors.items()):
        sizes.setdefault(name, list_sizes.get(name, len(a.listed)))
    return {
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "days": days,
        "list_sizes": sizes,
        "anchors": sorted(f"{a.snapshot_type} {a.anchor_date}{'' if a.real else ' (corpus)'}"
                          for a in anchors.values()),
        "generated_titles": len(plan.titles),
        "rows_written": counts["written"],
        "rows_replaced": counts["replaced"],
        "snapshots_written": len(plan.targets),
        "snapshots_skipped": len(skipped),
        "skipped": [f"{t} {d}" for t, d in sorted(skipped, key=lambda x: (x[1], x[0]))],
        "seconds_generate": round(seconds["generate"], 3),
        "seconds_titles": round(seconds["titles"] - seconds["generate"], 3),
        "seconds": round(seconds["total"], 3),
    }


def generate_history(conn, *, end_date: date, days: int, list_sizes: dict[str, int] | None = None) -> dict:
    """Write ``days`` days of synthetic snapshots of every type, ending with ``end_date``.

    ``list_sizes`` (type -> titles a day) makes a type's lists that long (default: as long as its anchor).
    Returns a summary: rows and snapshots written, real snapshots skipped, seconds taken.
    """
    started = time.perf_counter()
    list_sizes = list_sizes or {}
    _check_arguments(days, list_sizes)
    corpus = load_corpus()
    start_date = end_date - timedelta(days=days - 1)
    with _transaction(conn) as cur:
        cur.execute(history_query("begin"))
        anchors, skipped, refs, statics = read_anchors(cur, start_date, end_date, corpus)
        plan = build_plan(list(anchors.values()), refs, statics, corpus, list_sizes)
        write_work_tables(cur, corpus, plan)
        cur.execute(history_query("delete_synthetic_rows"))
        counts = {"replaced": cur.rowcount}
        counts["written"] = write_snapshots(cur, anchors, plan, start_date, end_date, started)
        cur.execute(history_query("refresh_catalog"))
        seconds = {"generate": time.perf_counter() - started}
        cur.execute(query("refresh_titles"), {"mal_ids": None})
        seconds["titles"] = time.perf_counter() - started
    seconds["total"] = time.perf_counter() - started
    summary = _summary(anchors, skipped, plan, list_sizes, start_date, end_date, days, counts, seconds)
    log.info("history %s..%s: %d rows in %d snapshots (%d real ones skipped) in %.1f s", summary["start_date"],
             summary["end_date"], summary["rows_written"], len(plan.targets), len(skipped), summary["seconds"])
    return summary

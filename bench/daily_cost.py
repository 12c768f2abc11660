"""Benchmark: the warehouse's work for one new day does not grow with the history behind it.

    python -m bench.daily_cost               # 30 days, 1 year, 3 years of history; docs/benchmarks.md
    python -m bench.daily_cost --smoke       # 5 and 10 days, small lists: checks the script works

For each size: a scratch database on the warehouse's server, migrated, with that many days of synthetic
history from the history generator (~1,000 titles per type per day), VACUUM ANALYZE. Then one new day as
the four snapshot DAGs load it, through the project's own code: each type's list landed as an extract
batch, then ``pipeline.validate`` and ``pipeline.upsert`` (whose transaction keeps the catalog, the titles
and the history tables). The first new day brings the bench's lists in (new titles); the
--days after it are the steady state that is timed (median of the days). Beside it, for comparison, a full
recomputation of ``market_daily`` and ``list_changes`` from all history (the views core.*_computed, what a
materialized-view refresh after each publish would run), timed once per size. The refresh DAG's task, Superset's
cache refresh, is timed by bench/dashboards_render.py.
Goal: largest history / smallest <= 1.2 for the day's work.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone

from bench.daily_load import build_lists, land_all, plan, validate_and_upsert
from bench.report import machine_line, write_section
from testkit.warehouse import scratch_database

GOAL = 1.2
SECTION = "daily-cost"


def build(conn, days: int, list_size: int, end: date) -> dict:
    from anime_dashboard.analytics import apply_analytics
    from anime_dashboard.history import generate_history
    from anime_dashboard.snapshots import SNAPSHOT_TYPES
    from anime_dashboard.warehouse.migrations import apply_migrations

    apply_migrations(conn)
    apply_analytics(conn)
    summary = generate_history(conn, end_date=end, days=days,
                               list_sizes={s.name: list_size for s in SNAPSHOT_TYPES})
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT count(*) FROM core.anime_snapshots")
        rows = cur.fetchone()[0]
    conn.autocommit = False
    return {"rows": rows, "generate_s": summary["seconds"]}


def full_recomputation(conn) -> dict[str, float]:
    """Seconds to recompute each history table from all history, as the materialized views' refresh did."""
    out = {}
    with conn.cursor() as cur:
        for name in ("market_daily", "list_changes"):
            t0 = time.perf_counter()
            cur.execute(f"SELECT count(*) FROM (SELECT * FROM core.{name}_computed) t")
            out[name] = time.perf_counter() - t0
    conn.rollback()
    return out


def new_days(conn, end: date, days: int, list_size: int) -> list[float]:
    """Seconds of validate + upsert for the four snapshots of each new day after ``end``; the first day,
    which brings the lists' titles in, is left out."""
    from anime_dashboard.snapshots import SNAPSHOT_TYPES

    lists = build_lists({s.name: list_size for s in SNAPSHOT_TYPES})
    seconds = []
    for d in range(days + 1):
        day = end + timedelta(days=d + 1)
        snapshots = plan(1, day, lists)
        batches = land_all(conn, snapshots, lists)
        run = validate_and_upsert(conn, snapshots, batches, "inserted", len(lists), lambda _: None)
        if d:
            seconds.append(run["seconds"])
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30,365,1095", help="days of history, comma-separated")
    parser.add_argument("--list-size", type=int, default=1000, help="titles per snapshot type per day")
    parser.add_argument("--days", type=int, default=5, help="new days timed after the first one")
    parser.add_argument("--smoke", action="store_true", help="5 and 10 days, 50 titles a list; no report")
    args = parser.parse_args(argv)
    sizes = [5, 10] if args.smoke else [int(x) for x in args.sizes.split(",")]
    list_size = 50 if args.smoke else args.list_size
    days = 2 if args.smoke else args.days
    end = datetime.now(timezone.utc).date() - timedelta(days=days + 2)
    results = []
    for size in sizes:
        with scratch_database("ad_bench") as (_, conn):
            print(f"[{size} days] generating history, {list_size} titles x 4 types a day ...", flush=True)
            built = build(conn, size, list_size, end)
            full = full_recomputation(conn)
            day_s = new_days(conn, end, days, list_size)
            results.append({"days": size, **built, "full": full, "day_s": day_s, "median": statistics.median(day_s)})
            print(f"[{size} days] {built['rows']:,} rows; new day {statistics.median(day_s):.2f} s "
                  f"({', '.join(f'{s:.2f}' for s in day_s)}); full recomputation "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in full.items()), flush=True)
    body = report(results, list_size, days)
    print(body)
    if not args.smoke:
        write_section(SECTION, body)
    return 0


def report(results: list[dict], list_size: int, days: int) -> str:
    small, large = results[0], results[-1]
    ratio = large["median"] / small["median"]
    lines = ["## One new day's work against the history behind it", "", machine_line(), "",
             f"`python -m bench.daily_cost`: synthetic history of {list_size:,} titles per type per day, then "
             f"new days loaded as the four DAGs load them (each list landed as an extract batch, then "
             f"`pipeline.validate` and `pipeline.upsert` with its upkeep of catalog, titles and history: the "
             f"timed part), the median of {days} days after the first. Beside "
             "it, the full recomputation of the two history tables from all history (what a `REFRESH MATERIALIZED "
             "VIEW` of the same queries after every publish would cost); what `analytics_refresh` does, "
             "Superset's cache refresh, is timed at 30 days and 3 years by `bench/dashboards_render.py`.", "",
             "| history | snapshot rows | one new day (4 loads) | days measured, s | full recomputation "
             "(what refreshing views after each publish would add) |", "|---|---|---|---|---|"]
    for r in results:
        full = ", ".join(f"{k} {v:.2f} s" for k, v in r["full"].items())
        lines.append(f"| {r['days']:,} days | {r['rows']:,} | **{r['median']:.2f} s** | "
                     f"{', '.join(f'{s:.2f}' for s in r['day_s'])} | {full} |")
    verdict = "meets" if ratio <= GOAL else "misses"
    lines += ["", f"{large['days']:,} days / {small['days']:,} days: **{ratio:.2f}** for one new day "
              f"(goal <= {GOAL}: {verdict} it); the full recomputation it replaced: "
              f"{sum(large['full'].values()) / sum(small['full'].values()):.1f}."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

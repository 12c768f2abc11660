"""Benchmark: every dashboard query on the analytics views at 1 and 3 years of daily history.

    python -m bench.analytics_queries                 # 1 and 3 years, writes docs/benchmarks.md
    python -m bench.analytics_queries --smoke         # 14 days, small lists: checks the script works

For each size it makes a scratch database on the warehouse's server, writes synthetic history with the
history generator (~1,000 titles per type per day, so 3 years is ~4.4M snapshot rows; it keeps the
history tables as it writes), ANALYZEs, then runs each query of bench/dashboard_queries.sql a few times to warm up
and --repeats times measured: p50 / p95 / min / max in ms. The EXPLAIN (ANALYZE, BUFFERS) of the slowest
query at the largest size goes into the report. Goal: p95 < 250 ms for every query. Not a test: the
figures depend on the machine, so they are written down, not asserted (the smoke run checks that the
script works).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import re
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg2

from testkit.warehouse import scratch_database, server_params

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "bench" / "dashboard_queries.sql"
REPORT = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- analytics-queries:start -->", "<!-- analytics-queries:end -->"
GOAL_MS = 250.0


def load_queries(path: Path = QUERIES) -> dict[str, str]:
    queries: dict[str, str] = {}
    for block in re.split(r"^-- name: ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        name, _, text = block.partition("\n")
        queries[name.strip()] = text.strip().rstrip(";")
    if not queries:
        raise SystemExit(f"no '-- name:' queries in {path}")
    return queries






def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def build(conn, *, days: int, list_size: int, end: date) -> dict:
    from anime_dashboard.analytics import apply_analytics
    from anime_dashboard.history import generate_history
    from anime_dashboard.snapshots import SNAPSHOT_TYPES
    from anime_dashboard.warehouse.migrations import apply_migrations
    from anime_dashboard.warehouse.db import query

    apply_migrations(conn)
    apply_analytics(conn)
    started = time.perf_counter()
    summary = generate_history(conn, end_date=end, days=days,
                               list_sizes={s.name: list_size for s in SNAPSHOT_TYPES})
    generate_s = time.perf_counter() - started
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT count(*), pg_total_relation_size('core.anime_snapshots') FROM core.anime_snapshots")
        rows, size = cur.fetchone()
        cur.execute("SELECT array_agg(mal_id) FROM (SELECT mal_id FROM analytics.latest_snapshot "
                    "WHERE snapshot_type = 'top' ORDER BY list_position LIMIT 200) t")
        ids = cur.fetchone()[0]
        # what a daily upsert of those 200 titles adds to its transaction: the next day's rows written (not
        # timed), then core.upkeep_titles for them, as load_snapshot calls it (timed); all rolled back
        cur.execute("SELECT max(snapshot_date) FROM core.anime_snapshots WHERE snapshot_type = 'top'")
        next_day = cur.fetchone()[0] + timedelta(days=1)
        cur.execute("BEGIN")
        cur.execute("INSERT INTO core.anime_snapshots SELECT (jsonb_populate_record(s, jsonb_build_object("
                    "'snapshot_date', s.snapshot_date + 1))).* FROM core.anime_snapshots s "
                    "WHERE s.snapshot_type = 'top' AND s.snapshot_date = %s AND s.mal_id = ANY (%s)",
                    (next_day - timedelta(days=1), ids))
        t0 = time.perf_counter()
        cur.execute(query("upkeep_titles"), {"snapshot_type": "top", "snapshot_date": next_day, "mal_ids": ids,
                                             "inserted": [True] * len(ids), "removed": []})
        titles_s = time.perf_counter() - t0
        cur.execute("ROLLBACK")
    conn.autocommit = False
    return {"rows": rows, "size_mb": size / 2**20, "generate_s": generate_s,
            "upkeep_titles_200_s": titles_s, "generator": summary}


def measure(conn, queries: dict[str, str], repeats: int, warmup: int = 3) -> dict[str, dict]:
    with conn.cursor() as cur:
        cur.execute("SELECT title, mal_id FROM analytics.latest_snapshot WHERE snapshot_type = 'top' "
                    "ORDER BY list_position LIMIT 1")
        title, mal_id = cur.fetchone()
    params = {"title": title, "mal_id": mal_id}
    results = {}
    for name, sql in queries.items():
        timings, rows = [], 0
        with conn.cursor() as cur:
            for i in range(warmup + repeats):
                t0 = time.perf_counter()
                cur.execute(sql, params)
                rows = len(cur.fetchall())
                if i >= warmup:
                    timings.append((time.perf_counter() - t0) * 1000)
        conn.rollback()
        results[name] = {"p50": statistics.median(timings), "p95": percentile(timings, 0.95),
                         "min": min(timings), "max": max(timings), "rows": rows}
    return results, params


def explain(conn, sql: str, params: dict) -> str:
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    conn.rollback()
    return plan


def report(sizes: list[dict], plan: tuple[str, str, float], repeats: int) -> str:
    names = list(sizes[0]["results"])
    cpu = platform.processor() or platform.machine()
    with psycopg2.connect(dbname="postgres", **server_params()) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    lines = [START, "## Dashboard queries at 1 and 3 years of history", "",
             f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with `python -m bench.analytics_queries` on "
             f"{os.cpu_count()} cores ({cpu}), PostgreSQL {pg}, Python {platform.python_version()}. "
             f"Each query: 3 warm-up runs, then {repeats} measured runs, times in ms from the client "
             "(psycopg2, loopback), rows fetched included. History: synthetic, ~1,000 titles per type per "
             f"day, from the real corpus. Goal: p95 < {GOAL_MS:.0f} ms.", "",
             "| history | snapshot rows | `core.anime_snapshots` size | generate | "
             "titles/tags upkeep (`core.upkeep_titles`) of a 200-title upsert |", "|---|---|---|---|---|"]
    for s in sizes:
        lines.append(f"| {s['label']} | {s['build']['rows']:,} | {s['build']['size_mb']:,.0f} MB | "
                     f"{s['build']['generate_s']:.0f} s | {s['build']['upkeep_titles_200_s'] * 1000:.0f} ms |")
    header = "| query | " + " | ".join(f"{s['label']} p50 | {s['label']} p95 | {s['label']} min-max" for s in sizes)
    lines += ["", header + " | rows |", "|---" * (1 + 3 * len(sizes)) + "|---|"]
    worst = {s["label"]: max(r["p95"] for r in s["results"].values()) for s in sizes}
    for name in names:
        cells = []
        for s in sizes:
            r = s["results"][name]
            flag = " ⚠" if r["p95"] >= GOAL_MS else ""
            cells += [f"{r['p50']:.1f}", f"{r['p95']:.1f}{flag}", f"{r['min']:.1f}-{r['max']:.1f}"]
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {sizes[-1]['results'][name]['rows']} |")
    lines += ["", "Slowest p95 per size: " + ", ".join(f"{k} **{v:.1f} ms**" for k, v in worst.items())
              + (" — every query meets the goal." if all(v < GOAL_MS for v in worst.values())
                 else f" — **goal of {GOAL_MS:.0f} ms missed** (⚠ above)."), "",
              f"EXPLAIN (ANALYZE, BUFFERS) of the slowest query at {sizes[-1]['label']}, `{plan[0]}` "
              f"(p95 {plan[2]:.1f} ms):", "", "```", plan[1], "```", END]
    return "\n".join(lines)


def write_report(section: str, path: Path = REPORT) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else (
        "# Benchmarks\n\nFigures from the scripts in `bench/`, each run on one machine in one go "
        "(compare within a table, not across machines).\n")
    if START in text and END in text:
        text = text[:text.index(START)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", default="1,3", help="history sizes in years, comma-separated")
    parser.add_argument("--list-size", type=int, default=1000, help="titles per snapshot type per day")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="14 days, 50 titles a list, 3 repeats; no report")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args(argv)
    queries = load_queries()
    end = datetime.now(timezone.utc).date() - timedelta(days=1)
    plans = {"smoke (14 days)": 14} if args.smoke else {
        f"{y} year{'s' if float(y) != 1 else ''}": round(float(y) * 365) for y in args.years.split(",")}
    list_size = 50 if args.smoke else args.list_size
    repeats = 3 if args.smoke else args.repeats
    sizes = []
    for label, days in plans.items():
        with scratch_database("ad_bench", keep=args.keep) as (_, conn):
            print(f"[{label}] generating {days} days x {list_size} titles x 4 types ...", flush=True)
            built = build(conn, days=days, list_size=list_size, end=end)
            print(f"[{label}] {built['rows']:,} rows in {built['generate_s']:.0f} s; "
                  f"measuring {len(queries)} queries x {repeats}", flush=True)
            results, params = measure(conn, queries, repeats)
            slowest = max(results, key=lambda n: results[n]["p95"])
            sizes.append({"label": label, "build": built, "results": results,
                          "plan": (slowest, explain(conn, queries[slowest], params), results[slowest]["p95"])})
            for q, r in results.items():
                print(f"  {q:<34} p50 {r['p50']:8.1f} ms  p95 {r['p95']:8.1f} ms  rows {r['rows']}")
    section = report(sizes, sizes[-1]["plan"], repeats)
    if args.smoke:
        print(section)
    else:
        write_report(section)
        print(f"wrote {REPORT}")
    missed = [f"{s['label']}: {q}" for s in sizes for q, r in s["results"].items() if r["p95"] >= GOAL_MS]
    if missed:
        print("p95 goal missed: " + ", ".join(missed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

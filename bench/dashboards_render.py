"""Benchmark: every dashboard fully rendered in Chromium, warm and cold, at 30 days and 3 years of history
(readers must not slow with history).

    python -m bench.dashboards_render            # 30 and 1,095 days; writes docs/benchmarks.md
    python -m bench.dashboards_render --smoke    # 5 and 10 days, small lists, 1 repeat; no report

For each size: a scratch warehouse with synthetic history (as bench/analytics_queries.py builds it; ~1,000
titles per type per day), one real Superset as `make run` serves it (bench/superset_cache.py's
``stdout/sqlite`` setup: SQLite metadata, 2 gthread workers x 8 threads, Redis cache) with the dashboards
imported, and Debian's Chromium through Playwright, logged in. All sizes are set up side by side first, then
each repeat measures every size in turn (so a drift of the shared machine falls on all of them alike). Per
dashboard and repeat:
cold (the chart caches of the warehouse's datasets invalidated first, so every query runs on Postgres) then
warm (straight after: every chart from Redis); the time from navigation until every chart on the page has
painted (none loading, none failed). Before each repeat's renders, the cache refresh analytics_refresh runs
after each publish (``refresh_caches``: invalidate, then warm every chart) is timed. Medians of --repeats.
Goal: largest / smallest history <= 1.2 for each dashboard, warm and cold, and for the cache refresh.
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

from bench.analytics_queries import build
from bench.report import machine_line, write_section
from bench.superset_cache import start_setup, stop_setup
from testkit.browser import CHART_STATES, fit_viewport_to_page, launch, login
from testkit.warehouse import scratch_database

GOAL = 1.2
SETUP = "stdout/sqlite"


def time_render(page, url: str, slug: str, timeout_s: float = 120) -> tuple[float, int]:
    """Seconds from navigation until every chart of the dashboard painted; the number of charts."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    t0 = time.perf_counter()
    page.goto(f"{url}/superset/dashboard/{slug}/", timeout=timeout_s * 1000)
    page.wait_for_selector('[data-test="chart-grid-component"]', timeout=timeout_s * 1000)
    fit_viewport_to_page(page, {"width": 1600, "height": 1000})  # every chart on screen, so every one loads
    deadline = t0 + timeout_s
    while time.perf_counter() < deadline:
        states = page.evaluate(CHART_STATES)
        if states and all(s["state"] in ("rendered", "empty") for s in states):
            return time.perf_counter() - t0, len(states)
        failed = [s for s in states if s["state"] == "error"]
        if failed:
            raise SystemExit(f"{slug}: {failed[0]['name']}: {failed[0]['text']}")
        page.wait_for_timeout(50)
    raise SystemExit(f"{slug}: not every chart painted in {timeout_s:.0f} s")


def size_setup(days: int, list_size: int, stack: ExitStack) -> dict:
    """A scratch warehouse with ``days`` of history, the analyst role and one Superset on it (stopped and
    dropped when ``stack`` closes)."""
    from anime_dashboard.warehouse.roles import drop_analyst_role, ensure_analyst_role

    token = uuid.uuid4().hex[:8]
    name, conn = stack.enter_context(scratch_database("ad_bench"))
    warehouse = {"db": name, "role": f"ad_bench_render_{token}", "password": secrets.token_urlsafe(18)}
    end = datetime.now(timezone.utc).date() - timedelta(days=1)
    print(f"[{days} days] generating history, {list_size} titles x 4 types a day ...", flush=True)
    built = build(conn, days=days, list_size=list_size, end=end)
    ensure_analyst_role(conn, role=warehouse["role"], password=warehouse["password"])
    conn.commit()
    stack.callback(lambda: (drop_analyst_role(conn, warehouse["role"]), conn.commit()))
    setup = start_setup(SETUP, warehouse)
    stack.callback(stop_setup, setup)
    datasets = [d["id"] for d in setup.client.list_all("dataset", ["id"])]
    slugs = sorted(d["slug"] for d in setup.client.list_all("dashboard", ["slug"]))
    return {"days": days, "rows": built["rows"], "setup": setup, "datasets": datasets, "slugs": slugs,
           "times": {s: {"cold": [], "warm": []} for s in slugs}, "charts": {}, "refresh": []}


def run_sizes(sizes: list[int], list_size: int, repeats: int) -> list[dict]:
    """Every size set up side by side (its own warehouse and Superset), then each repeat measures every size in
    turn: a drift of the shared machine over the minutes of a run (load from elsewhere, the bulk load's
    aftermath) falls on every size alike instead of on the one measured last."""
    from playwright.sync_api import sync_playwright

    from anime_dashboard.dashboards.cache import refresh_caches

    with ExitStack() as stack:
        runs = [size_setup(days, list_size, stack) for days in sizes]
        with sync_playwright() as p:
            browser = launch(p)
            try:
                pages = {}
                for run in runs:
                    setup = run["setup"]
                    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
                    login(page, setup.url, *setup.credentials)
                    time_render(page, setup.url, run["slugs"][0])  # the first load: Superset's and Chromium's own
                    pages[run["days"]] = page
                for _ in range(repeats):
                    for run in runs:
                        setup, page = run["setup"], pages[run["days"]]
                        t0 = time.perf_counter()  # what analytics_refresh does after a publish
                        refresh_caches(setup.client)
                        run["refresh"].append(time.perf_counter() - t0)
                        for slug in run["slugs"]:
                            setup.client.invalidate_datasets(run["datasets"])
                            seconds, run["charts"][slug] = time_render(page, setup.url, slug)
                            run["times"][slug]["cold"].append(seconds)
                            run["times"][slug]["warm"].append(time_render(page, setup.url, slug)[0])
            finally:
                browser.close()
    results = []
    for run in runs:
        medians = {s: {k: statistics.median(v) for k, v in t.items()} for s, t in run["times"].items()}
        for s, m in medians.items():
            print(f"[{run['days']} days] {s}: {run['charts'][s]} charts, cold {m['cold']:.2f} s, "
                  f"warm {m['warm']:.2f} s", flush=True)
        print(f"[{run['days']} days] analytics_refresh's cache refresh {statistics.median(run['refresh']):.2f} s",
              flush=True)
        results.append({"days": run["days"], "rows": run["rows"], "medians": medians, "times": run["times"],
                         "charts": run["charts"], "refresh_s": statistics.median(run["refresh"])})
    return results


def report(sizes: list[dict], repeats: int, list_size: int) -> str:
    small, large = sizes[0], sizes[-1]
    lines = ["## Dashboards rendered in Chromium against the history behind them", "", machine_line(), "",
             f"`python -m bench.dashboards_render`: synthetic history of {list_size:,} titles per type per day; one "
             f"Superset per size as `make run` serves it (`{SETUP}`), all sizes up side by side and measured in turn "
             "each repeat; Debian's Chromium (Playwright), logged in. Per dashboard: cold (the datasets' chart caches invalidated, every query on Postgres) then warm (every "
             "chart from Redis), from navigation until every chart painted; medians of "
             f"{repeats}.", "",
             "| dashboard | charts | " + " | ".join(f"{s['days']:,} days cold | {s['days']:,} days warm" for s in sizes)
             + " | cold ratio | warm ratio |", "|---|---|" + "---|---|" * len(sizes) + "---|---|"]
    worst = 0.0
    for slug in small["medians"]:
        cells = []
        for s in sizes:
            m = s["medians"][slug]
            cells += [f"{m['cold']:.2f} s", f"{m['warm']:.2f} s"]
        ratios = [large["medians"][slug][k] / small["medians"][slug][k] for k in ("cold", "warm")]
        worst = max(worst, *ratios)
        lines.append(f"| `{slug}` | {small['charts'][slug]} | " + " | ".join(cells)
                     + f" | **{ratios[0]:.2f}** | **{ratios[1]:.2f}** |")
    refresh_ratio = large["refresh_s"] / small["refresh_s"]
    worst = max(worst, refresh_ratio)
    lines += ["", "`analytics_refresh`'s one task, `refresh_superset_cache` (invalidate the datasets' caches, warm "
              "every chart again: what each publish triggers), median of the same repeats: "
              + ", ".join(f"{s['days']:,} days **{s['refresh_s']:.2f} s**" for s in sizes)
              + f", ratio **{refresh_ratio:.2f}**."]
    lines += ["", "Snapshot rows: " + ", ".join(f"{s['days']:,} days {s['rows']:,}" for s in sizes)
              + f". Largest ratio **{worst:.2f}** (goal <= {GOAL}: {'meets' if worst <= GOAL else 'misses'} it)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30,1095", help="days of history, comma-separated")
    parser.add_argument("--list-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="5 and 10 days, 50 titles a list, 1 repeat")
    args = parser.parse_args(argv)
    sizes = [5, 10] if args.smoke else [int(x) for x in args.sizes.split(",")]
    list_size = 50 if args.smoke else args.list_size
    repeats = 1 if args.smoke else args.repeats
    results = run_sizes(sizes, list_size, repeats)
    body = report(results, repeats, list_size)
    print(body)
    if not args.smoke:
        write_section("dashboards-render", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

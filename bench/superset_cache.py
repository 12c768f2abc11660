"""Benchmark: Superset chart data from the Redis cache against the same request computed fresh.

    python bench/superset_cache.py                # 1 and 3 years of history, writes docs/benchmarks.md
    python bench/superset_cache.py --smoke        # 14 days, small lists: checks the script works

For each size: a scratch warehouse with synthetic history (as bench/analytics_queries.py builds it), a
throwaway analyst role, a real Superset (gunicorn from .venv-superset, SQLite metadata in a temp home,
Redis keys under a private prefix) bootstrapped and given the dashboards by the same functions `make run`
uses. Then for every chart: GET /api/v1/chart/{id}/data/?force=true (computed: Postgres + Superset) and
without force (from Redis), --repeats times each, end to end from the client. Goal: cached >= 20x faster.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics_queries import build  # noqa: E402
from report import machine_line, write_section  # noqa: E402
from scratch import admin, server_params  # noqa: E402

GOAL = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_chart(client, chart_id: int, repeats: int) -> dict:
    import time

    fresh, cached = [], []
    client.chart_data(chart_id, force=True)  # warm Postgres' buffers and the cache entry
    for _ in range(repeats):
        t0 = time.perf_counter()
        client.chart_data(chart_id, force=True)
        fresh.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        result = client.chart_data(chart_id)
        cached.append((time.perf_counter() - t0) * 1000)
        if result["is_cached"] is not True:
            raise SystemExit(f"chart {chart_id}: the repeat was not served from the cache")
    return {"fresh": statistics.median(fresh), "fresh_range": (min(fresh), max(fresh)),
            "cached": statistics.median(cached), "cached_range": (min(cached), max(cached)),
            "rows": result.get("rowcount")}


def run_size(label: str, days: int, list_size: int, repeats: int) -> dict:
    from anime_dashboard.dashboards import server
    from anime_dashboard.dashboards.assets import Warehouse, build_bundle
    from anime_dashboard.dashboards.client import SupersetClient
    from anime_dashboard.warehouse.roles import drop_analyst_role, ensure_analyst_role

    token = uuid.uuid4().hex[:8]
    dbname, role, prefix = f"ad_bench_{token}", f"ad_bench_analyst_{token}", f"ad_bench_{token}"
    password = secrets.token_urlsafe(18)
    home = Path(tempfile.mkdtemp(prefix=f"ad_bench_superset_{token}_"))
    os.environ.update({
        "SUPERSET_SECRET_KEY": secrets.token_urlsafe(42), "ANIME_DASHBOARD_SUPERSET_HOME": str(home),
        "ANIME_DASHBOARD_SUPERSET_PORT": str(free_port()), "ANIME_DASHBOARD_SUPERSET_HOST": "127.0.0.1",
        "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX": prefix,
    })
    os.environ.pop("ANIME_DASHBOARD_SUPERSET_URL", None)
    admin(f'CREATE DATABASE "{dbname}"')
    conn = psycopg2.connect(dbname=dbname, **server_params())
    proc = None
    try:
        end = datetime.now(timezone.utc).date() - timedelta(days=1)
        print(f"[{label}] generating {days} days x {list_size} titles x 4 types ...", flush=True)
        built = build(conn, days=days, list_size=list_size, end=end)
        ensure_analyst_role(conn, role=role, password=password)
        conn.commit()
        s = server.settings()
        server.bootstrap(s)
        log = open(home / "gunicorn.log", "w")
        proc = subprocess.Popen(server.serve_command(s, workers=2), env=server.superset_env(s), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        client = SupersetClient(s.url, s.admin_user, s.admin_password)
        client.wait_healthy(180)
        sp = server_params()
        bundle, passwords = build_bundle(Warehouse(sp["host"], sp["port"], dbname, role, password))
        client.import_assets(bundle, passwords)
        charts = sorted(client.list_all("chart", ["id", "slice_name"]), key=lambda c: c["slice_name"])
        print(f"[{label}] {built['rows']:,} rows; timing {len(charts)} charts x {repeats}", flush=True)
        results = {}
        for c in charts:
            results[c["slice_name"]] = r = time_chart(client, c["id"], repeats)
            print(f"  {c['slice_name']:<48} fresh {r['fresh']:8.1f} ms  cached {r['cached']:6.1f} ms  "
                  f"x{r['fresh'] / r['cached']:6.1f}", flush=True)
        return {"label": label, "rows": built["rows"], "results": results}
    finally:
        if proc is not None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        r = redis.Redis.from_url(os.environ.get("ANIME_DASHBOARD_SUPERSET_REDIS_URL")
                                 or os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0"))
        keys = list(r.scan_iter(f"{prefix}_*"))
        if keys:
            r.delete(*keys)
        drop_analyst_role(conn, role)
        conn.commit()
        conn.close()
        admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(home, ignore_errors=True)


def report(sizes: list[dict], repeats: int) -> str:
    lines = ["## Superset chart data: Redis cache against computed", "", machine_line(), "",
             f"Every dashboard chart, `GET /api/v1/chart/{{id}}/data/` timed end to end from a client on the "
             f"same machine: with `force=true` (Postgres query + Superset processing, result written to Redis) "
             f"and without (served from Redis), {repeats} times each; medians (min-max). Goal: cached >= "
             f"{GOAL:.0f}x faster.", ""]
    for size in sizes:
        ratios = {n: r["fresh"] / r["cached"] for n, r in size["results"].items()}
        lines += [f"### {size['label']} ({size['rows']:,} snapshot rows)", "",
                  "| chart | rows | computed ms | cached ms | ratio |", "|---|---:|---:|---:|---:|"]
        for name, r in size["results"].items():
            lines.append(f"| {name} | {r['rows']} | {r['fresh']:.1f} ({r['fresh_range'][0]:.0f}-"
                         f"{r['fresh_range'][1]:.0f}) | {r['cached']:.1f} ({r['cached_range'][0]:.0f}-"
                         f"{r['cached_range'][1]:.0f}) | {ratios[name]:.1f}x |")
        met = sum(1 for v in ratios.values() if v >= GOAL)
        lines += ["", f"Median ratio {statistics.median(ratios.values()):.1f}x; {met} of {len(ratios)} charts "
                      f"reach {GOAL:.0f}x; cached median {statistics.median(r['cached'] for r in size['results'].values()):.1f} ms.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", default="1,3")
    parser.add_argument("--list-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="14 days, 50 titles a list, 2 repeats; no report")
    args = parser.parse_args(argv)
    plans = {"smoke (14 days)": 14} if args.smoke else {
        f"{y} year{'s' if float(y) != 1 else ''}": round(float(y) * 365) for y in args.years.split(",")}
    repeats = 2 if args.smoke else args.repeats
    sizes = [run_size(label, days, 50 if args.smoke else args.list_size, repeats) for label, days in plans.items()]
    section = report(sizes, repeats)
    if args.smoke:
        print(section)
    else:
        write_section("superset-cache", section)
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: Superset chart data from the Redis cache against the same request computed fresh.

    python -m bench.superset_cache                # 1 and 3 years of history, writes docs/benchmarks.md
    python -m bench.superset_cache --smoke        # 14 days, small lists, 2 setups: checks the script works

For each size: a scratch warehouse with synthetic history (bench/analytics_queries.py's), a throwaway analyst
role, and several real Superset setups side by side (testkit.superset), each ``<event log>/<metadata DB>
[/<gunicorn>]``: event log ``stdout`` or ``db``; metadata ``sqlite`` or ``postgres``; gunicorn ``gthread2x8``
(the project's serve_command) or ``syncN``. The first setup is the one tabled per chart. Every chart's GET and
POST data request, forced (computed) and cached, --repeats times with the setups interleaved in random order;
per setup also /health, /api/v1/me/ and a dashboard load (6 requests in flight). With py-spy installed, the
first setup's cached POST is profiled. Goal: cached >= 20x faster.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import requests

from bench.analytics_queries import build
from bench.report import machine_line, write_section
from testkit.superset import SETTINGS, environ, start, stop, throwaway_env
from testkit.warehouse import admin, create_database, drop_database, pg_uri, server_params

GOAL = 20.0
DEFAULT_SETUPS = "stdout/sqlite,db/sqlite,stdout/postgres,db/postgres,stdout/sqlite/sync4"
SMOKE_SETUPS = "stdout/sqlite,db/postgres"
IN_FLIGHT = 6  # a browser's connections per host: how many chart requests a dashboard has in flight


def ms(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return (time.perf_counter() - t0) * 1000, result


def parse_setup(spec: str) -> tuple[str, str, str]:
    parts = spec.strip().split("/")
    event_log, metadata, gunicorn = (parts + ["gthread2x8"])[:3] if len(parts) in (2, 3) else ("", "", "")
    if event_log not in ("stdout", "db") or metadata not in ("sqlite", "postgres") or not re.fullmatch(
            r"gthread\d+x\d+|sync\d+", gunicorn):
        raise SystemExit(f"setup {spec!r}: use <stdout|db>/<sqlite|postgres>[/gthread<W>x<T>|sync<W>]")
    return event_log, metadata, gunicorn


def describe(spec: str) -> str:
    event_log, metadata, gunicorn = parse_setup(spec)
    workers = (f"{gunicorn[4:]} sync workers" if gunicorn.startswith("sync") else
               "{} gthread workers x {} threads".format(*gunicorn[7:].split("x")))
    return (f"events {'on stdout' if event_log == 'stdout' else 'in the metadata DB'}, "
            f"{'SQLite' if metadata == 'sqlite' else 'Postgres'} metadata, {workers}")


@dataclass
class Setup:
    """One running Superset: its client, its charts (with saved query contexts) and what to clean up."""
    spec: str
    home: Path
    prefix: str
    meta_db: str | None = None
    proc: subprocess.Popen | None = None
    client: object = None
    url: str = ""
    credentials: tuple[str, str] = ("", "")  # the admin's
    analyst: tuple[str, str] = ("", "")  # the analysts' login (what a dashboard reader signs in as)
    charts: list[dict] = field(default_factory=list)
    dashboards: list[list[int]] = field(default_factory=list)

    def get(self, chart: dict, force: bool) -> dict:
        return self.client.chart_data(chart["id"], force=force)

    def post(self, chart: dict, force: bool, client=None) -> dict:
        query_context = dict(chart["query_context"], force=force)
        resp = (client or self.client).request(
            "POST", "/api/v1/chart/data", params={"form_data": json.dumps({"slice_id": chart["id"]})},
            json=query_context)
        return resp.json()["result"][0]


def start_setup(spec: str, warehouse: dict) -> Setup:
    """Bootstrap and serve one Superset setup (os.environ is set for it while it starts, then restored)."""
    from anime_dashboard.dashboards import server
    from anime_dashboard.dashboards.assets import Warehouse, build_bundle

    event_log, metadata, gunicorn = parse_setup(spec)
    token = uuid.uuid4().hex[:8]
    setup = Setup(spec, Path(tempfile.mkdtemp(prefix=f"ad_bench_superset_{token}_")), f"ad_bench_{token}")
    env = (dict.fromkeys(SETTINGS) | throwaway_env(setup.home, setup.prefix)
           | {"ANIME_DASHBOARD_SUPERSET_EVENT_LOG": event_log})
    try:
        with environ(env):
            sp = server_params()
            if metadata == "postgres":
                setup.meta_db = create_database(f"ad_bench_meta_{token}")
                os.environ["ANIME_DASHBOARD_SUPERSET_DATABASE_URI"] = pg_uri(setup.meta_db, sp)
            s = server.settings()
            setup.proc, setup.client = start(s, setup.home / "gunicorn.log", gunicorn_command(s, gunicorn))
            setup.url, setup.credentials = s.url, (s.admin_user, s.admin_password)
            setup.analyst = (s.analyst_user, s.analyst_password)
            bundle, passwords = build_bundle(Warehouse(sp["host"], sp["port"], warehouse["db"], warehouse["role"],
                                                       warehouse["password"]))
            setup.client.import_assets(bundle, passwords)
            load_charts(setup)
        return setup
    except BaseException:
        stop_setup(setup)
        raise


def gunicorn_command(settings, gunicorn: str) -> list[str]:
    """The project's serve_command with the workers of ``gunicorn`` (``gthread<W>x<T>`` or ``sync<W>``)."""
    from anime_dashboard.dashboards import server

    command = server.serve_command(settings, workers=2, threads=8)
    if gunicorn.startswith("sync"):
        i = command.index("--threads")
        del command[i:i + 2]
        command[command.index("--worker-class") + 1] = "sync"
        command[command.index("--workers") + 1] = gunicorn[4:]
    else:
        workers, threads = gunicorn[7:].split("x")
        command[command.index("--workers") + 1] = workers
        command[command.index("--threads") + 1] = threads
    return command


def load_charts(setup: Setup) -> None:
    """The setup's charts (each with its saved query context) and the chart ids of each dashboard."""
    charts = sorted(setup.client.list_all("chart", ["id", "slice_name"]), key=lambda c: c["slice_name"])
    for chart in charts:
        saved_qc = setup.client.request("GET", f"/api/v1/chart/{chart['id']}").json()["result"]["query_context"]
        chart["query_context"] = json.loads(saved_qc)
    setup.charts = charts
    by_id = {c["id"]: c for c in charts}
    for dash in setup.client.list_all("dashboard", ["id"]):
        result = setup.client.request("GET", f"/api/v1/dashboard/{dash['id']}/charts").json()["result"]
        setup.dashboards.append([c["id"] for c in result if c["id"] in by_id])


def stop_setup(setup: Setup) -> None:
    stop(setup.proc, setup.prefix, setup.home)
    if setup.meta_db:
        drop_database(setup.meta_db)


def time_charts(setups: list[Setup], repeats: int) -> dict[str, dict[str, dict]]:
    """{setup: {chart: {get_fresh, get_cached, post_fresh, post_cached: [ms...], rows}}}, setups interleaved."""
    results: dict[str, dict[str, dict]] = {s.spec: {} for s in setups}
    for i, name in enumerate(c["slice_name"] for c in setups[0].charts):
        for setup in setups:  # warm Postgres' buffers and the cache entries
            setup.get(setup.charts[i], True)
            setup.post(setup.charts[i], True)
            results[setup.spec][name] = {"get_fresh": [], "get_cached": [], "post_fresh": [], "post_cached": []}
        for _ in range(repeats):
            for setup in random.sample(setups, len(setups)):
                chart, row = setup.charts[i], results[setup.spec][name]
                for kind, call in (("get", setup.get), ("post", setup.post)):
                    row[f"{kind}_fresh"].append(ms(lambda: call(chart, True))[0])
                    took, result = ms(lambda: call(chart, False))
                    row[f"{kind}_cached"].append(took)
                    if result["is_cached"] is not True:
                        raise SystemExit(f"{setup.spec}: {name}: the repeat was not served from the cache")
                row["rows"] = result.get("rowcount")
        line = "  ".join(f"{s.spec} {statistics.median(results[s.spec][name]['post_cached']):5.1f}/"
                         f"{statistics.median(results[s.spec][name]['post_fresh']):5.1f}" for s in setups)
        print(f"  {name[:44]:<44} POST cached/computed ms: {line}", flush=True)
    return results


def time_baselines(setups: list[Setup], repeats: int = 30) -> dict[str, dict[str, float]]:
    """Median ms of GET /health (no auth, no DB) and GET /api/v1/me/ (JWT + user lookup) per setup."""
    samples = {s.spec: {"health": [], "me": []} for s in setups}
    for setup in setups:
        for _ in range(5):
            setup.client.request("GET", "/api/v1/me/")
    for _ in range(repeats):
        for setup in random.sample(setups, len(setups)):
            samples[setup.spec]["health"].append(ms(lambda: requests.get(f"{setup.url}/health", timeout=30))[0])
            samples[setup.spec]["me"].append(ms(lambda: setup.client.request("GET", "/api/v1/me/"))[0])
    return {k: {n: statistics.median(v) for n, v in d.items()} for k, d in samples.items()}


def time_dashboard_loads(setups: list[Setup], repeats: int) -> dict[str, dict[str, float]]:
    """Wall ms to POST every chart of a dashboard with IN_FLIGHT requests in flight, cached and computed;
    median over dashboards x repeats, per setup (setups interleaved in random order)."""
    from anime_dashboard.dashboards.client import SupersetClient

    clients = {s.spec: [SupersetClient(s.url, *s.credentials).login() for _ in range(IN_FLIGHT)] for s in setups}
    walls = {s.spec: {"cached": [], "fresh": []} for s in setups}
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        for _ in range(repeats):
            for setup in random.sample(setups, len(setups)):
                by_id = {c["id"]: c for c in setup.charts}
                for chart_ids in setup.dashboards:
                    jobs = [(by_id[cid], clients[setup.spec][n % IN_FLIGHT]) for n, cid in enumerate(chart_ids)]
                    for kind, force in (("cached", False), ("fresh", True)):
                        took, _ = ms(lambda: list(pool.map(lambda job: setup.post(job[0], force, job[1]), jobs)))
                        walls[setup.spec][kind].append(took)
    return {spec: {k: statistics.median(v) for k, v in d.items()} for spec, d in walls.items()}


# --- where a cache hit's time goes (py-spy, optional) ---------------------------------------------------
# Each sample inside Flask goes to the innermost of these functions on its stack ("other" if none).
PROFILE_BUCKETS = [
    ("authentication and permission checks (FAB: JWT, public-role and user-role permission lookups)",
     {"verify_jwt_in_request", "BaseSecurityManager.has_access", "BaseSecurityManager.is_item_public"}),
    ("loading the chart (GET only)", {"SQLAInterface.get"}),
    ("building the query context (schema load, datasource lookup)",
     {"ChartDataRestApi._create_query_context_from_form"}),
    ("datasource access check (raise_for_access)", {"ChartDataCommand.validate"}),
    ("cache key (query object + datasource extra keys)", {"QueryContextProcessor.query_cache_key"}),
    ("Redis read and unpickling the cached result", {"QueryCacheManager.get"}),
    ("JSON response", {"ChartDataRestApi._send_chart_response"}),
    ("event logging", {"AbstractEventLogger.log_with_context"}),
]
OTHER = "rest: Flask routing, request parsing, decorators, payload assembly"
SQL_FUNCTIONS = {"Session.execute", "Connection.execute", "Connection.exec_driver_sql"}  # metadata-DB queries


def profile_cached_post(setup: Setup, chart: dict, seconds: float = 20.0) -> dict | None:
    """py-spy samples of the setup's gunicorn workers while only cached POSTs of `chart` run."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists() and not shutil.which(py_spy):
        return None
    out = setup.home / "profile.txt"
    spy = subprocess.Popen([py_spy, "record", "--pid", str(setup.proc.pid), "--subprocesses", "--nonblocking",
                            "--rate", "200", "--duration", str(int(seconds + 4)), "--format", "raw",
                            "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    n, end = 0, time.monotonic() + seconds
    client_ms = []
    while time.monotonic() < end:
        client_ms.append(ms(lambda: setup.post(chart, False))[0])
        n += 1
    _, err = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0 or not out.exists():
        print(f"py-spy failed (profile left out): {err.strip()[-500:]}", flush=True)
        return None
    buckets: collections.Counter = collections.Counter()
    metadata_sql = in_flask = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        flask = [i for i, f in enumerate(frames) if f.startswith("Flask.wsgi_app ")]
        if not flask:
            continue
        frames = frames[flask[0]:]
        in_flask += int(count)
        if any(f.split(" (", 1)[0] in SQL_FUNCTIONS for f in frames):
            metadata_sql += int(count)
        bucket = OTHER
        for frame in reversed(frames):
            function = frame.split(" (", 1)[0]
            hit = next((name for name, functions in PROFILE_BUCKETS if function in functions), None)
            if hit:
                bucket = hit
                break
        buckets[bucket] += int(count)
    if not in_flask:
        return None
    per_request = 1000.0 / 200 / n  # ms per sample per request
    return {"chart": chart["slice_name"], "requests": n, "client_ms": statistics.median(client_ms),
            "in_flask_ms": in_flask * per_request, "metadata_sql_ms": metadata_sql * per_request,
            "buckets": [(name, buckets[name] * per_request, buckets[name] / in_flask)
                        for name in [b for b, _ in PROFILE_BUCKETS] + [OTHER] if buckets[name]]}


def run_size(label: str, days: int, list_size: int, repeats: int, specs: list[str], profile: bool) -> dict:
    from anime_dashboard.warehouse.roles import drop_analyst_role, ensure_analyst_role

    token = uuid.uuid4().hex[:8]
    warehouse = {"db": f"ad_bench_{token}", "role": f"ad_bench_analyst_{token}",
                 "password": secrets.token_urlsafe(18)}
    admin(f'CREATE DATABASE "{warehouse["db"]}"')
    conn = psycopg2.connect(dbname=warehouse["db"], **server_params())
    setups: list[Setup] = []
    try:
        end = datetime.now(timezone.utc).date() - timedelta(days=1)
        print(f"[{label}] generating {days} days x {list_size} titles x 4 types ...", flush=True)
        built = build(conn, days=days, list_size=list_size, end=end)
        ensure_analyst_role(conn, role=warehouse["role"], password=warehouse["password"])
        conn.commit()
        for spec in specs:
            t0 = time.monotonic()
            setups.append(start_setup(spec, warehouse))
            print(f"[{label}] Superset {spec} up in {time.monotonic() - t0:.0f} s", flush=True)
        print(f"[{label}] {built['rows']:,} rows; timing {len(setups[0].charts)} charts x {repeats} x "
              f"{len(setups)} setups", flush=True)
        load_before = os.getloadavg()[0]
        baselines = time_baselines(setups, repeats=3 * repeats)  # 30 at full size, 6 in the smoke run
        charts = time_charts(setups, repeats)
        loads = time_dashboard_loads(setups, repeats)
        for spec, load in loads.items():
            print(f"[{label}] dashboard loads {spec}: cached {load['cached']:.0f} ms, computed {load['fresh']:.0f} ms",
                  flush=True)
        load_avg = (load_before, os.getloadavg()[0])
        log_errors = {}
        for setup in setups:
            text = (setup.home / "gunicorn.log").read_text(errors="replace")
            log_errors[setup.spec] = text.count("DBEventLogger failed to log event")
        prof = None
        if profile:
            first = charts[setups[0].spec]
            by_cached = sorted(first, key=lambda n: statistics.median(first[n]["post_cached"]))
            median_chart = next(c for c in setups[0].charts if c["slice_name"] == by_cached[len(by_cached) // 2])
            prof = profile_cached_post(setups[0], median_chart)
        return {"label": label, "rows": built["rows"], "charts": charts, "baselines": baselines, "loads": loads,
                "profile": prof, "specs": specs, "log_errors": log_errors,
                "load_avg": load_avg, "dashboards": len(setups[0].dashboards)}
    finally:
        for setup in setups:
            stop_setup(setup)
        drop_analyst_role(conn, warehouse["role"])
        conn.commit()
        conn.close()
        admin(f'DROP DATABASE IF EXISTS "{warehouse["db"]}" WITH (FORCE)')


# --- report ----------------------------------------------------------------------------------------------
def summary(size: dict, spec: str) -> dict[str, float]:
    """Medians over the charts of the per-chart medians, and the median per-chart ratio, for one setup."""
    rows = size["charts"][spec].values()
    med = {k: statistics.median(statistics.median(r[k]) for r in rows)
           for k in ("get_fresh", "get_cached", "post_fresh", "post_cached")}
    for kind in ("get", "post"):
        ratios = [statistics.median(r[f"{kind}_fresh"]) / statistics.median(r[f"{kind}_cached"]) for r in rows]
        med[f"{kind}_ratio"] = statistics.median(ratios)
        med[f"{kind}_met"] = sum(1 for x in ratios if x >= GOAL)
    return med | size["baselines"][spec] | {f"load_{k}": v for k, v in size["loads"][spec].items()}


def rng(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.0f}-{max(values):.0f})"


def report(sizes: list[dict], repeats: int) -> str:
    specs = sizes[0]["specs"]
    first = specs[0]
    lines = [
        "## Superset chart data: Redis cache against computed", "", machine_line(), "",
        f"`python -m bench.superset_cache` — every dashboard chart timed end to end from a client on the same "
        f"machine, computed (`force`: Postgres query + Superset processing, result written to Redis) and served "
        f"from Redis, through `GET /api/v1/chart/{{id}}/data/` (the chart's saved query_context) and through "
        f"`POST /api/v1/chart/data` with that query_context (what a dashboard sends), {repeats} times each; "
        f"medians (min-max). {len(specs)} Superset setups ran side by side on each warehouse, requests "
        f"interleaved in random order; the per-chart table is the first, the configuration `make run` uses "
        f"({describe(first)}); `db/sqlite` is Superset's own default event logging. Goal: cached >= {GOAL:.0f}x faster.", ""]
    for size in sizes:
        res = size["charts"][first]
        lines += [f"### {size['label']} ({size['rows']:,} snapshot rows)", "",
                  "| chart | rows | GET computed ms | GET cached ms | GET ratio | POST computed ms | POST cached ms "
                  "| POST ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in res.items():
            g = statistics.median(r["get_fresh"]) / statistics.median(r["get_cached"])
            p = statistics.median(r["post_fresh"]) / statistics.median(r["post_cached"])
            lines.append(f"| {name} | {r['rows']} | {rng(r['get_fresh'])} | {rng(r['get_cached'])} | {g:.1f}x | "
                         f"{rng(r['post_fresh'])} | {rng(r['post_cached'])} | {p:.1f}x |")
        m = summary(size, first)
        lines += ["", f"Median ratio GET {m['get_ratio']:.1f}x, POST {m['post_ratio']:.1f}x; charts reaching "
                      f"{GOAL:.0f}x: GET {m['get_met']} of {len(res)}, POST {m['post_met']} of {len(res)}; cached "
                      f"median GET {m['get_cached']:.1f} ms, POST {m['post_cached']:.1f} ms.", "",
                  "Every setup, medians over the charts (ms):", "",
                  "| setup | `/health` | `/api/v1/me/` | GET computed | GET cached | GET ratio | POST computed "
                  "| POST cached | POST ratio | dashboard load computed | dashboard load cached |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for spec in specs:
            v = summary(size, spec)
            lines.append(f"| `{spec}`: {describe(spec)} | {v['health']:.1f} | {v['me']:.1f} | {v['get_fresh']:.1f} | "
                         f"{v['get_cached']:.1f} | {v['get_ratio']:.1f}x | {v['post_fresh']:.1f} | "
                         f"{v['post_cached']:.1f} | {v['post_ratio']:.1f}x | {v['load_fresh']:.0f} | "
                         f"{v['load_cached']:.0f} |")
        lines += ["", f"Dashboard load: wall time to POST every chart of a dashboard ({IN_FLIGHT} in flight), "
                      f"median over the {size['dashboards']} dashboards x repeats. Machine load "
                      f"(1-minute load average, {os.cpu_count()} CPUs) before the timings {size['load_avg'][0]:.1f}, "
                      f"after {size['load_avg'][1]:.1f}.", ""]
    lines += findings(sizes)
    return "\n".join(lines)


def delta(sizes: list[dict], a: str, b: str, key: str) -> str | None:
    """'x-y ms' (range over sizes) of summary(b)[key] - summary(a)[key], if both setups ran."""
    if a not in sizes[0]["specs"] or b not in sizes[0]["specs"]:
        return None
    d = [summary(s, b)[key] - summary(s, a)[key] for s in sizes]
    return f"{min(d):+.1f}" + (f" to {max(d):+.1f}" if len(d) > 1 else "") + " ms"


def goal_findings(sizes: list[dict], first: str) -> list[str]:
    out = []
    for size in sizes:
        m, charts = summary(size, first), len(size["charts"][first])
        needed = m["post_fresh"] / GOAL
        out.append(f"- {size['label']}: {m['post_met']} of {charts} charts reach {GOAL:.0f}x through POST, "
                   f"{m['get_met']} through GET (goal {'met' if m['post_met'] == charts else 'missed'}); {GOAL:.0f}x "
                   f"needs a {needed:.1f} ms cache hit for the median chart ({m['post_fresh']:.0f} ms computed), "
                   f"measured {m['post_cached']:.1f} ms; `/health` {m['health']:.1f} ms, `/api/v1/me/` "
                   f"{m['me']:.1f} ms; computed minus cached (POST) {m['post_fresh'] - m['post_cached']:.1f} ms")
    return out


def setup_findings(sizes: list[dict]) -> list[str]:
    """What each setup changes against its neighbour, as ranges over the sizes."""
    specs, out = sizes[0]["specs"], []
    for a, b, what in (("stdout/sqlite", "db/sqlite", "SQLite"), ("stdout/postgres", "db/postgres", "Postgres")):
        if delta(sizes, a, b, "post_cached"):
            failed = sum(s["log_errors"].get(b, 0) for s in sizes)
            out.append(f"- events in the metadata DB against stdout, {what} metadata: cached POST "
                       f"{delta(sizes, a, b, 'post_cached')}, computed POST {delta(sizes, a, b, 'post_fresh')}; "
                       f"dashboard load cached {delta(sizes, a, b, 'load_cached')}, computed "
                       f"{delta(sizes, a, b, 'load_fresh')}; failed event writes: {failed}")
    if delta(sizes, "stdout/sqlite", "stdout/postgres", "post_cached"):
        out.append("- Postgres metadata against SQLite, events on stdout: cached POST "
                   + ", computed POST ".join(delta(sizes, "stdout/sqlite", "stdout/postgres", k)
                                             for k in ("post_cached", "post_fresh"))
                   + f", `/api/v1/me/` {delta(sizes, 'stdout/sqlite', 'stdout/postgres', 'me')}")
    for spec in (s for s in specs if parse_setup(s)[2] != "gthread2x8"):
        base = next((s for s in specs if parse_setup(s)[:2] == parse_setup(spec)[:2] and s != spec), None)
        if base:
            out.append(f"- gunicorn `{spec}` against `{base}`: cached POST {delta(sizes, base, spec, 'post_cached')}; "
                       f"dashboard load cached {delta(sizes, base, spec, 'load_cached')}, computed "
                       f"{delta(sizes, base, spec, 'load_fresh')}")
    return out


def profile_findings(sizes: list[dict], first: str) -> list[str]:
    prof = next((s["profile"] for s in sizes if s.get("profile")), None)
    if not prof:
        return ["", "Not profiled in this run: py-spy is not installed (`pip install py-spy`)."]
    sql_ms = prof["metadata_sql_ms"]
    return ["", f"Where a cache hit's time goes (py-spy, 200 Hz, on `{first}`'s workers, {prof['requests']} cached "
                f"POSTs of \"{prof['chart']}\": {prof['client_ms']:.1f} ms each at the client, "
                f"{prof['in_flask_ms']:.1f} ms inside Flask; each sample counts for the innermost step):", "",
            "| step | ms per request | share |", "|---|---:|---:|",
            *[f"| {name} | {v:.1f} | {share:.0%} |" for name, v, share in prof["buckets"]],
            "", f"SQLAlchemy `execute` on the metadata DB: {sql_ms:.1f} ms ({sql_ms / prof['in_flask_ms']:.0%})."]


def findings(sizes: list[dict]) -> list[str]:
    first = sizes[0]["specs"][0]
    return ["### Findings", "", *goal_findings(sizes, first), *setup_findings(sizes),
            *profile_findings(sizes, first)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", default="1,3")
    parser.add_argument("--list-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--setups", default=None,
                        help=f"comma-separated setups, the first one tabled per chart (default {DEFAULT_SETUPS})")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile even if installed")
    parser.add_argument("--print-only", action="store_true", help="print the section instead of writing it")
    parser.add_argument("--smoke", action="store_true",
                        help=f"14 days, 50 titles a list, 2 repeats, setups {SMOKE_SETUPS}, no profile; no report")
    args = parser.parse_args(argv)
    specs = [s.strip() for s in (args.setups or (SMOKE_SETUPS if args.smoke else DEFAULT_SETUPS)).split(",")]
    for spec in specs:
        parse_setup(spec)
    plans = {"smoke (14 days)": 14} if args.smoke else {
        f"{y} year{'s' if float(y) != 1 else ''}": round(float(y) * 365) for y in args.years.split(",")}
    repeats = 2 if args.smoke else args.repeats
    sizes = [run_size(label, days, 50 if args.smoke else args.list_size, repeats, specs,
                      profile=(i == 0 and not args.smoke and not args.no_profile))
             for i, (label, days) in enumerate(plans.items())]
    section = report(sizes, repeats)
    if args.smoke or args.print_only:
        print(section)
    else:
        write_section("superset-cache", section)
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

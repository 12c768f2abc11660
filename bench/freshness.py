"""Benchmark: freshness, from the snapshot DAGs' trigger to every chart serving the new day from Redis.

    python -m bench.freshness             # writes docs/benchmarks.md
    python -m bench.freshness --smoke     # the same, no report (3 days of history instead of 30)

The production path as `make run` runs it (scripts/run.sh, JIKAN_OFFLINE=1: the replay at Jikan's real
limits; Airflow standalone, so the real scheduler and the LocalExecutor; a real Superset), on a private
home, warehouse database, ports, Redis keys and .env, with synthetic history before today. run.sh unpauses
the four snapshot DAGs at once, which schedules today's run of each (the new snapshot date); their publish
triggers analytics_refresh, which invalidates and re-warms every chart. Measured from Airflow's own
timestamps: from the first run's queued_at to the end of the analytics_refresh run queued after the last
publish; then every chart of the dashboards is read through Superset's chart-data API (no force) and must
be served from the cache (``is_cached``), cached after the last publish, with today's date in its data
wherever it has a snapshot date. The floor Jikan sets: the requests the extracts made / 58 per minute.
Goal: at most 1.5x the floor; the rest is split into task start-up (queued to running), each DAG's tasks,
and the cache warm-up.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psycopg2

from bench.report import machine_line, write_section
from testkit.ports import free_port
from testkit.warehouse import admin, server_params

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.5
PER_MINUTE = 58  # Jikan's 60 a minute, less the limiter's margin (settings: ANIME_DASHBOARD_JIKAN_PER_MINUTE)
PORTS = ("AIRFLOW__API__PORT", "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
         "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", "ANIME_DASHBOARD_REPLAY_PORT", "ANIME_DASHBOARD_SUPERSET_PORT")


def job_env(tmp: Path, warehouse: str, token: str, seed_days: int) -> dict[str, str]:
    """A user's shell with everything private; run.sh generates the secrets into its own .env."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW__", "ANIME_DASHBOARD_", "AIRFLOW_CONN_")) and k not in (
               "AIRFLOW_HOME", "SUPERSET_SECRET_KEY", "JIKAN_OFFLINE")}
    p = server_params()
    env.update({
        "ANIME_DASHBOARD_ENV_FILE": str(tmp / ".env"),
        "AIRFLOW_HOME": str(tmp / "airflow"),
        "AIRFLOW_CONN_WAREHOUSE": f"postgresql://{p['user']}@{p['host']}:{p['port']}/{warehouse}",
        "ANIME_DASHBOARD_ANALYST_USER": f"ad_fresh_{token}",
        "ANIME_DASHBOARD_JIKAN_LIMITER_KEY": f"ad_bench_fresh_{token}:starts",
        "ANIME_DASHBOARD_SUPERSET_HOME": str(tmp / "superset"),
        "ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX": f"ad_bench_fresh_{token}",
        "ANIME_DASHBOARD_SEED_HISTORY_DAYS": str(seed_days),
        "ANIME_DASHBOARD_BACKUP_URL": str(tmp / "backups"),
        "JIKAN_OFFLINE": "1",
        **{name: str(free_port()) for name in PORTS},
    })
    return env


def at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def start_until_ready(env: dict[str, str], log: Path) -> subprocess.Popen:
    """scripts/run.sh in a session of its own, once it has printed "make run: ready"."""
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 1200
    while "make run: ready" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise SystemExit(f"run.sh did not get ready:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(1)
    return proc


def env_secret(env: dict[str, str], name: str) -> str:
    """A password make run wrote into its env file."""
    return re.search(rf"^{name}=(\S+)$", Path(env["ANIME_DASHBOARD_ENV_FILE"]).read_text(), re.M).group(1)


def datasets_with_today(client, warehouse: str, today: str) -> dict[int, bool]:
    """Dataset id -> whether its view has rows of today (a chart can only show today if it has)."""
    tables = {d["id"]: d["table_name"] for d in client.list_all("dataset", ["id", "table_name"])}
    with psycopg2.connect(dbname=warehouse, **server_params()) as conn, conn.cursor() as cur:
        def has_today(table: str) -> bool:
            cur.execute("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = "
                        "'analytics' AND table_name = %s AND column_name = 'snapshot_date')", (table,))
            if not cur.fetchone()[0]:
                return False
            cur.execute(f'SELECT EXISTS (SELECT 1 FROM analytics."{table}" WHERE snapshot_date = %s)', (today,))
            return cur.fetchone()[0]
        return {i: has_today(t) for i, t in tables.items()}


def check_charts(client, warehouse: str, publish: datetime) -> tuple[int, int, list[str]]:
    """(charts, charts that should show today, problems): every chart cached after the last publish and,
    where its view has rows of today, today in its data."""
    today = datetime.now(timezone.utc).date().isoformat()
    today_ms = str(int(datetime.fromisoformat(today).replace(tzinfo=timezone.utc).timestamp() * 1000))
    today_in = datasets_with_today(client, warehouse, today)
    charts, problems, dated = 0, [], 0
    for dash in client.list_all("dashboard", ["id", "dashboard_title"]):
        for chart in client.request("GET", f"/api/v1/dashboard/{dash['id']}/charts").json()["result"]:
            charts += 1
            result = client.chart_data(chart["id"])
            cached = result.get("cached_dttm")
            data = result.get("data") or []
            text = json.dumps(data, default=str)
            keys = {k for row in data[:50] if isinstance(row, dict) for k in row}
            has_dates = any(k == "__timestamp" or "snapshot_date" in k for k in keys)
            if not result.get("is_cached"):
                problems.append(f"{chart['slice_name']}: not cached")
            elif cached and datetime.fromisoformat(cached).replace(tzinfo=timezone.utc) < publish:
                problems.append(f"{chart['slice_name']}: cached before the last publish")
            dataset = int(str((chart.get("form_data") or {}).get("datasource", "0__")).split("__")[0])
            if has_dates and today_in.get(dataset):
                dated += 1
                if today not in text and today_ms not in text:
                    problems.append(f"{chart['slice_name']}: no {today} in its data")
    return charts, dated, problems


def requests_made(warehouse: str, runs: dict[str, dict]) -> int:
    with psycopg2.connect(dbname=warehouse, **server_params()) as conn, conn.cursor() as cur:
        cur.execute("SELECT sum(requests) FROM analytics.pipeline_runs WHERE run_id = ANY (%s)",
                    ([r["dag_run_id"] for r in runs.values()],))
        return int(cur.fetchone()[0])


def step_times(runs: dict[str, dict], tasks: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Per DAG: queued to its first task, the whole run, and each task, in seconds."""
    steps = {}
    for dag_id, ts in tasks.items():
        run = runs[dag_id]
        first = min(at(t["start_date"]) for t in ts)
        steps[dag_id] = {"queued_to_first_task_s": (first - at(run["queued_at"])).total_seconds(),
                         "run_s": (at(run["end_date"]) - at(run["queued_at"])).total_seconds(),
                         **{t["task_id"]: (at(t["end_date"]) - at(t["start_date"])).total_seconds() for t in ts}}
    return steps


def measure(env: dict[str, str], log: Path, warehouse: str) -> dict:
    from anime_dashboard.airflow_api import AirflowApi
    from anime_dashboard.dashboards.client import SupersetClient
    from anime_dashboard.snapshots import SNAPSHOT_TYPES

    proc = start_until_ready(env, log)
    try:
        api = AirflowApi(f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}", "admin",
                         env_secret(env, "ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD"))
        runs = {s.dag_id: api.runs(s.dag_id)[0] for s in SNAPSHOT_TYPES}
        tasks = {dag_id: api.task_instances(dag_id, run["dag_run_id"]) for dag_id, run in runs.items()}
        publish = max(at(t["end_date"]) for ts in tasks.values() for t in ts if t["task_id"] == "publish")
        refresh = next(r for r in api.runs("analytics_refresh") if at(r["queued_at"]) >= publish)
        start = min(at(r["queued_at"]) for r in runs.values())
        client = SupersetClient(f"http://127.0.0.1:{env['ANIME_DASHBOARD_SUPERSET_PORT']}", "admin",
                                env_secret(env, "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD"))
        charts, dated, problems = check_charts(client, warehouse, publish)
        made = requests_made(warehouse, runs)
        return {"fresh_s": (at(refresh["end_date"]) - start).total_seconds(), "requests": made,
                "floor_s": made / PER_MINUTE * 60,
                "refresh_s": (at(refresh["end_date"]) - at(refresh["start_date"])).total_seconds(),
                "publish_to_refresh_start_s": (at(refresh["start_date"]) - publish).total_seconds(),
                "last_publish_s": (publish - start).total_seconds(), "charts": charts, "dated_charts": dated,
                "problems": problems, "steps": step_times(runs, tasks)}
    except BaseException:
        print(f"run.sh's log, last lines:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM twice to run.sh's group (not Ctrl-C's SIGINT: a benchmark started in the background inherits it
    ignored, and bash cannot trap that); whatever of its process tree is left after 60 s is killed, and said."""
    import psutil

    if proc.poll() is not None:
        return
    root = psutil.Process(proc.pid)
    procs = [root] + root.children(recursive=True)
    os.killpg(proc.pid, signal.SIGTERM)
    time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=60)
    for p in alive:
        try:
            print(f"still running 60 s after SIGTERM, killed: {p.pid} {' '.join(p.cmdline())[:200]}", file=sys.stderr)
            p.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait(10)


def report(r: dict, seed_days: int) -> str:
    ratio = r["fresh_s"] / r["floor_s"]
    lines = ["## Freshness: trigger to every chart fresh from Redis", "", machine_line(), "",
             "`python -m bench.freshness`: `make run` (scripts/run.sh, JIKAN_OFFLINE=1: the replay at Jikan's "
             f"real limits, Airflow standalone with its scheduler and LocalExecutor, a real Superset, {seed_days} "
             "days of synthetic history) unpauses the four snapshot DAGs at once; from the first run's "
             "`queued_at` to the end of the `analytics_refresh` run the last publish queued (Airflow's "
             "timestamps). Then every chart of the dashboards read without force: served from Redis, cached "
             "after the last publish, and today's date in its data where it has dates and its view has rows of "
             "today.", "",
             f"| trigger to fresh | requests to Jikan | floor (requests / {PER_MINUTE} a minute) | ratio | "
             "charts checked (with dates) |", "|---|---|---|---|---|",
             f"| **{r['fresh_s']:.1f} s** | {r['requests']} | {r['floor_s']:.1f} s | **{ratio:.2f}** "
             f"(goal <= {GOAL}: {'meets' if ratio <= GOAL else 'misses'} it) | {r['charts']} "
             f"({r['dated_charts']}) |", "",
             "Where the time goes: the last publish at "
             f"{r['last_publish_s']:.1f} s, then {r['publish_to_refresh_start_s']:.1f} s until the "
             f"Asset-triggered refresh started and {r['refresh_s']:.1f} s of it (cache invalidation and the "
             "warm-up of every chart). Per DAG (seconds; the extracts wait for the one `jikan_api` slot and "
             "for the rate limit):", "",
             "| DAG | queued to first task | run (queued to end) | extract | validate | upsert | checks | "
             "publish |", "|---|---|---|---|---|---|---|---|"]
    for dag_id, s in r["steps"].items():
        checks = sum(v for k, v in s.items() if k.startswith("check_"))
        lines.append(f"| `{dag_id}` | {s['queued_to_first_task_s']:.1f} | {s['run_s']:.1f} | "
                     f"{s.get('extract', 0):.1f} | {s.get('validate', 0):.1f} | {s.get('upsert', 0):.1f} | "
                     f"{checks:.1f} | {s.get('publish', 0):.1f} |")
    if r["problems"]:
        lines += ["", "**Charts not fresh:** " + "; ".join(r["problems"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="3 days of history; print, no report")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args(argv)
    seed_days = 3 if args.smoke else 30
    token = uuid.uuid4().hex[:8]
    warehouse = f"ad_bench_fresh_{token}"
    tmp = Path(tempfile.mkdtemp(prefix="ad_fresh_"))
    try:
        result = measure(job_env(tmp, warehouse, token, seed_days), tmp / "run.log", warehouse)
    finally:
        admin(f'DROP DATABASE IF EXISTS "{warehouse}" WITH (FORCE)')
        admin(f'DROP ROLE IF EXISTS "ad_fresh_{token}"')
        import redis  # its Superset cache keys and Jikan limiter keys

        r = redis.Redis.from_url(os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0"))
        keys = list(r.scan_iter(f"ad_bench_fresh_{token}*"))
        if keys:
            r.delete(*keys)
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    body = report(result, seed_days)
    print(body)
    if not args.smoke:
        write_section("freshness", body)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())

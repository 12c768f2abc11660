"""The main job (`make run` is scripts/run.sh) as a user runs it: the production path through Airflow's
scheduler with progress, clean stops on Ctrl-C and SIGTERM (each sent twice), a second run right after,
and a Jikan out of reach said in seconds.

Each run is a real scripts/run.sh in a process group of its own (as a terminal starts it), JIKAN_OFFLINE=1
(the replay at Jikan's real limits), on a private Airflow home (SQLite, as `make run`), warehouse database,
Superset home, ports, Redis keys and .env.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from datetime import datetime, timezone

import pytest

from anime_dashboard.airflow_api import AirflowApi, AirflowApiError
from anime_dashboard.backups.location import BackupLocation
from anime_dashboard.dashboards.client import SupersetClient
from anime_dashboard.snapshots import SNAPSHOT_TYPES
from main_job import PORTS, MainJob, main_job_env
from support import ROOT, RUN_TOKEN, query_db
from testkit.ports import free_port
from testkit.warehouse import drop_database, drop_role

@pytest.fixture
def warehouse_name():
    name = f"ad_test_run_{RUN_TOKEN}"
    yield name
    drop_database(name)
    drop_role(f"ad_run_analyst_{RUN_TOKEN}")
    import redis  # the runs' Superset cache keys and Jikan limiter keys

    r = redis.Redis.from_url(os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0"))
    for pattern in (f"ad_test_{RUN_TOKEN}_run*", f"ad_test_{RUN_TOKEN}_main_*"):
        keys = list(r.scan_iter(pattern))
        if keys:
            r.delete(*keys)


def progress_times(text: str) -> list[datetime]:
    return [datetime.strptime(m, "%H:%M:%S") for m in re.findall(r"^(\d\d:\d\d:\d\d) runs:", text, flags=re.M)]


@pytest.mark.scheduler
def test_make_run_loads_through_the_scheduler_with_progress_and_stops_cleanly_twice(tmp_path, warehouse_name):
    env = main_job_env(tmp_path, warehouse_name)
    since = datetime.now(timezone.utc)

    # 1. stopped with SIGTERM (twice) while the snapshot DAGs run
    first = MainJob(env, tmp_path / "first.log")
    first.wait_for(r"extract running \d+/\d+ pages", 480)
    seconds, left = first.stop_with(signal.SIGTERM)
    assert left == [], f"left running {seconds:.1f} s after SIGTERM twice: {left}\n{first.text()[-3000:]}"
    assert first.ports_in_use() == []
    assert "stopping (everything make run started)" in first.text()
    secrets_written = (tmp_path / ".env").read_text()
    secret = {m.group(1): m.group(2) for m in re.finditer(r"^([A-Z_]+)=(\S+)$", secrets_written, re.M)}
    people = [f"ANIME_DASHBOARD_{k}_PASSWORD" for k in ("AIRFLOW_ADMIN", "AIRFLOW_VIEWER", "AIRFLOW_OP",
                                                         "SUPERSET_ADMIN", "SUPERSET_ANALYST")]
    for name in people:  # each person's login: generated, printed once
        assert first.text().count(secret[name]) == 1, name
    assert secret["ANIME_DASHBOARD_SUPERSET_SERVICE_PASSWORD"] not in first.text()  # no person uses it

    # 2. right after, the same settings: to the end, then Ctrl-C (SIGINT, twice) at the prompt
    second = MainJob(env, tmp_path / "second.log")
    second.wait_for(r"^make run: ready$", 600)
    text = second.text()
    assert re.search(r"left (running|queued) by a main job that was stopped; marked failed", text), text[-4000:]
    for s in SNAPSHOT_TYPES:
        # today's scheduled run was made by the first run's unpause and failed by the second: a manual one now
        assert re.search(rf"^{s.dag_id}: success in \d+ s \(manual run manual__", text, flags=re.M), text[-4000:]
    assert re.search(r"^analytics_refresh: success in \d+ s", text, flags=re.M), text[-4000:]
    # the backup that followed the publishes: every database of make run's, verified (the first one ever)
    assert re.search(r"^warehouse_backup: success in \d+ s", text, flags=re.M), text[-4000:]
    taken = re.search(rf"^backup (\d{{8}}T\d{{6}}Z): [\d.]+ MB in {re.escape(str(tmp_path / 'backups'))}$", text,
                      flags=re.M)
    assert taken, text[-4000:]
    backups = BackupLocation(str(tmp_path / "backups"))
    assert sorted(backups.manifest(taken.group(1))["databases"]) == ["airflow", "superset", "warehouse"]
    assert any(backups.read_json(b, "verification.json") for b in backups.backup_ids())
    ticks = progress_times(text)
    assert len(ticks) >= 2 and max((b - a).total_seconds() for a, b in zip(ticks, ticks[1:])) <= 10, ticks
    assert re.search(r"upsert success \d+ inserted", text)

    api = AirflowApi(f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}", "admin",
                     secret["ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD"])
    extracts = []
    for s in SNAPSHOT_TYPES:
        run = next(r for r in api.runs(s.dag_id) if r["state"] == "success")
        start, end = (datetime.fromisoformat(run[k]) for k in ("start_date", "end_date"))
        assert start >= since and (end - start).total_seconds() < 600, run  # real durations, no 22-hour run
        (ti,) = [t for t in api.task_instances(s.dag_id, run["dag_run_id"]) if t["task_id"] == "extract"]
        assert ti["pool"] == "jikan_api"
        extracts.append((datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"])))
    extracts.sort()
    assert all(a[1] <= b[0] for a, b in zip(extracts, extracts[1:])), extracts  # one Jikan caller at a time
    today = datetime.now(timezone.utc).date()
    loaded = dict(query_db(warehouse_name, "SELECT snapshot_type, titles FROM analytics.market_daily "
                                           "WHERE snapshot_date = %s", (today,)))
    assert set(loaded) == {s.name for s in SNAPSHOT_TYPES} and min(loaded.values()) > 0

    # the team's logins as make run set them up (what each may do: test_airflow_logins.py, test_team_access.py)
    for name in [*people, "ANIME_DASHBOARD_SUPERSET_SERVICE_PASSWORD"]:
        assert secret[name] not in second.text(), f"{name} printed again"
    viewer = AirflowApi(api.url, "viewer", secret["ANIME_DASHBOARD_AIRFLOW_VIEWER_PASSWORD"])
    assert viewer.runs(SNAPSHOT_TYPES[0].dag_id)
    with pytest.raises(AirflowApiError, match=" 403 "):
        viewer.trigger(SNAPSHOT_TYPES[0].dag_id)
    analyst = SupersetClient(f"http://127.0.0.1:{env['ANIME_DASHBOARD_SUPERSET_PORT']}", "analyst",
                             secret["ANIME_DASHBOARD_SUPERSET_ANALYST_PASSWORD"])
    assert len(analyst.list_all("saved_query", ["id"])) >= 5
    refresh = next(r for r in api.runs("analytics_refresh") if r["state"] == "success")
    (ti,) = api.task_instances("analytics_refresh", refresh["dag_run_id"])
    assert ti["state"] == "success", ti  # refresh_superset_cache, as the service login (skipped would be "skipped")

    # nothing listens beyond this machine: every server on 127.0.0.1, on the ports the job was given
    listening = second.listening()
    assert listening and all(a.startswith("127.0.0.1:") for a in listening), listening
    assert {a.split(":")[1] for a in listening} <= {env[name] for name in PORTS}, listening

    seconds, left = second.stop_with(signal.SIGINT)
    assert left == [], f"left running {seconds:.1f} s after Ctrl-C twice: {left}\n{second.text()[-3000:]}"
    assert second.ports_in_use() == []


def test_make_run_says_in_seconds_that_jikan_is_out_of_reach(tmp_path, warehouse_name):
    closed = free_port()
    env = main_job_env(tmp_path, warehouse_name, JIKAN_OFFLINE="0", AIRFLOW_CONN_JIKAN_DEFAULT=(
        f'{{"conn_type": "http", "host": "127.0.0.1", "port": {closed}, "schema": "http"}}'))
    started = time.monotonic()
    out = subprocess.run(["bash", str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    seconds = time.monotonic() - started
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert seconds < 20
    said = out.stderr
    assert f"http://127.0.0.1:{closed}/v4/anime" in said and "Connection refused" in said
    assert "JIKAN_OFFLINE=1" in said
    assert "Migrating Airflow" not in out.stdout  # it stopped at the check: nothing ran after it

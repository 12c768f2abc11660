"""`docker compose up` boots the whole production stack in containers on this machine, and a snapshot runs
through the Celery worker.

Both images are built (`make compose-build`: base images pulled or stood in from Debian's packages, the
wheelhouse, no network inside a build), then docker-compose.yaml runs with a generated env file and the offline
profile (the Jikan replay as a container, at Jikan's own limits) under a project of this run's own. The tests
run in order on the stack the compose tests share (tests/compose/conftest.py): boot, a snapshot on the Celery
worker read back by the analyst from Postgres and Superset, the backup its publish triggers (all three databases,
verified), SQL Lab through superset-worker, and the init services refusing a weak password. The same stack then
loses containers (test_losing_a_container.py), which ends with `down` and `down -v`.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest

from compose_stack import ONE_SHOT, ComposeStack
from support import RUN_TOKEN

pytestmark = pytest.mark.compose  # builds images and boots 14 containers: make test-fast leaves it out

DAG_ID = "jikan_airing"


def _airing_rows(stack: ComposeStack) -> dict[str, int]:
    with stack.analyst_pg() as conn, conn.cursor() as cur:
        cur.execute("SELECT snapshot_date::text, count(*) FROM analytics.latest_snapshot "
                    "WHERE snapshot_type = 'airing' GROUP BY 1")
        return dict(cur.fetchall())


def test_every_service_is_healthy_and_the_one_shot_services_exited_0(stack):
    states = stack.states()
    assert set(states) == set(stack.config["services"]), states
    for service, state in states.items():
        assert state == ("exited 0" if service in ONE_SHOT else "healthy"), (service, state)
    # the images are the two the compose file names, built here
    images = {c["Config"]["Image"] for c in stack.containers().values()}
    assert {"anime-dashboard-airflow:3.3.2", "anime-dashboard-superset:6.1.0"} <= images
    assert "superset-import" in stack.logs("superset-import") and \
        "5 saved queries" in stack.logs("superset-import", tail=200)


def test_a_snapshot_runs_on_the_celery_worker_and_the_analyst_reads_it_from_postgres_and_superset(stack):
    api = stack.airflow()
    deadline = time.monotonic() + 900
    while api.dag(DAG_ID) is None:  # the dag-processor has to parse it first
        assert time.monotonic() < deadline, f"{DAG_ID} never parsed:\n{stack.logs('airflow-dag-processor')}"
        time.sleep(2)
    run = api.trigger(DAG_ID)
    t0 = time.monotonic()
    run = stack.wait_run(api, DAG_ID, run["dag_run_id"], deadline)
    stack.timings["airing_run_s"] = time.monotonic() - t0
    tis = api.task_instances(DAG_ID, run["dag_run_id"])
    assert run.get("state") == "success", f"{run}\n{[(t['task_id'], t['state']) for t in tis]}\n" \
        f"{stack.logs('airflow-worker', 200)}"
    assert {t["state"] for t in tis} == {"success"}, [(t["task_id"], t["state"]) for t in tis]

    # on the Celery worker: every task instance's host is the worker container, and so says the task's log
    worker = stack.containers()["airflow-worker"]
    hostname = worker["Config"]["Hostname"]
    assert {t["hostname"] for t in tis} == {hostname}, [(t["task_id"], t["hostname"]) for t in tis]
    extract = next(t for t in tis if t["task_id"] == "extract")
    assert extract["pool"] == "jikan_api"
    log = api.request("GET", f"dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/extract/logs/"
                             f"{extract['try_number']}", params={"full_content": "true"})
    landed = [e["event"] for e in log["content"] if "landed batch" in str(e.get("event"))]
    assert landed and landed[0].endswith(f"on host {hostname}"), f"the extract's log does not name the worker " \
        f"{hostname}: {landed or log['content'][:20]}"
    assert "execute_workload" in stack.logs("airflow-worker", 400)

    # the rows, as the analyst through the published Postgres port
    today = datetime.now(timezone.utc).date().isoformat()
    rows = _airing_rows(stack)
    assert rows.get(today, 0) > 0, rows
    stack.timings["airing_rows"] = rows[today]

    # and through Superset's chart-data API as the analyst, after the Asset-triggered analytics_refresh
    refresh = stack.wait_triggered(api, "analytics_refresh", datetime.fromisoformat(run["end_date"]), deadline)
    assert refresh and refresh["state"] == "success", refresh
    analyst = stack.analyst_superset()
    today_ms = str(int(datetime.fromisoformat(today).replace(tzinfo=timezone.utc).timestamp() * 1000))
    dated = []
    for chart in analyst.list_all("chart", ["id", "slice_name"]):
        data = str(analyst.chart_data(chart["id"]).get("data"))
        if today in data or today_ms in data:
            dated.append(chart["slice_name"])
    assert dated, "no chart the analyst can open shows the new snapshot date"


def test_a_backup_of_all_three_databases_follows_the_publish_and_is_verified(stack):
    """The warehouse_backup DAG, triggered by the snapshot's Asset, on the Celery worker: Debian's pg_dump of the
    server's major in the Airflow image, the external backups volume, a scratch database to verify in."""
    api = stack.airflow()
    published = max(datetime.fromisoformat(r["end_date"]) for r in api.runs(DAG_ID) if r["state"] == "success")
    run = stack.wait_triggered(api, "warehouse_backup", published, time.monotonic() + 600)
    tis = {t["task_id"]: t["state"] for t in api.task_instances("warehouse_backup", run["dag_run_id"])} if run else {}
    assert run and run["state"] == "success", f"{run} {tis}\n{stack.logs('airflow-worker', 100)}"
    # the stack's first backup (after the scheduled runs at boot) was verified; this one is, when it is due
    assert tis["backup"] == tis["retention"] == "success" and tis["verify"] in ("success", "skipped"), tis
    taken = api.xcom("warehouse_backup", run["dag_run_id"], "backup")
    assert taken["location"] == "/opt/airflow/backups" and taken["databases"] == ["airflow", "superset", "warehouse"]
    listing = stack.compose("exec", "-T", "airflow-worker", "anime-dashboard", "backups").stdout
    assert re.search(rf"^  {taken['backup_id']} .* airflow, superset, warehouse  ", listing, re.M), listing
    assert re.search(r"^  \d{8}T\d{6}Z .* airflow, superset, warehouse  verified ", listing, re.M), listing
    with stack.analyst_pg() as conn, conn.cursor() as cur:
        cur.execute("SELECT backup_id, verified FROM analytics.backups WHERE kept ORDER BY 1")
        kept = dict(cur.fetchall())
    assert taken["backup_id"] in kept and True in kept.values(), kept
    stack.timings["backup_run_s"] = (datetime.fromisoformat(run["end_date"])
                                     - datetime.fromisoformat(run["start_date"])).total_seconds()


def test_superset_worker_runs_the_analysts_sql_lab_queries_asynchronously(stack):
    analyst = stack.analyst_superset()
    (db_id,) = [d["id"] for d in analyst.list_all("database", ["id"])]
    started = analyst.send("POST", "/api/v1/sqllab/execute/", json={
        "database_id": db_id, "schema": "analytics", "runAsync": True, "queryLimit": 100,
        "client_id": f"c{RUN_TOKEN[:8]}", "sql": "SELECT 40 + 2 AS answer, count(*) AS titles FROM analytics.titles"})
    assert started.status_code == 202, started.text  # 202: queued for superset-worker, not run in the web process
    query_id = started.json()["query"]["queryId"]
    q = {}
    for _ in range(120):
        q = analyst.request("GET", f"/api/v1/query/{query_id}").json()["result"]
        if q["status"] in ("success", "failed"):
            break
        time.sleep(0.5)
    assert q.get("status") == "success", f"{q}\n{stack.logs('superset-worker')}"
    results = analyst.request("GET", "/api/v1/sqllab/results/", params={"q": f"(key:'{q['results_key']}')"})
    with stack.analyst_pg() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM analytics.titles")
        titles = cur.fetchone()[0]
    assert results.json()["data"] == [{"answer": 42, "titles": titles}]


def test_airflow_init_refuses_a_weak_admin_password(stack):
    proc = stack.compose("run", "--rm", "-e", "ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD=airflow", "airflow-init",
                         check=False, timeout=600)
    assert proc.returncode != 0
    assert "ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD is too weak" in proc.stdout + proc.stderr

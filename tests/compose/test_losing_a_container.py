"""The compose stack loses a container while work is in flight, and no snapshot is lost.

The stack the compose tests share (after the boot test, when both run). In order: a Celery worker killed while
an extract runs; Postgres restarted while an upsert runs; Redis restarted; `docker compose down` and `up -d`
keeping everything; then `down -v` (every volume gone, the backups' external volume kept), `up`, restore, and the
same rows and dashboard figures as before. Each fault is compared with a run nothing disturbed: the snapshot
tables as the server holds them, row for row.
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone

import pytest
import requests

from compose_stack import ONE_SHOT, ComposeStack, docker
from support import CHARTS_ON_THE_CLOCK

pytestmark = pytest.mark.compose

DAG_ID = "jikan_airing"
SNAPSHOT = "airing"
# what a snapshot is, row for row (what a rerun of the same day rewrites identically from the same Jikan answers)
SNAPSHOT_COLUMNS = ("snapshot_type, snapshot_date, mal_id, list_position, title, type, status, score, rank, "
                    "popularity, members, favorites, season, year, genres, themes, demographics, studios, aired_from, "
                    "episodes, payload, synthetic")


@pytest.fixture(scope="module")
def undisturbed(stack):
    """Today's airing snapshot from a run nothing disturbed."""
    api = stack.airflow()
    deadline = time.monotonic() + 900
    while api.dag(DAG_ID) is None:
        assert time.monotonic() < deadline, f"{DAG_ID} never parsed:\n{stack.logs('airflow-dag-processor')}"
        time.sleep(2)
    run = stack.wait_run(api, DAG_ID, api.trigger(DAG_ID)["dag_run_id"], deadline)
    assert run.get("state") == "success", run
    rows = snapshot_rows(stack)
    assert len(rows) == 36, len(rows)
    return rows


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def snapshot_rows(stack: ComposeStack, snapshot: str = SNAPSHOT) -> list[tuple]:
    with stack.superuser_pg() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {SNAPSHOT_COLUMNS} FROM core.anime_snapshots WHERE snapshot_type = %s "
                    "AND snapshot_date = %s ORDER BY mal_id", (snapshot, today()))
        rows = cur.fetchall()
    conn.close()
    return rows


def snapshot_tables(stack: ComposeStack) -> dict[str, list[tuple]]:
    """Every row of the tables only the warehouse holds, as the server holds them."""
    tables = {"core.anime_snapshots": "snapshot_type, snapshot_date, mal_id",
              "core.snapshots": "snapshot_type, snapshot_date", "raw.jikan_pages": "batch_id, page",
              "raw.extract_batches": "batch_id", "core.list_definitions": "definition_id",
              "core.run_metrics": "dag_id, run_id"}
    out = {}
    with stack.superuser_pg() as conn, conn.cursor() as cur:
        for table, key in tables.items():
            cur.execute(f"SELECT * FROM {table} ORDER BY {key}")
            out[table] = cur.fetchall()
    conn.close()
    return out


def task_instance(api, dag_id: str, run_id: str, task_id: str) -> dict:
    return next((t for t in api.task_instances(dag_id, run_id) if t["task_id"] == task_id), {})


def wait_for(what: str, check, timeout: float = 300, every: float = 1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_worker_killed_mid_extract_is_retried_and_the_warehouse_equals_an_undisturbed_run(stack, undisturbed):
    api = stack.airflow()
    replay = stack.containers()["jikan-replay"]["Id"]
    docker("pause", replay)  # the extract's first request hangs: it is surely running when the worker goes
    try:
        run_id = api.trigger(DAG_ID)["dag_run_id"]
        wait_for("the extract to run", lambda: task_instance(api, DAG_ID, run_id, "extract").get("state") == "running")
        time.sleep(3)
        worker = stack.containers()["airflow-worker"]
        docker("kill", worker["Id"])
        killed = time.monotonic()
    finally:
        docker("unpause", replay)
    time.sleep(10)  # the restart policy's turn
    restarted = "its restart policy (unless-stopped)"
    if stack.states().get("airflow-worker", "").startswith("exited"):  # Docker counts a kill as a deliberate stop
        stack.compose("up", "-d", "--no-deps", "airflow-worker")
        restarted = "docker-compose up -d airflow-worker, as an operator or orchestrator would"
    run = stack.wait_run(api, DAG_ID, run_id, time.monotonic() + 900)
    extract = task_instance(api, DAG_ID, run_id, "extract")
    stack.timings["worker_kill"] = {"killed": "airflow-worker (docker kill, SIGKILL) 3 s into a running extract",
                                    "brought_back_by": restarted,
                                    "run_succeeded_after_s": round(time.monotonic() - killed, 1),
                                    "extract_tries": extract.get("try_number")}
    assert run.get("state") == "success", \
        f"{run}\n{stack.logs('airflow-worker', 100)}\n{stack.logs('airflow-scheduler')}"
    assert extract["try_number"] >= 2, extract  # the killed try was failed by its heartbeat timeout and retried
    rows = snapshot_rows(stack)
    stack.timings["worker_kill"]["rows_equal_to_undisturbed"] = rows == undisturbed
    assert rows == undisturbed


def test_postgres_restarted_during_an_upsert_stores_nothing_partial_and_the_retry_succeeds(stack, undisturbed):
    api = stack.airflow()
    # the refresh and backup the last publish triggered read core.anime_snapshots too: not behind our lock
    wait_for("the runs the last publish triggered to finish", lambda: not any(
        r["state"] in ("queued", "running") for d in ("analytics_refresh", "warehouse_backup") for r in api.runs(d)),
        timeout=600, every=3)
    holder = stack.superuser_pg()
    with holder.cursor() as cur:  # the upsert waits for this lock: it is surely mid-transaction at the restart
        cur.execute("LOCK TABLE core.anime_snapshots IN ACCESS EXCLUSIVE MODE")
        cur.execute("SELECT pg_backend_pid()")
        holder_pid = cur.fetchone()[0]
    run_id = api.trigger(DAG_ID)["dag_run_id"]

    def upsert_waits() -> bool:
        if task_instance(api, DAG_ID, run_id, "upsert").get("state") != "running":
            return False
        with stack.superuser_pg("postgres") as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'anime_dashboard' "
                        "AND usename = 'anime_etl' AND %s = ANY(pg_blocking_pids(pid)) "
                        "AND application_name <> 'pg_dump' AND query LIKE '%%core.anime_snapshots%%'", (holder_pid,))
            waiting = cur.fetchone()[0] > 0
        conn.close()
        return waiting

    wait_for("the upsert to wait inside its transaction", upsert_waits)
    stack.compose("restart", "--timeout", "10", "postgres", timeout=120)
    restarted = time.monotonic()
    try:
        holder.close()
    except Exception:  # noqa: BLE001 - its server went away under it
        pass
    wait_for("postgres to answer again", lambda: stack.states().get("postgres") == "healthy", timeout=120)
    partial = snapshot_rows(stack)  # before the retry (30 s later): the interrupted upsert left nothing
    with stack.superuser_pg() as conn, conn.cursor() as cur:
        cur.execute("SELECT outcome FROM core.run_metrics WHERE run_id = %s", (run_id,))
        outcome_before_retry = cur.fetchall()
    conn.close()
    run = stack.wait_run(api, DAG_ID, run_id, time.monotonic() + 900)
    upsert = task_instance(api, DAG_ID, run_id, "upsert")
    rows = snapshot_rows(stack)
    stack.timings["postgres_restart"] = {
        "restarted": "postgres (docker-compose restart) while the upsert waited on a lock in its transaction",
        "rows_after_restart_equal_to_undisturbed": partial == undisturbed,
        "run_succeeded_after_s": round(time.monotonic() - restarted, 1), "upsert_tries": upsert.get("try_number"),
        "rows_equal_to_undisturbed": rows == undisturbed}
    assert partial == undisturbed and outcome_before_retry == []
    assert run.get("state") == "success", f"{run}\n{stack.logs('airflow-worker', 100)}"
    assert upsert["try_number"] >= 2, upsert
    assert rows == undisturbed


def test_redis_restarted_the_next_runs_succeed_and_the_dashboards_compute_again(stack, undisturbed):
    stack.compose("restart", "--timeout", "10", "redis", timeout=120)
    wait_for("redis to answer again", lambda: stack.states().get("redis") == "healthy", timeout=120)
    api = stack.airflow()
    started = time.monotonic()
    runs = {dag_id: api.trigger(dag_id)["dag_run_id"] for dag_id in ("jikan_upcoming", DAG_ID)}
    ended = {d: stack.wait_run(api, d, r, time.monotonic() + 900) for d, r in runs.items()}
    assert {d: r.get("state") for d, r in ended.items()} == {"jikan_upcoming": "success", DAG_ID: "success"}, \
        stack.logs("airflow-worker", 100)
    runs_s = round(time.monotonic() - started, 1)
    published = max(datetime.fromisoformat(r["end_date"]) for r in ended.values())
    for dag_id in ("analytics_refresh", "warehouse_backup"):  # the runs their publishes schedule (Assets)
        triggered = stack.wait_triggered(api, dag_id, published, time.monotonic() + 600)
        assert triggered and triggered["state"] == "success", (dag_id, triggered)
    triggered_s = round(time.monotonic() - started, 1)
    assert snapshot_rows(stack) == undisturbed
    analyst = stack.analyst_superset()
    charts = analyst.list_all("chart", ["id", "slice_name"])
    failed = [c["slice_name"] for c in charts if analyst.chart_data(c["id"], force=True).get("status") != "success"]
    stack.timings["redis_restart"] = {"runs_done_s": runs_s, "asset_triggered_runs_done_s": triggered_s,
                                      "charts_computed_s": round(time.monotonic() - started, 1),
                                      "charts_computed": len(charts) - len(failed)}
    assert charts and not failed, failed


def test_down_then_up_keeps_the_data_runs_the_init_services_again_and_applies_a_changed_password(stack, undisturbed):
    before = snapshot_tables(stack)
    stack.compose("down", "--timeout", "30", timeout=300)
    assert not stack.leftovers()["containers"]
    assert stack.leftovers()["volumes"], "a plain `down` keeps the named volumes"
    old_password = stack.env["ANIME_DASHBOARD_AIRFLOW_VIEWER_PASSWORD"]
    stack.set_env(ANIME_DASHBOARD_AIRFLOW_VIEWER_PASSWORD=secrets.token_hex(24))  # the operator changes .env
    stack.timings["second_up_s"] = stack.up()  # waits for airflow-init, superset-init, superset-import: exit 0
    assert snapshot_tables(stack) == before
    for service in ONE_SHOT:
        assert stack.states()[service] == "exited 0", service
    assert any(r["state"] == "success" for r in stack.airflow().runs(DAG_ID)), "the Airflow metadata was kept"
    requests.get(f"{stack.public_url}/health", timeout=10, verify=stack.ca_file).raise_for_status()
    tokens = {password: requests.post(f"{stack.public_url}/airflow/auth/token", verify=stack.ca_file, timeout=60,
                                      json={"username": "viewer", "password": password}).status_code
              for password in (old_password, stack.env["ANIME_DASHBOARD_AIRFLOW_VIEWER_PASSWORD"])}
    assert list(tokens.values()) == [401, 201], tokens


def chart_figures(stack: ComposeStack) -> dict[str, object]:
    """{chart: its data} as the analyst sees it, computed afresh; not the backups' own charts (their age moves, and
    the restore lists the backups again)."""
    analyst = stack.analyst_superset()
    return {c["slice_name"]: analyst.chart_data(c["id"], force=True).get("data")
            for c in analyst.list_all("chart", ["id", "slice_name"])
            if c["slice_name"] not in (*CHARTS_ON_THE_CLOCK, "Backups")}


def test_down_v_then_up_and_restore_gives_back_every_row_and_the_analysts_figures(stack, undisturbed):
    for command in (["backup"], ["verify"]):
        out = stack.compose("exec", "-T", "airflow-worker", "anime-dashboard", *command, timeout=900)
        stack.timings[f"{command[0]}_output"] = out.stdout.strip().splitlines()[-1]
    before, figures = snapshot_tables(stack), chart_figures(stack)
    assert before["core.anime_snapshots"] and len(figures) > 20

    stack.compose("down", "-v", "--timeout", "30", timeout=300)
    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}
    assert docker("volume", "inspect", stack.backup_volume).returncode == 0  # external: down -v leaves it

    # the runbook: the database server first, the restore, then everything else
    started = time.monotonic()
    stack.compose("up", "-d", "postgres", "redis", timeout=300)
    wait_for("postgres", lambda: stack.states().get("postgres") == "healthy", timeout=180)
    restore = stack.compose("run", "--rm", "--no-deps", "--entrypoint", "anime-dashboard", "airflow-init", "restore",
                            "--superset", "--airflow", timeout=900)
    restored_s = time.monotonic() - started
    assert "restored warehouse from backup" in restore.stdout + restore.stderr, restore.stdout + restore.stderr
    after = snapshot_tables(stack)
    stack.up()
    stack.timings["down_v_restore"] = {"restore_s": round(restored_s, 1),
                                       "rows_equal": after == before,
                                       "tables": {t: len(r) for t, r in after.items()}}
    assert after == before
    assert chart_figures(stack) == figures
    api = stack.airflow()
    assert any(r["state"] == "success" for r in api.runs(DAG_ID)), "Airflow's metadata (the runs) came back too"
    stack.compose("down", "-v", "--timeout", "30", timeout=300)
    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}

"""The Airflow logins of a team (anime_dashboard.airflow_users): through a real api-server's REST API, each with
its own token, the viewer reads and changes nothing, the op (data engineers) triggers, clears, marks and pauses,
and neither can change the admin's password. On the same api-server (SQLite metadata, as `make run` has it), the
project's REST client (anime_dashboard.airflow_api) triggers through a locked database.

A private Airflow home (SQLite metadata) with the logins as scripts/env.sh configures them; one finished run
of ``analytics_refresh`` (``airflow dags test``: its one task skips without a Superset connection) gives the
runs, task instances and a log to read and clear.
"""
from __future__ import annotations

import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from support import free_port, local_airflow_env, stop_process_groups

pytestmark = pytest.mark.scheduler

BIN = Path(sys.executable).parent
DAG_ID = "analytics_refresh"
LOGINS = {"admin": "admin", "viewer": "viewer", "engineer": "op"}  # user -> SimpleAuthManager role
LOCKED_SECONDS = 12  # the api-server's SQLite waits 5 s for a lock, then answers 500


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("airflow_logins")
    port = free_port()
    env = local_airflow_env(tmp, "unused", port)  # its Postgres metadata replaced by SQLite below
    passwords_file = tmp / "passwords.json"
    passwords = {user: secrets.token_urlsafe(18) for user in LOGINS}
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in LOGINS.items()),
        "ANIME_DASHBOARD_AIRFLOW_ADMIN_USER": "admin", "ANIME_DASHBOARD_AIRFLOW_VIEWER_USER": "viewer",
        "ANIME_DASHBOARD_AIRFLOW_OP_USER": "engineer",
        "ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD": passwords["admin"],
        "ANIME_DASHBOARD_AIRFLOW_VIEWER_PASSWORD": passwords["viewer"],
        "ANIME_DASHBOARD_AIRFLOW_OP_PASSWORD": passwords["engineer"],
    })
    env.pop("AIRFLOW_CONN_SUPERSET", None)  # refresh_superset_cache skips, saying so

    def run(*argv: str) -> None:
        proc = subprocess.run([str(BIN / argv[0]), *argv[1:]], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"

    run("airflow", "db", "migrate")
    run("anime-dashboard", "airflow-users")
    run("airflow", "dags", "test", DAG_ID)
    log = open(tmp / "api-server.log", "w")
    proc = subprocess.Popen([str(BIN / "airflow"), "api-server", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp / "api-server.log").read_text()[-3000:]
            time.sleep(0.5)
        yield url, passwords, passwords_file
    finally:
        stop_process_groups({"api-server": (proc, log)})


def session_of(url: str, user: str, password: str) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=30)
    assert r.status_code in (200, 201), f"{user}: {r.status_code} {r.text[:300]}"
    s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return s


def finished_run(s: requests.Session, url: str) -> str:
    runs = s.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns", params={"order_by": "-run_after"}, timeout=30).json()
    return next(r["dag_run_id"] for r in runs["dag_runs"] if r["state"] == "success")


def changes(url: str, run_id: str) -> dict[str, tuple[str, str, dict]]:
    """What only an op (or admin) may do: trigger, clear, mark, pause."""
    return {
        "trigger a run": ("POST", f"dags/{DAG_ID}/dagRuns", {"logical_date": None}),
        "clear the run's tasks": ("POST", f"dags/{DAG_ID}/clearTaskInstances",
                                  {"dag_run_id": run_id, "dry_run": False, "only_failed": False}),
        "mark the run failed": ("PATCH", f"dags/{DAG_ID}/dagRuns/{run_id}", {"state": "failed"}),
        "pause the DAG": ("PATCH", f"dags/{DAG_ID}", {"is_paused": True}),
    }


def test_the_viewer_reads_dags_runs_and_logs_and_cannot_trigger_clear_mark_or_pause(api_server):
    url, passwords, _ = api_server
    viewer = session_of(url, "viewer", passwords["viewer"])
    dags = viewer.get(f"{url}/api/v2/dags", timeout=30)
    assert dags.status_code == 200 and DAG_ID in {d["dag_id"] for d in dags.json()["dags"]}, dags.text[:300]
    run_id = finished_run(viewer, url)
    tis = viewer.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", timeout=30)
    assert tis.status_code == 200, tis.text[:300]
    (ti,) = tis.json()["task_instances"]
    logs = viewer.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/"
                      f"{max(ti['try_number'], 1)}", timeout=30)
    assert logs.status_code == 200, logs.text[:300]

    refused = {}
    for what, (method, path, body) in changes(url, run_id).items():
        r = viewer.request(method, f"{url}/api/v2/{path}", json=body, timeout=30)
        assert r.status_code == 403, f"the viewer could {what}: {r.status_code} {r.text[:300]}"
        refused[what] = r.status_code
    admin = session_of(url, "admin", passwords["admin"])
    (again,) = admin.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances",
                         timeout=30).json()["task_instances"]
    assert (again["state"], again["try_number"]) == (ti["state"], ti["try_number"]), "the viewer changed the run"
    print(f"viewer refused: {refused}")


def test_the_op_triggers_clears_marks_and_pauses(api_server):
    url, passwords, _ = api_server
    op = session_of(url, "engineer", passwords["engineer"])
    run_id = finished_run(op, url)
    done = {}
    for what, (method, path, body) in changes(url, run_id).items():
        r = op.request(method, f"{url}/api/v2/{path}", json=body, timeout=30)
        assert r.status_code in (200, 201), f"the op could not {what}: {r.status_code} {r.text[:300]}"
        done[what] = r.status_code
    dag = op.get(f"{url}/api/v2/dags/{DAG_ID}", timeout=30).json()
    assert dag["is_paused"] is True
    run = op.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", timeout=30).json()
    assert run["state"] == "failed"
    runs = op.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns", timeout=30).json()["dag_runs"]
    assert any(r["run_type"] == "manual" and r["dag_run_id"] != run_id for r in runs), runs
    print(f"op allowed: {done}")


def test_neither_the_viewer_nor_the_op_can_change_the_admins_password(api_server):
    url, passwords, passwords_file = api_server
    before = passwords_file.read_bytes()
    for user in ("viewer", "engineer"):
        s = session_of(url, user, passwords[user])
        attempts = [
            ("PATCH", "/auth/fab/v1/users/admin", {"password": "Pwned-by-" + user}),  # FAB's user API: not here
            ("POST", "/auth/fab/v1/users", {"username": "admin2", "password": "Pwned-by-" + user}),
            ("GET", "/api/v2/config", None),  # the configuration (where the passwords file is): admin only
        ]
        for method, path, body in attempts:
            r = s.request(method, f"{url}{path}", json=body, timeout=30)
            assert r.status_code in (403, 404, 405), f"{user}: {method} {path} answered {r.status_code}"
    assert passwords_file.read_bytes() == before
    # the admin's own password still works, and nobody else's password opens the admin's account
    session_of(url, "admin", passwords["admin"])
    for user in ("viewer", "engineer"):
        r = requests.post(f"{url}/auth/token", json={"username": "admin", "password": passwords[user]}, timeout=30)
        assert r.status_code == 401, r.text[:200]


def test_a_trigger_while_the_sqlite_metadata_is_locked_makes_exactly_one_run(api_server):
    """`make run` keeps Airflow's metadata in SQLite: while another process (the scheduler, busy) holds the write
    lock, the api-server answers a trigger with 500 "Database error" (CI saw the main job stop on one). The
    project's client sends it again under the run id it chose: one run, made once the lock is gone."""
    from anime_dashboard.airflow_api import AirflowApi

    url, passwords, passwords_file = api_server
    api = AirflowApi(url, "engineer", passwords["engineer"])
    statuses = []
    api.session.hooks["response"].append(lambda r, *args, **kwargs: statuses.append(r.status_code))
    before = {r["dag_run_id"] for r in api.runs(DAG_ID, 100)}
    statuses.clear()
    locker = sqlite3.connect(passwords_file.parent / "airflow.db", isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(LOCKED_SECONDS, lambda: locker.execute("ROLLBACK"))
    release.start()
    started = time.monotonic()
    try:
        run = api.trigger(DAG_ID)
    finally:
        release.join()
        locker.close()
    took = time.monotonic() - started
    print(f"trigger answered {statuses} in {took:.1f} s")
    assert statuses[0] == 500 and statuses[-1] in (200, 409), statuses
    new = [r for r in api.runs(DAG_ID, 100) if r["dag_run_id"] not in before]
    assert [r["dag_run_id"] for r in new] == [run["dag_run_id"]], new

    # a trigger whose run an earlier try made (the api-server committed, its answer was lost): that run
    again = api.trigger(DAG_ID, run_id=run["dag_run_id"])
    assert again["dag_run_id"] == run["dag_run_id"]
    assert {r["dag_run_id"] for r in api.runs(DAG_ID, 100)} - before == {run["dag_run_id"]}

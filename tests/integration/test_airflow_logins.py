"""The Airflow logins of a team (anime_dashboard.airflow_users): FAB users in Airflow's metadata database, through
two real api-servers on that database, as `make run` configures them (SQLite metadata, the FAB auth manager,
the login limiter on the real Redis).

The role matrix through the REST API, each login with its own token: the viewer reads DAGs, runs and logs and
cannot trigger, clear, mark, pause or see connections; the engineer (Op) can; only the admin manages users,
through FAB's user API; no login sees nothing. `anime-dashboard airflow-users` keeps the users as the
environment says (a changed password, a renamed login). The login form is throttled, with one counter for both
api-server processes. And the project's REST client triggers through a locked SQLite database.

One finished run of ``analytics_refresh`` (``airflow dags test``: its one task skips without a Superset
connection) gives the runs, task instances and a log to read and clear.
"""
from __future__ import annotations

import re
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from support import local_airflow_env, stop_process_groups, wait_until_it_answers
from testkit.ports import free_port

pytestmark = pytest.mark.scheduler

BIN = Path(sys.executable).parent
DAG_ID = "analytics_refresh"
LOCKED_SECONDS = 12  # the api-server's SQLite waits 5 s for a lock, then answers 500


def airflow_users(env: dict[str, str], **changes: str) -> str:
    """`anime-dashboard airflow-users` with these settings changed; what it printed."""
    proc = subprocess.run([str(BIN / "anime-dashboard"), "airflow-users"], env={**env, **changes},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("airflow_logins")
    ports = [free_port(), free_port()]
    env = local_airflow_env(tmp, "unused", ports[0])  # its Postgres metadata replaced by SQLite below
    env.update({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp / 'airflow.db'}",
                "AIRFLOW__API__WORKERS": "1"})
    env.pop("AIRFLOW_CONN_SUPERSET", None)  # refresh_superset_cache skips, saying so

    def run(*argv: str) -> None:
        proc = subprocess.run([str(BIN / argv[0]), *argv[1:]], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"

    run("airflow", "db", "migrate")
    run("anime-dashboard", "airflow-users")
    run("airflow", "dags", "test", DAG_ID)
    procs = {}
    for i, port in enumerate(ports):
        log = open(tmp / f"api-server-{i}.log", "w")  # noqa: SIM115 - closed by stop_process_groups
        procs[f"api-server {i}"] = (subprocess.Popen([str(BIN / "airflow"), "api-server", "--port", str(port)],
                                                     env=env, stdout=log, stderr=subprocess.STDOUT,
                                                     start_new_session=True), log)
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, (proc, log) in zip(urls, procs.values()):
            wait_until_it_answers(f"{url}/api/v2/monitor/health", proc, Path(log.name))
        yield {"urls": urls, "env": env, "db": tmp / "airflow.db",
               "passwords": {user: env[f"ANIME_DASHBOARD_AIRFLOW_{key}_PASSWORD"]
                             for key, user in (("ADMIN", "admin"), ("VIEWER", "viewer"), ("OP", "engineer"))}}
    finally:
        stop_process_groups(procs)


def token(url: str, user: str, password: str) -> requests.Response:
    return requests.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=30)


def session_of(url: str, user: str, password: str) -> requests.Session:
    r = token(url, user, password)
    assert r.status_code == 201, f"{user}: {r.status_code} {r.text[:300]}"
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return s


def finished_run(s: requests.Session, url: str) -> str:
    runs = s.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns", params={"order_by": "-run_after"}, timeout=30).json()
    return next(r["dag_run_id"] for r in runs["dag_runs"] if r["state"] == "success")


def reads(run_id: str, task_id: str = "refresh_superset_cache") -> dict[str, str]:
    """What every login may read: DAGs, runs, task instances, a task's log."""
    run = f"dags/{DAG_ID}/dagRuns/{run_id}"
    return {"list the DAGs": "api/v2/dags", "read the runs": f"api/v2/dags/{DAG_ID}/dagRuns",
            "read the task instances": f"api/v2/{run}/taskInstances",
            "read a task's log": f"api/v2/{run}/taskInstances/{task_id}/logs/1"}


def changes(run_id: str) -> dict[str, tuple[str, str, dict | None]]:
    """What only the engineer (Op) and the admin may do: trigger, clear, mark, pause, see connections."""
    return {
        "trigger a run": ("POST", f"dags/{DAG_ID}/dagRuns", {"logical_date": None}),
        "clear the run's tasks": ("POST", f"dags/{DAG_ID}/clearTaskInstances",
                                  {"dag_run_id": run_id, "dry_run": False, "only_failed": False}),
        "mark the run failed": ("PATCH", f"dags/{DAG_ID}/dagRuns/{run_id}", {"state": "failed"}),
        "pause the DAG": ("PATCH", f"dags/{DAG_ID}", {"is_paused": True}),
        "see the connections": ("GET", "connections", None),
    }


def test_the_viewer_reads_dags_runs_and_logs_and_cannot_trigger_clear_mark_pause_or_see_connections(airflow):
    url = airflow["urls"][0]
    viewer = session_of(url, "viewer", airflow["passwords"]["viewer"])
    run_id = finished_run(viewer, url)
    (ti,) = viewer.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances",
                       timeout=30).json()["task_instances"]
    for what, path in reads(run_id, ti["task_id"]).items():
        r = viewer.get(f"{url}/{path}", timeout=30)
        assert r.status_code == 200, f"the viewer could not {what}: {r.status_code} {r.text[:300]}"
    refused = {}
    for what, (method, path, body) in changes(run_id).items():
        r = viewer.request(method, f"{url}/api/v2/{path}", json=body, timeout=30)
        assert r.status_code == 403, f"the viewer could {what}: {r.status_code} {r.text[:300]}"
        refused[what] = r.status_code
    admin = session_of(url, "admin", airflow["passwords"]["admin"])
    (again,) = admin.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances",
                         timeout=30).json()["task_instances"]
    assert (again["state"], again["try_number"]) == (ti["state"], ti["try_number"]), "the viewer changed the run"
    print(f"viewer refused: {refused}")


def test_the_engineer_triggers_clears_marks_pauses_and_sees_connections(airflow):
    url = airflow["urls"][0]
    op = session_of(url, "engineer", airflow["passwords"]["engineer"])
    run_id = finished_run(op, url)
    done = {}
    for what, (method, path, body) in changes(run_id).items():
        r = op.request(method, f"{url}/api/v2/{path}", json=body, timeout=30)
        assert r.status_code in (200, 201), f"the engineer could not {what}: {r.status_code} {r.text[:300]}"
        done[what] = r.status_code
    assert op.get(f"{url}/api/v2/dags/{DAG_ID}", timeout=30).json()["is_paused"] is True
    assert op.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", timeout=30).json()["state"] == "failed"
    runs = op.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns", timeout=30).json()["dag_runs"]
    assert any(r["run_type"] == "manual" and r["dag_run_id"] != run_id for r in runs), runs
    op.patch(f"{url}/api/v2/dags/{DAG_ID}", json={"is_paused": False}, timeout=30)
    print(f"engineer allowed: {done}")


def test_only_the_admin_manages_users_through_fabs_user_api(airflow):
    url, passwords = airflow["urls"][0], airflow["passwords"]
    users = f"{url}/auth/fab/v1/users"
    newcomer = {"username": f"analyst-{secrets.token_hex(3)}", "first_name": "New", "last_name": "Analyst",
                "email": f"new-{secrets.token_hex(3)}@example.org", "roles": [{"name": "Viewer"}],
                "password": secrets.token_urlsafe(18)}
    for user in ("viewer", "engineer"):
        s = session_of(url, user, passwords[user])
        for method, path, body in [("GET", "", None), ("POST", "", {**newcomer, "username": f"{user}-made"}),
                                   ("PATCH", "/admin", {"password": "Pwned-by-" + user + "-0000"}),
                                   ("DELETE", "/admin", None)]:
            r = s.request(method, users + path, json=body, timeout=30)
            assert r.status_code == 403, f"{user}: {method} /auth/fab/v1/users{path} answered {r.status_code}"
        r = s.get(f"{url}/api/v2/config", timeout=30)
        assert r.status_code == 403, f"{user} read the configuration: {r.status_code}"
    admin = session_of(url, "admin", passwords["admin"])
    made = admin.post(users, json=newcomer, timeout=30)
    assert made.status_code in (200, 201), made.text[:500]
    assert session_of(url, newcomer["username"], newcomer["password"]).get(f"{url}/api/v2/dags",
                                                                         timeout=30).status_code == 200
    listed = {u["username"]: u for u in admin.get(users, params={"limit": 100}, timeout=30).json()["users"]}
    assert {"admin", "viewer", "engineer", newcomer["username"]} <= set(listed), sorted(listed)
    promoted = admin.patch(f"{users}/{newcomer['username']}", params={"update_mask": "roles"},
                           json={"roles": [{"name": "Op"}]}, timeout=30)
    assert promoted.status_code == 200, promoted.text[:500]
    # the api-server keeps a user's roles for [fab] cache_ttl seconds (default 30)
    promoted_session = session_of(url, newcomer["username"], newcomer["password"])
    deadline = time.monotonic() + 45
    while promoted_session.get(f"{url}/api/v2/connections", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the role the admin gave never applied"
        time.sleep(2)
    assert admin.delete(f"{users}/{newcomer['username']}", timeout=30).status_code == 204
    assert token(url, newcomer["username"], newcomer["password"]).status_code == 401, "a deleted user signed in"
    # the admin's password opened by no other login's password
    for user in ("viewer", "engineer"):
        assert token(url, "admin", passwords[user]).status_code == 401


def test_no_login_sees_nothing(airflow):
    url = airflow["urls"][0]
    runs = session_of(url, "viewer", airflow["passwords"]["viewer"]).get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns",
                                                                        timeout=30).json()["dag_runs"]
    paths = [*reads(runs[0]["dag_run_id"]).values(), "api/v2/connections", "api/v2/config", "auth/fab/v1/users"]
    answered = {path: requests.get(f"{url}/{path}", timeout=30).status_code for path in paths}
    assert set(answered.values()) == {401}, answered
    wrong = token(url, "viewer", "not-" + airflow["passwords"]["viewer"])
    assert wrong.status_code == 401 and "access_token" not in wrong.text


def test_airflow_users_sets_a_changed_password_and_deactivates_a_login_no_longer_configured(airflow):
    url, env = airflow["urls"][0], airflow["env"]
    assert "created" not in airflow_users(env)  # a second run with the same settings changes nothing
    new_password = secrets.token_urlsafe(18)
    said = airflow_users(env, ANIME_DASHBOARD_AIRFLOW_VIEWER_PASSWORD=new_password,
                         ANIME_DASHBOARD_AIRFLOW_OP_USER="engineer2")
    assert "viewer: password set from the environment" in said and "engineer: deactivated" in said, said
    assert new_password not in said and airflow["passwords"]["viewer"] not in said
    assert token(url, "viewer", airflow["passwords"]["viewer"]).status_code == 401, "the old password still works"
    session_of(url, "viewer", new_password)
    assert token(url, "engineer", airflow["passwords"]["engineer"]).status_code == 401, "a removed login works"
    op = session_of(url, "engineer2", airflow["passwords"]["engineer"])
    assert op.get(f"{url}/api/v2/connections", timeout=30).status_code == 200  # the new name has the Op role
    # back as the fixture had it: the engineer active again, engineer2 deactivated
    said = airflow_users(env)
    assert "engineer: active, role Op" in said and "engineer2: deactivated" in said, said
    session_of(url, "engineer", airflow["passwords"]["engineer"])


def login_form(url: str) -> tuple[requests.Session, str]:
    """A browser's session on FAB's login page and the form's CSRF token."""
    s = requests.Session()
    page = s.get(f"{url}/auth/login/", timeout=30)
    assert page.status_code == 200, page.text[:300]
    return s, re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)


def test_the_login_form_answers_429_after_the_limit_on_either_api_server_until_the_window_has_passed(airflow):
    """[fab] auth_rate_limit (5 per 40 s by default) for one user name from one address, counted in Redis:
    wrong passwords sent alternately to the two api-server processes spend one allowance."""
    limit = subprocess.run([str(BIN / "airflow"), "config", "get-value", "fab", "auth_rate_limit"],
                           env=airflow["env"], capture_output=True, text=True, timeout=120).stdout.strip()
    count, window = (int(x) for x in re.fullmatch(r"(\d+) per (\d+) seconds?", limit).groups())
    urls, password = airflow["urls"], airflow["passwords"]["viewer"]
    forms = [login_form(url) for url in urls]

    def attempt(i: int, secret: str, user: str = "viewer") -> requests.Response:
        s, csrf = forms[i % 2]
        return s.post(f"{urls[i % 2]}/auth/login/", data={"username": user, "password": secret,
                                                          "csrf_token": csrf}, allow_redirects=False, timeout=30)

    started = time.monotonic()
    answers = [attempt(i, f"wrong-{i}").status_code for i in range(count + 2)]
    assert answers[:count] == [302] * count and answers[count:] == [429, 429], answers
    assert attempt(count + 2, password).status_code == 429, "the right password got through the throttle"
    assert attempt(1, "wrong", user="engineer").status_code == 302  # another user name is counted apart
    time.sleep(max(0.0, started + window + 1 - time.monotonic()))
    ok = attempt(0, password)
    assert ok.status_code == 302 and "/auth/login" not in ok.headers["Location"], (ok.status_code, ok.headers)
    assert "_token" in ok.cookies, "signed in without the UI's token cookie"
    print(f"login throttle ({limit}): answers {answers} over two api-servers, the right password signed in "
          f"{time.monotonic() - started:.0f} s after the first attempt")


def test_a_trigger_while_the_sqlite_metadata_is_locked_makes_exactly_one_run(airflow):
    """`make run` keeps Airflow's metadata in SQLite: while another process (the scheduler, busy) holds the write
    lock, the api-server answers a trigger with 500 "Database error". The project's client sends it again under
    the run id it chose: one run, made once the lock is gone."""
    from anime_dashboard.airflow_api import AirflowApi

    api = AirflowApi(airflow["urls"][0], "admin", airflow["passwords"]["admin"])
    statuses = []
    api.session.hooks["response"].append(lambda r, *args, **kwargs: statuses.append(r.status_code))
    before = {r["dag_run_id"] for r in api.runs(DAG_ID, 100)}
    statuses.clear()
    locker = sqlite3.connect(airflow["db"], isolation_level=None, check_same_thread=False)
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

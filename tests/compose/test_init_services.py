"""The compose services' own commands, run on this machine with the environment docker-compose.yaml gives them.

No Docker engine here, so each service's entrypoint+command from the compose file runs as a fresh process with
that service's interpolated environment, re-pointed at this machine: the ``postgres``/``redis``/``superset``
hosts become 127.0.0.1 (Redis databases 10-13 for compose's 0-3, no Redis password), the image paths
(/opt/anime_dashboard, /opt/airflow, /app/superset_home) become this checkout and a temporary directory, and
role and database names get this run's token. The Postgres init script runs first, as the postgres image would.
What it proves: the init services leave Airflow (on Postgres, CeleryExecutor settings), the warehouse and
Superset (Postgres metadata) ready - twice in a row -, superset-worker runs SQL Lab asynchronously, a snapshot
DAG runs through the Celery worker with the compose settings, and every Airflow health check passes.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
import redis
import requests

from compose_file import command_text, load, service_env
from support import PG, ROOT, RUN_TOKEN, trigger_dag_runs

pytestmark = pytest.mark.compose  # services run on the host, several Airflow processes each: make test-fast leaves them out

REDIS_DB_BASE = 10  # compose's Redis databases 0-3 map to 10-13 here


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComposeOnThisMachine:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"ad_compose_{RUN_TOKEN}_"))
        self.port = _free_port()  # superset
        self.api_port = _free_port()  # airflow-apiserver (and the execution API the workers call)
        self.names = {n: f"ad_c_{n}_{RUN_TOKEN}" for n in ("airflow", "superset", "anime_etl", "anime_dashboard")}
        self.analyst = f"ad_c_analyst_{RUN_TOKEN}"
        self.secrets = {name: secrets.token_hex(16) for name in re.findall(
            r"^([A-Z][A-Z0-9_]+)=$", (ROOT / ".env.example").read_text(encoding="utf-8"), re.M)}
        from cryptography.fernet import Fernet

        self.secrets["AIRFLOW_FERNET_KEY"] = Fernet.generate_key().decode()
        from anime_dashboard.jikan.replay import JikanReplay

        self.replay = JikanReplay()  # what the jikan-replay service serves, here in-process
        self.replay.start()
        self.compose = load({**self.secrets, "ANIME_DASHBOARD_ANALYST_USER": self.analyst,
                             "JIKAN_HOST": self.replay.host, "JIKAN_PORT": str(self.replay.port),
                             "JIKAN_SCHEME": "http"})
        self.procs: list[subprocess.Popen] = []
        self.by_name: dict[str, subprocess.Popen] = {}

    # -- environment ----------------------------------------------------------------------------------------
    def _localize(self, value: str) -> str:
        def pg(m: re.Match) -> str:
            return (f"{m.group('scheme')}://{self.names.get(m.group('user'), m.group('user'))}:{m.group('pw')}"
                    f"@{PG['host']}:{PG['port']}/{self.names.get(m.group('db'), m.group('db'))}")

        value = re.sub(r"(?P<scheme>(?:db\+)?postgresql(?:\+psycopg2)?)://(?P<user>[^:]+):(?P<pw>[^@]+)"
                       r"@postgres:5432/(?P<db>\w+)", pg, value)
        value = re.sub(r"redis://:[^@]+@redis:6379/(\d+)",
                       lambda m: f"redis://127.0.0.1:6379/{REDIS_DB_BASE + int(m.group(1))}", value)
        value = value.replace('"host": "superset", "port": 8088', f'"host": "127.0.0.1", "port": {self.port}')
        value = value.replace("http://superset:8088", f"http://127.0.0.1:{self.port}")
        value = value.replace("http://airflow-apiserver:8080", f"http://127.0.0.1:{self.api_port}")
        value = value.replace("/opt/anime_dashboard", str(ROOT)).replace("/opt/airflow", str(self.tmp / "airflow"))
        return value.replace("/app/superset_home", str(self.tmp / "superset_home"))

    def env(self, service: str) -> dict[str, str]:
        env = {k: self._localize(v) for k, v in service_env(self.compose["services"][service]).items()}
        if env.get("ANIME_DASHBOARD_SUPERSET_HOST") == "0.0.0.0":
            env["ANIME_DASHBOARD_SUPERSET_HOST"] = "127.0.0.1"  # the container listens on all; tests do not
        if "ANIME_DASHBOARD_SUPERSET_PORT" in env:
            env["ANIME_DASHBOARD_SUPERSET_PORT"] = str(self.port)
        image = self.compose["services"][service]["image"]
        if image.startswith("anime-dashboard-airflow"):
            env.setdefault("AIRFLOW_HOME", str(self.tmp / "airflow"))  # the image's AIRFLOW_HOME
            env.setdefault("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(self.tmp / "airflow" / "logs"))
        else:  # the Superset image's ENV
            env.setdefault("ANIME_DASHBOARD_SUPERSET_VENV", str(ROOT / ".venv-superset"))
            env.setdefault("ANIME_DASHBOARD_SUPERSET_HOME", str(self.tmp / "superset_home"))
        return {"PATH": f"{ROOT / '.venv' / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(self.tmp),
                "LANG": "C.UTF-8", "TMPDIR": os.environ.get("TMPDIR", "/tmp"), **env}

    def argv(self, service: str) -> list[str]:
        s = self.compose["services"][service]
        entry = s.get("entrypoint") or []
        entry = [entry] if isinstance(entry, str) else list(entry)
        cmd = s.get("command") or []
        cmd = cmd.split() if isinstance(cmd, str) else list(cmd)
        return entry + cmd

    def run(self, service: str, timeout: int = 600, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(service), env={**self.env(service), **extra_env}, cwd=self.tmp,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def start(self, service: str, *extra_args: str, airflow: bool = False, **extra_env: str) -> subprocess.Popen:
        """Start a long-running service (``airflow=True``: the official image's entrypoint prefixes `airflow`)."""
        log = open(self.tmp / f"{service}.log", "w")  # noqa: SIM115 - closed with the process
        argv = (["airflow"] if airflow else []) + self.argv(service) + list(extra_args)
        proc = subprocess.Popen(argv, env={**self.env(service), **extra_env}, cwd=self.tmp, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        self.by_name[service] = proc
        return proc

    def running(self, service: str) -> bool:
        return service in self.by_name and self.by_name[service].poll() is None

    def start_apiserver(self) -> str:
        """airflow-apiserver on this stack's port (loopback only), healthy by its own compose health check URL."""
        url = f"http://127.0.0.1:{self.api_port}"
        if self.running("airflow-apiserver"):
            return url
        health = self.compose["services"]["airflow-apiserver"]["healthcheck"]["test"]
        assert health[:3] == ["CMD", "curl", "--fail"] and health[3].startswith("http://localhost:8080/")
        proc = self.start("airflow-apiserver", "--port", str(self.api_port), "--host", "127.0.0.1", airflow=True)
        check = health[3].replace("http://localhost:8080", url)
        for _ in range(240):
            try:
                if requests.get(check, timeout=5).status_code == 200:
                    return url
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert proc.poll() is None, f"api-server exited:\n{self.log('airflow-apiserver')}"
            time.sleep(0.5)
        pytest.fail(f"{check} never answered 200:\n{self.log('airflow-apiserver')}")

    def log(self, service: str) -> str:
        path = self.tmp / f"{service}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # -- postgres ------------------------------------------------------------------------------------------
    def init_postgres(self) -> subprocess.CompletedProcess:
        """docker/postgres/init-databases.sh as the postgres image runs it (here with this run's names)."""
        env = {"PATH": os.environ["PATH"], "PGHOST": PG["host"], "PGPORT": str(PG["port"]), "PGUSER": PG["user"],
               "POSTGRES_DB": "postgres",
               "AIRFLOW_DB_USER": self.names["airflow"], "AIRFLOW_DB_NAME": self.names["airflow"],
               "SUPERSET_DB_USER": self.names["superset"], "SUPERSET_DB_NAME": self.names["superset"],
               "WAREHOUSE_DB_USER": self.names["anime_etl"], "WAREHOUSE_DB_NAME": self.names["anime_dashboard"]}
        postgres_env = service_env(self.compose["services"]["postgres"])
        for key in ("AIRFLOW_DB_PASSWORD", "SUPERSET_DB_PASSWORD", "WAREHOUSE_DB_PASSWORD"):
            env[key] = postgres_env[key]
        return subprocess.run(["bash", str(ROOT / "docker" / "postgres" / "init-databases.sh")], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    def ensure_postgres(self) -> None:
        """The postgres init (for a test run on its own)."""
        if not self.query("postgres", "SELECT 1 FROM pg_roles WHERE rolname = %s", (self.names["airflow"],)):
            _ok(self.init_postgres(), "init-databases.sh")

    def ensure_airflow_init(self) -> None:
        self.ensure_postgres()
        if not (self.tmp / "airflow" / "auth" / "passwords.json").exists():
            _ok(self.run("airflow-init"), "airflow-init")

    def query(self, db: str, sql: str, params=()) -> list[tuple]:
        with psycopg2.connect(dbname=self.names.get(db, db), **PG) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def cleanup(self) -> None:
        self.replay.stop()
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        conn = psycopg2.connect(dbname="postgres", **PG)
        conn.autocommit = True
        with conn.cursor() as cur:
            for key in ("airflow", "superset", "anime_dashboard"):
                cur.execute(f'DROP DATABASE IF EXISTS "{self.names[key]}" WITH (FORCE)')
            for role in (self.analyst, self.names["airflow"], self.names["superset"], self.names["anime_etl"]):
                cur.execute(f'DROP ROLE IF EXISTS "{role}"')
        conn.close()
        for db in range(REDIS_DB_BASE, REDIS_DB_BASE + 4):
            redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def stack():
    s = ComposeOnThisMachine()
    try:
        yield s
    finally:
        s.cleanup()


def _ok(proc: subprocess.CompletedProcess, what: str) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{out[-4000:]}"
    return out


def test_postgres_init_script_creates_the_three_owners_and_databases_and_can_rerun(stack):
    _ok(stack.init_postgres(), "init-databases.sh")
    _ok(stack.init_postgres(), "init-databases.sh, second run")
    owners = dict(stack.query("postgres", "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r "
                                          "ON r.oid = d.datdba WHERE d.datname = ANY(%s)",
                              ([stack.names[k] for k in ("airflow", "superset", "anime_dashboard")],)))
    assert owners == {stack.names["airflow"]: stack.names["airflow"],
                      stack.names["superset"]: stack.names["superset"],
                      stack.names["anime_dashboard"]: stack.names["anime_etl"]}
    roles = dict(stack.query("postgres", "SELECT rolname, rolcreaterole FROM pg_roles WHERE rolname = ANY(%s)",
                             ([stack.names[k] for k in ("airflow", "superset", "anime_etl")],)))
    assert roles == {stack.names["airflow"]: False, stack.names["superset"]: False, stack.names["anime_etl"]: True}
    verifiers = stack.query("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                            (stack.names["anime_etl"],))
    assert verifiers[0][0].startswith("SCRAM-SHA-256$"), "passwords are stored as SCRAM verifiers"
    public = stack.query("postgres", "SELECT has_database_privilege('public', %s, 'CONNECT')",
                         (stack.names["anime_dashboard"],))
    assert public == [(False,)]


def test_airflow_init_sets_up_airflow_and_the_warehouse_twice_in_a_row(stack):
    stack.ensure_postgres()
    first = _ok(stack.run("airflow-init"), "airflow-init")
    assert "Airflow logins admin (admin), viewer (viewer), engineer (op): passwords written" in first
    _ok(stack.run("airflow-init"), "airflow-init, second run")  # every `docker compose up` runs it again
    env = stack.env("airflow-worker")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    # Airflow's metadata DB is the compose Postgres database, migrated, with the pool the DAGs need
    assert stack.query("airflow", "SELECT pool, slots FROM slot_pool WHERE pool = 'jikan_api'") == [("jikan_api", 1)]
    assert stack.query("airflow", "SELECT count(*) FROM alembic_version")[0][0] == 1
    # the warehouse: every migration, the analytics views, the analyst role (as anime_etl, not a superuser)
    applied = {r[0] for r in stack.query("anime_dashboard", "SELECT filename FROM public.schema_migrations")}
    assert applied == {p.name for p in (ROOT / "sql" / "migrations").glob("*.sql")}
    owner = stack.query("anime_dashboard", "SELECT tableowner FROM pg_tables WHERE schemaname = 'core' "
                                           "AND tablename = 'anime_snapshots'")
    assert owner == [(stack.names["anime_etl"],)]
    views = stack.query("anime_dashboard", "SELECT count(*) FROM pg_views WHERE schemaname = 'analytics'")
    assert views[0][0] >= 5
    assert stack.query("anime_dashboard", "SELECT has_schema_privilege(%s, 'analytics', 'USAGE'), "
                                          "has_schema_privilege(%s, 'core', 'USAGE')",
                       (stack.analyst, stack.analyst)) == [(True, False)]
    # the Airflow UI's logins' passwords are the ones from .env, in the file the api-server reads
    passwords = json.loads((stack.tmp / "airflow" / "auth" / "passwords.json").read_text())
    assert passwords == {user: stack.secrets[f"ANIME_DASHBOARD_AIRFLOW_{key}_PASSWORD"]
                         for key, user in (("ADMIN", "admin"), ("VIEWER", "viewer"), ("OP", "engineer"))}


def test_airflow_init_refuses_a_weak_admin_password(stack):
    stack.ensure_postgres()
    proc = stack.run("airflow-init", ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD="airflow")
    assert proc.returncode != 0
    assert "ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD is too weak" in proc.stdout + proc.stderr


def test_superset_services_bootstrap_serve_import_and_run_sql_lab_asynchronously(stack):
    stack.ensure_airflow_init()
    out = _ok(stack.run("superset-init"), "superset-init")
    assert "admin user admin created" in out and "user analyst created with role Analyst" in out
    again = _ok(stack.run("superset-init"), "superset-init, second run")
    assert "admin user admin exists: password set from the environment" in again
    assert "user pipeline exists: role Pipeline, password set from the environment" in again
    # Superset's metadata lives in the compose Postgres database, not in SQLite
    assert stack.query("superset", "SELECT username FROM ab_user ORDER BY 1") == [("admin",), ("analyst",),
                                                                                 ("pipeline",)]
    assert not list((stack.tmp / "superset_home").glob("*.db"))

    server = stack.start("superset")
    url = f"http://127.0.0.1:{stack.port}"
    for _ in range(240):
        try:
            if requests.get(f"{url}/health", timeout=10).ok:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass
        assert server.poll() is None, f"superset exited:\n{stack.log('superset')}"
        time.sleep(0.5)
    else:
        pytest.fail(f"superset did not become healthy:\n{stack.log('superset')}")
    worker = stack.start("superset-worker")

    out = _ok(stack.run("superset-import"), "superset-import")
    assert "1 databases, 12 datasets, 29 charts, 3 dashboards, 5 saved queries" in out
    _ok(stack.run("superset-import"), "superset-import, second run")
    assert stack.query("superset", "SELECT count(*) FROM dashboards")[0][0] == 3
    assert stack.query("superset", "SELECT allow_run_async FROM dbs") == [(True,)]

    from anime_dashboard.dashboards.client import SupersetClient

    client = SupersetClient(url, "admin", stack.secrets["ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD"])
    client.login()
    (db_id,) = [d["id"] for d in client.list_all("database", ["id"])]
    started = client.session.post(f"{url}/api/v1/sqllab/execute/", json={
        "database_id": db_id, "schema": "analytics", "runAsync": True, "queryLimit": 100,
        "client_id": f"c{RUN_TOKEN[:8]}", "sql": "SELECT 40 + 2 AS answer, count(*) AS titles FROM analytics.titles"}, timeout=30)
    assert started.status_code == 202, started.text
    query_id = started.json()["query"]["queryId"]  # ("id" is our client_id)
    state, results_key = None, None
    for _ in range(120):
        assert worker.poll() is None, f"superset-worker exited:\n{stack.log('superset-worker')}"
        got = client.session.get(f"{url}/api/v1/query/{query_id}", timeout=10)
        assert got.ok, f"GET /api/v1/query/{query_id}: {got.status_code} {got.text[:500]}"
        q = got.json()["result"]
        state, results_key = q["status"], q.get("results_key")
        if state in ("success", "failed"):
            break
        time.sleep(0.5)
    assert state == "success", f"async query ended {state} ({q.get('error_message')}); worker log:\n" \
        f"{stack.log('superset-worker')}"
    results = client.session.get(f"{url}/api/v1/sqllab/results/", params={"q": f"(key:'{results_key}')"},
                                 timeout=10)
    assert results.ok, results.text
    titles = stack.query("anime_dashboard", "SELECT count(*) FROM analytics.titles")[0][0]
    assert results.json()["data"] == [{"answer": 42, "titles": titles}]
    r = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB_BASE + 1)
    assert r.exists(f"superset_results_{results_key}"), "SQL Lab results are kept in Redis (compose db 1)"
    assert redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB_BASE + 2).dbsize() > 0, \
        "the Superset Celery broker is its own Redis database (compose db 2)"
    assert "celery@" in stack.log("superset-worker") and "ready" in stack.log("superset-worker")
    assert command_text(stack.compose["services"]["superset-worker"]) == "anime-dashboard superset-worker"


def test_airflow_apiserver_logs_the_admin_in_with_the_env_password_and_answers_its_health_check(stack):
    stack.ensure_airflow_init()
    url = stack.start_apiserver()
    good = requests.post(f"{url}/auth/token", json={
        "username": "admin", "password": stack.secrets["ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD"]}, timeout=10)
    assert good.status_code in (200, 201), good.text
    token = good.json()["access_token"]
    pool = requests.get(f"{url}/api/v2/pools/jikan_api", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert pool.ok and pool.json()["slots"] == 1, pool.text
    for wrong in ("admin", "airflow", stack.secrets["ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD"]):
        bad = requests.post(f"{url}/auth/token", json={"username": "admin", "password": wrong}, timeout=10)
        assert bad.status_code == 401, (wrong, bad.status_code)


@pytest.mark.scheduler
def test_a_snapshot_dag_runs_on_the_celery_executor_and_every_airflow_health_check_passes(stack):
    stack.ensure_airflow_init()
    stack.start_apiserver()
    sched_port = _free_port()
    tuning = {"AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",  # resources only: a small machine
              "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(sched_port),
              "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5"}
    for name in ("airflow-dag-processor", "airflow-scheduler", "airflow-worker"):
        stack.start(name, airflow=True, **tuning)
    from airflow.utils.net import get_hostname

    dag_id = "jikan_movies"
    deadline = time.time() + 300
    # the dag-processor has to parse the DAG before it can be triggered: watched in the metadata DB
    while not stack.query("airflow", "SELECT 1 FROM dag JOIN serialized_dag USING (dag_id) WHERE dag_id = %s",
                          (dag_id,)):
        assert time.time() < deadline, f"{dag_id} was never parsed:\n{stack.log('airflow-dag-processor')}"
        assert stack.running("airflow-dag-processor"), stack.log("airflow-dag-processor")
        time.sleep(0.5)
    # triggered through the api-server's REST API as the admin of .env (an `airflow dags trigger` would cost a
    # CLI start-up)
    (run,) = trigger_dag_runs(f"http://127.0.0.1:{stack.api_port}", "admin",
                              stack.secrets["ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD"], [dag_id])
    assert run["run_type"] == "manual", run
    state = None
    while time.time() < deadline:
        rows = stack.query("airflow", "SELECT state FROM dag_run WHERE dag_id = %s AND run_type = 'manual'",
                           (dag_id,))
        state = rows[0][0] if rows else None
        if state in ("success", "failed"):
            break
        for name in ("airflow-dag-processor", "airflow-scheduler", "airflow-worker", "airflow-apiserver"):
            assert stack.running(name), f"{name} exited:\n{stack.log(name)}"
        time.sleep(0.5)
    tis = stack.query("airflow", "SELECT task_id, state, hostname, pool FROM task_instance WHERE dag_id = %s "
                                 "ORDER BY start_date", (dag_id,))
    assert state == "success", f"{dag_id} ended {state}: {tis}\nworker:\n{stack.log('airflow-worker')}"
    # the tasks ran on the Celery worker, the Jikan call inside the pool
    assert {t[1] for t in tis} == {"success"}, tis
    assert {t[3] for t in tis if t[0] == "extract"} == {"jikan_api"}, tis
    rows = stack.query("anime_dashboard", "SELECT count(*) FROM core.anime_snapshots WHERE snapshot_type = 'movies'")
    assert rows[0][0] > 0
    assert "Task airflow.providers.celery.executors.celery_executor_utils.execute_workload" in \
        stack.log("airflow-worker") or "execute_workload" in stack.log("airflow-worker")

    # every Airflow health check of docker-compose.yaml, run as compose runs it (ports re-pointed)
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                 "airflow-worker"):
        test = stack.compose["services"][name]["healthcheck"]["test"]
        if name == "airflow-triggerer":
            stack.start(name, airflow=True, **tuning)
            deadline = time.time() + 120
        cmd = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]
        cmd = [c.replace("http://localhost:8080", f"http://127.0.0.1:{stack.api_port}")
                .replace("http://localhost:8974", f"http://127.0.0.1:{sched_port}") for c in cmd]
        check_env = {**stack.env(name), **tuning,
                     "HOSTNAME": socket.gethostname() if name == "airflow-worker" else get_hostname()}
        while True:
            proc = subprocess.run(cmd, env=check_env, capture_output=True, text=True, cwd=stack.tmp, check=False,
                                  timeout=120)
            if proc.returncode == 0 or time.time() > deadline:
                break
            time.sleep(1)
        assert proc.returncode == 0, f"{name}'s health check failed: {cmd}\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}"

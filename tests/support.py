"""Helpers of the tests alone (what bench/ shares with them is in testkit/): the test server, work units of the
scheduler, Airflow services, warehouse copies, the paced replay."""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import psycopg2

from testkit.warehouse import server_params

ROOT = Path(__file__).resolve().parents[1]
# the server the tests make their databases on, as the session starts (make test: this machine's or the
# project-local one scripts/test.sh started); the warehouse_db fixture then points AIRFLOW_CONN_WAREHOUSE at a
# database of it
PG = server_params()
RUN_TOKEN = uuid.uuid4().hex[:10]  # per process: each pytest-xdist worker has its own databases, homes and keys
# Tests that are not about the rate limit run the replay's windows and the client's limiter this many times faster
# than Jikan's (3/s, 60/min); the tests marked timing (rate limit, back-off) keep the real figures.
JIKAN_PACE = 10


# modules on the compose stack (tests/compose/conftest.py): one worker runs them one after the other, in file
# order (the boot test first), on the one stack it boots (two stacks at once would share two cores between 28
# containers)
COMPOSE_STACKS = ("tests/compose/test_boot.py", "tests/compose/test_front_door.py",
                  "tests/compose/test_losing_a_container.py")


def work_unit(path: str) -> str:
    """What one pytest-xdist worker runs as a whole: a test module, all of tests/superset/ (one Superset server
    and one Chromium for the session), or the modules that boot a compose stack."""
    if path.startswith("tests/superset/"):
        return "tests/superset"
    return "tests/compose (stacks)" if path in COMPOSE_STACKS else path


def unit_seconds(nodeids, durations: dict[str, float]) -> dict[str, float]:
    """{work unit: seconds of these tests}, 1 s for a test that durations does not know."""
    units: dict[str, float] = {}
    for nodeid in nodeids:
        unit = work_unit(nodeid.split("::")[0])
        units[unit] = units.get(unit, 0.0) + durations.get(nodeid, 1.0)
    return units


def pack_work_units(units: set[str], groups: int, durations: dict[str, float]) -> dict[str, str]:
    """{unit: group name}: longest unit first onto the least loaded of ``groups`` groups."""
    load = [0.0] * max(1, min(groups, len(units)))
    placed = {}
    for unit in sorted(units, key=lambda u: (-durations.get(u, 1.0), u)):
        i = load.index(min(load))
        load[i] += durations.get(unit, 1.0)
        placed[unit] = f"group-{i}"
    return placed


def paced_replay(**kw):
    """The offline Jikan replay, scriptable, with rate windows JIKAN_PACE times Jikan's (see JIKAN_PACE)."""
    from testkit.replay import ScriptedReplay

    return ScriptedReplay(**({"rate_per_second": 3 * JIKAN_PACE, "rate_per_minute": 60 * JIKAN_PACE} | kw))


def stop_process_groups(procs: dict) -> None:
    """Stop background services started with ``start_new_session=True``: ``procs`` maps a name to
    ``(Popen, log file)``. SIGTERM to every group first, then wait; a group still alive after 30 s is killed;
    the log files are closed."""
    import signal
    import subprocess

    for proc, _ in procs.values():
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc, log in procs.values():
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


def wait_until_it_answers(url: str, proc, log_path: Path, timeout: float = 180) -> None:
    """Until GET ``url`` answers 200; fails with the end of the log when the service exits or the time is up."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, Path(log_path).read_text()[-3000:]
        time.sleep(0.5)


def local_airflow_env(tmp_path: Path, meta_db: str, port: int) -> dict[str, str]:
    """The environment for real Airflow services (api-server on ``port``, scheduler with the LocalExecutor)
    on the Postgres metadata database ``meta_db``, with this repository's DAGs and private home and logs
    under ``tmp_path``; no ``AIRFLOW__`` setting is inherited from the test session. Callers add their own."""
    import secrets

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{meta_db}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp_path / "logs"),
        **airflow_logins_env(),
    })
    return env


def airflow_logins_env() -> dict[str, str]:
    """The FAB auth manager as scripts/env.sh configures it, with a fresh strong password for each of the
    three logins (``anime-dashboard airflow-users`` makes them, after ``airflow db migrate``)."""
    import secrets

    return {
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
        "AIRFLOW__FAB__CONFIG_FILE": str(ROOT / "include" / "anime_dashboard" / "airflow_webserver_config.py"),
        **{f"ANIME_DASHBOARD_AIRFLOW_{key}_USER": user for key, user in AIRFLOW_LOGINS.items()},
        **{f"ANIME_DASHBOARD_AIRFLOW_{key}_PASSWORD": secrets.token_urlsafe(18) for key in AIRFLOW_LOGINS},
    }


AIRFLOW_LOGINS = {"ADMIN": "admin", "VIEWER": "viewer", "OP": "engineer"}  # the key of each login's settings


def trigger_dag_runs(url: str, user: str, password: str, dag_ids: list[str]) -> list[dict]:
    """One manual run of each DAG through the api-server's REST API, all requests sent at once (threads),
    as a user's client would; the DAG runs it created. Costs nothing like an `airflow dags trigger` process
    each (a CLI start-up is about 3 CPU-seconds here)."""
    from concurrent.futures import ThreadPoolExecutor

    from anime_dashboard.airflow_api import AirflowApi

    api = AirflowApi(url, user, password, timeout=60)
    with ThreadPoolExecutor(len(dag_ids)) as pool:
        return list(pool.map(api.trigger, dag_ids))


def query_db(dbname: str, sql: str, params=None) -> list[tuple]:
    """Every row of one query on a database of the test server, over a connection of its own."""
    conn = psycopg2.connect(dbname=dbname, **PG)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


WAREHOUSE_TABLES = ("raw.extract_batches, raw.jikan_pages, core.anime_snapshots, core.staged_records, core.rejects, "
                    "core.run_metrics, core.snapshots, core.titles, core.title_tags, core.list_definitions, "
                    "core.market_daily, core.list_changes, core.backups")


def empty_warehouse(conn) -> None:
    """Every warehouse table emptied (committed), list definitions included: versions start again at 1."""
    with conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {WAREHOUSE_TABLES} CASCADE")


def copy_warehouse(conn) -> dict[str, bytes]:
    """Every warehouse table's rows (COPY, binary format), for restore_warehouse."""
    import io

    copies = {}
    with conn, conn.cursor() as cur:
        for table in WAREHOUSE_TABLES.split(", "):
            buf = io.BytesIO()
            cur.copy_expert(f"COPY {table} TO STDOUT (FORMAT binary)", buf)
            copies[table] = buf.getvalue()
    return copies


def restore_warehouse(conn, copies: dict[str, bytes]) -> None:
    """The warehouse emptied, then exactly the rows of ``copies`` (copy_warehouse) put back, committed; triggers
    and foreign-key checks are off while the rows go in (they were checked when the rows were first written)."""
    import io

    empty_warehouse(conn)
    with conn, conn.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        for table, data in copies.items():
            cur.copy_expert(f"COPY {table} FROM STDIN (FORMAT binary)", io.BytesIO(data))


def migrations_before(tmp_path: Path, version: str) -> Path:
    """A directory with the project's migrations numbered below ``version``: what an older release applied."""
    import shutil

    from anime_dashboard.warehouse.db import sql_dir

    older = tmp_path / f"migrations_before_{version}"
    older.mkdir()
    for path in sorted((sql_dir() / "migrations").glob("*.sql")):
        if path.name < version:
            shutil.copy(path, older)
    return older


# charts whose figure is computed from now() (analytics.backups.age_hours): a cached copy is older than a fresh one
CHARTS_ON_THE_CLOCK = ("Newest verified backup",)


def verified_backup(conn, folder) -> None:
    """A real backup of the warehouse ``conn`` holds, verified, then a second one not verified, both in ``folder``,
    and the warehouse's mirror of them (analytics.backups) written: what the views and the dashboard show."""
    import time

    from anime_dashboard.backups.catalog import record_backups
    from anime_dashboard.backups.databases import Database
    from anime_dashboard.backups.location import BackupLocation
    from anime_dashboard.backups.take import take_backup
    from anime_dashboard.backups.verify import verify_backup

    warehouse = Database("warehouse", "postgresql", {**PG, "dbname": conn.info.dbname})
    location = BackupLocation(str(folder))
    verify_backup(location, take_backup(location, [warehouse])["backup_id"])
    time.sleep(1.1)  # backups are named by the second
    take_backup(location, [warehouse])
    record_backups(conn, location)

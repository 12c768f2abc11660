"""Superset level: a real Superset (gunicorn, its own virtualenv) on a free port, SQLite metadata in a
temporary home, the real Redis (keys under a per-run prefix), the assets imported by the same command
`make run` uses, over a warehouse loaded by real pipeline runs plus labelled synthetic history.

Started once per session (bootstrap + import take ~30 s); everything is removed at the end: the server,
its home, its Redis keys, the analyst role.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest
import redis

from anime_dashboard.snapshots import BY_NAME
from pipeline_runs import TODAY, load
from support import PG, RUN_TOKEN, empty_warehouse, paced_replay, verified_backup

HISTORY_DAYS = 14
SNAPSHOT_TYPES = ("top", "airing", "upcoming", "movies")
YESTERDAY = TODAY - timedelta(days=1)


@dataclass
class RunningSuperset:
    url: str
    client: object  # anime_dashboard.dashboards.client.SupersetClient, logged in as the admin
    analyst: object  # ... as the analyst login (role Analyst)
    service: object  # ... as the pipeline's service login (role Pipeline)
    settings: object  # anime_dashboard.dashboards.server.SupersetSettings
    cache_prefix: str
    warehouse_db: str
    database_id: int
    log_path: Path


SERVER_LOGS: list[Path] = []  # the log of the Superset serving this session's tests, while it runs
LOG_LINES = 80  # of it in a failed test's report


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test here shows the end of Superset's own log (gunicorn: worker starts and timeouts, access
    lines, tracebacks): the server is gone, its home deleted, by the time anyone reads the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and SERVER_LOGS:
        lines = SERVER_LOGS[-1].read_text(errors="replace").splitlines()[-LOG_LINES:]
        report.sections.append((f"Superset's log, last {len(lines)} lines", "\n".join(l[:400] for l in lines)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def bi_warehouse(warehouse_db, airflow_db):
    """The session's warehouse, emptied, then: real snapshots of all four types for yesterday (through the
    replay) and HISTORY_DAYS of synthetic history before that."""
    from anime_dashboard.history import generate_history

    conn = psycopg2.connect(dbname=warehouse_db, **PG)
    empty_warehouse(conn)
    with paced_replay() as replay:
        previous = os.environ["AIRFLOW_CONN_JIKAN_DEFAULT"]
        os.environ["AIRFLOW_CONN_JIKAN_DEFAULT"] = (
            f'{{"conn_type": "http", "host": "{replay.host}", "port": {replay.port}, "schema": "http"}}')
        try:
            for name in SNAPSHOT_TYPES:
                load(conn, name, f"scheduled__{YESTERDAY}T00:00:00+00:00", YESTERDAY, BY_NAME[name].dag_id)
        finally:
            os.environ["AIRFLOW_CONN_JIKAN_DEFAULT"] = previous
    generate_history(conn, end_date=YESTERDAY - timedelta(days=1), days=HISTORY_DAYS)
    conn.commit()
    with tempfile.TemporaryDirectory(prefix="ad_test_backups_") as backups:
        verified_backup(conn, backups)
        yield conn
    conn.close()


@pytest.fixture(scope="session")
def browser(playwright_api):
    """Debian's Chromium (Playwright), one for every browser test of the session; tests open their own pages or
    contexts in it."""
    from superset_browser import launch

    b = launch(playwright_api)
    yield b
    b.close()


@pytest.fixture(scope="session")
def superset(bi_warehouse, warehouse_db):
    """A running Superset with the assets imported; its settings are in os.environ for the session."""
    from anime_dashboard import cli
    from anime_dashboard.dashboards import server
    from anime_dashboard.dashboards.client import SupersetClient
    from anime_dashboard.warehouse.roles import drop_analyst_role, ensure_analyst_role

    home = Path(tempfile.mkdtemp(prefix=f"ad_superset_{RUN_TOKEN}_"))
    port = _free_port()
    prefix = f"ad_test_{RUN_TOKEN}"
    analyst = f"ad_bi_analyst_{RUN_TOKEN}"
    env = {
        "SUPERSET_SECRET_KEY": secrets.token_urlsafe(42),
        "ANIME_DASHBOARD_SUPERSET_HOME": str(home),
        "ANIME_DASHBOARD_SUPERSET_PORT": str(port),
        "ANIME_DASHBOARD_SUPERSET_HOST": "127.0.0.1",
        "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "ANIME_DASHBOARD_SUPERSET_ANALYST_USER": "analyst",
        "ANIME_DASHBOARD_SUPERSET_ANALYST_PASSWORD": secrets.token_urlsafe(18),
        "ANIME_DASHBOARD_SUPERSET_SERVICE_USER": "pipeline",
        "ANIME_DASHBOARD_SUPERSET_SERVICE_PASSWORD": secrets.token_urlsafe(18),
        "ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX": prefix,
        "ANIME_DASHBOARD_ANALYST_USER": analyst,
        "ANIME_DASHBOARD_ANALYST_PASSWORD": secrets.token_urlsafe(18),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    s = server.settings()
    ensure_analyst_role(bi_warehouse, role=analyst, password=env["ANIME_DASHBOARD_ANALYST_PASSWORD"])
    bi_warehouse.commit()
    log_path = home / "gunicorn.log"
    proc = None
    try:
        server.bootstrap(s)
        with open(log_path, "w") as log:
            proc = subprocess.Popen(server.serve_command(s, workers=1), env=server.superset_env(s),
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        SERVER_LOGS.append(log_path)
        client = SupersetClient(s.url, s.admin_user, s.admin_password)
        try:
            client.wait_healthy(120)
        except Exception:
            pytest.fail(f"Superset did not start; its log:\n{log_path.read_text()[-4000:]}")
        assert cli.main(["superset-import"]) == 0, "anime-dashboard superset-import failed"
        (database,) = [d for d in client.list_all("database", ["id", "database_name"])
                       if d["database_name"] == "AnimeDashboard warehouse"]
        yield RunningSuperset(s.url, client, SupersetClient(s.url, s.analyst_user, s.analyst_password),
                              SupersetClient(s.url, s.service_user, s.service_password), s, prefix, warehouse_db,
                              database["id"], log_path)
    finally:
        SERVER_LOGS.clear()
        if proc is not None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        r = redis.Redis.from_url(os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0"))
        keys = list(r.scan_iter(f"{prefix}_*"))
        if keys:
            r.delete(*keys)
        drop_analyst_role(bi_warehouse, analyst)
        bi_warehouse.commit()
        shutil.rmtree(home, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

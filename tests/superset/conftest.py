"""Superset level: a real Superset (gunicorn, its own virtualenv) on a free port, SQLite metadata in a
temporary home, the real Redis (keys under a per-run prefix), the assets imported by the same command
`make run` uses, over a warehouse loaded by real pipeline runs plus labelled synthetic history.

Started once per session (bootstrap + import take ~30 s); everything is removed at the end: the server,
its home, its Redis keys, the analyst role.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest

from anime_dashboard.snapshots import BY_NAME
from pipeline_runs import TODAY, load
from support import PG, RUN_TOKEN, empty_warehouse, paced_replay, verified_backup
from testkit.superset import environ, start, stop, throwaway_env

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
    from testkit.browser import launch

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
    prefix = f"ad_test_{RUN_TOKEN}"
    analyst = f"ad_bi_analyst_{RUN_TOKEN}"
    env = throwaway_env(home, prefix) | {
        "ANIME_DASHBOARD_SUPERSET_ANALYST_USER": "analyst",
        "ANIME_DASHBOARD_SUPERSET_SERVICE_USER": "pipeline",
        "ANIME_DASHBOARD_ANALYST_USER": analyst,
        "ANIME_DASHBOARD_ANALYST_PASSWORD": secrets.token_urlsafe(18),
    }
    with environ(env):
        s = server.settings()
        ensure_analyst_role(bi_warehouse, role=analyst, password=env["ANIME_DASHBOARD_ANALYST_PASSWORD"])
        bi_warehouse.commit()
        log_path = home / "gunicorn.log"
        SERVER_LOGS.append(log_path)
        proc = None
        try:
            proc, client = start(s, log_path, timeout=120)
            assert cli.main(["superset-import"]) == 0, "anime-dashboard superset-import failed"
            (database,) = [d for d in client.list_all("database", ["id", "database_name"])
                           if d["database_name"] == "AnimeDashboard warehouse"]
            yield RunningSuperset(s.url, client, SupersetClient(s.url, s.analyst_user, s.analyst_password),
                                  SupersetClient(s.url, s.service_user, s.service_password), s, prefix,
                                  warehouse_db, database["id"], log_path)
        finally:
            SERVER_LOGS.clear()
            stop(proc, prefix, home)
            drop_analyst_role(bi_warehouse, analyst)
            bi_warehouse.commit()

"""Fixtures shared by every level: a throwaway warehouse database, an Airflow home, the Jikan replay.

Real parts only: the Postgres on 127.0.0.1:5432 (user postgres, trust auth) and the offline Jikan
replay over HTTP on loopback. Each test session makes its own databases and drops them at the end.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from support import PG, ROOT, RUN_TOKEN, create_database, drop_database, pg_uri


def pytest_unconfigure(config):
    import shutil

    if os.environ.get("AIRFLOW_HOME", "").endswith(f"ad_airflow_{RUN_TOKEN}"):
        shutil.rmtree(os.environ["AIRFLOW_HOME"], ignore_errors=True)


def pytest_configure(config):
    """Point Airflow at a private home and SQLite metadata DB before anything imports it."""
    home = Path(os.environ.get("ANIME_DASHBOARD_TEST_TMP", "/tmp")) / f"ad_airflow_{RUN_TOKEN}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # tests pace at Jikan's 3 requests/s and back off briefly; the defaults are 1 s and 2 s
        "ANIME_DASHBOARD_JIKAN_MIN_INTERVAL": "0.34",
        "ANIME_DASHBOARD_JIKAN_BACKOFF_BASE": "0.05",
        "ANIME_DASHBOARD_JIKAN_BACKOFF_MAX": "2",
    })
    # a placeholder that fails loudly if a test forgets the replay fixture
    os.environ["AIRFLOW_CONN_JIKAN_DEFAULT"] = json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": 9, "schema": "http"})


@pytest.fixture(scope="session")
def warehouse_db():
    """A fresh warehouse database with every migration and the analytics views applied;
    AIRFLOW_CONN_WAREHOUSE points at it."""
    try:
        name = create_database("ad_test_wh")
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG['host']}:{PG['port']} is not reachable ({exc}); start it "
                    "(see README prerequisites)")
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = pg_uri(name)
    from anime_dashboard.analytics import apply_analytics
    from anime_dashboard.warehouse.migrations import apply_migrations

    conn = psycopg2.connect(dbname=name, **PG)
    try:
        apply_migrations(conn)
        apply_analytics(conn)
    finally:
        conn.close()
    yield name
    drop_database(name)


@pytest.fixture
def warehouse(warehouse_db):
    """A connection to an empty warehouse (every table truncated before the test)."""
    conn = psycopg2.connect(dbname=warehouse_db, **PG)
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE raw.extract_batches, raw.jikan_pages, core.anime_snapshots, "
                    "core.staged_records, core.rejects, core.run_metrics, core.snapshots, core.titles, "
                    "core.title_tags CASCADE")
    yield conn
    conn.close()


@pytest.fixture
def replay(monkeypatch):
    """The offline Jikan replay on a free loopback port; jikan_default points at it."""
    from anime_dashboard.jikan.replay import JikanReplay

    with JikanReplay() as server:
        monkeypatch.setenv("AIRFLOW_CONN_JIKAN_DEFAULT", json.dumps(
            {"conn_type": "http", "host": server.host, "port": server.port, "schema": "http"}))
        yield server


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (SQLite in the private AIRFLOW_HOME), migrated once per session."""
    result = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True,
                            text=True, env=os.environ.copy())
    assert result.returncode == 0, f"airflow db migrate failed:\n{result.stdout}\n{result.stderr}"
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture(scope="session")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags

"""Fixtures shared by every level: a throwaway warehouse database, an Airflow home, the Jikan replay.

Real parts only: the PostgreSQL server of AIRFLOW_CONN_WAREHOUSE (user postgres, trust auth: this machine's on
127.0.0.1:5432, or the project-local one scripts/test.sh starts where none runs) and the offline Jikan replay over
HTTP on loopback. Each test session makes its own databases and drops them at the end.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from support import (JIKAN_PACE, PG, ROOT, RUN_TOKEN, empty_warehouse, pack_work_units, paced_replay, unit_seconds,
                     work_unit)
from testkit.redis import delete_keys, redis_client, redis_url
from testkit.warehouse import create_database, drop_database, migrate, pg_uri


JIKAN_LIMITER_PREFIX = f"ad_test_{RUN_TOKEN}:jikan"  # every Redis key of this run's Jikan limiters


def drop_jikan_limiter_keys() -> None:
    """Remove this run's Jikan limiter keys (they also expire a minute after their last request)."""
    delete_keys(f"{JIKAN_LIMITER_PREFIX}:*")


def pytest_report_header(config):
    """The servers this run's tests talk to (this machine's, or the project-local ones scripts/test.sh started)."""
    try:
        with psycopg2.connect(dbname="postgres", connect_timeout=5, **PG) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            postgres = f"PostgreSQL {cur.fetchone()[0].split()[0]}"
        conn.close()
    except psycopg2.Error as exc:
        postgres = f"no PostgreSQL ({str(exc).strip().splitlines()[0]})"
    try:
        r = redis_client()
        redis_version = f"Redis {r.info('server')['redis_version']}"
        r.close()
    except Exception as exc:  # noqa: BLE001 - the header reports, the fixtures fail
        redis_version = f"no Redis ({exc})"
    return f"servers: {postgres} at {PG['host']}:{PG['port']}, {redis_version} at {redis_url()}"


def pytest_unconfigure(config):
    import shutil

    if os.environ.get("AIRFLOW_HOME", "").endswith(f"ad_airflow_{RUN_TOKEN}"):
        shutil.rmtree(os.environ["AIRFLOW_HOME"], ignore_errors=True)
    drop_jikan_limiter_keys()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (`make test` runs three workers) each worker takes whole work units (support.work_unit: a
    module, or all of tests/superset/ so that one Superset and one Chromium serve every browser test), packed
    before the run into one group per worker: longest unit first, each onto the group with the least time so far
    (the seconds of its selected tests in tests/durations.json, 1 s for a test missing from it, so that
    `make test-fast` and a -k selection are packed by what they run). xdist's own queue hands every worker two units
    up front and more as it runs low, which put the three longest units on one worker."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                collection = next(iter(self.registered_collections.values()))
                units = unit_seconds(collection, load_durations())
                self.groups = pack_work_units(set(units), self.numnodes, units)
            return self.groups[work_unit(nodeid.split("::")[0])]

    return WorkUnitScheduling(config, log)


def load_durations() -> dict[str, float]:
    """{test node id: seconds} of the last `make bench-tests` (tests/durations.json)."""
    path = ROOT / "tests" / "durations.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: the order is by what runs
def pytest_collection_modifyitems(config, items):
    """scripts/test.sh runs the suite in two passes (ANIME_DASHBOARD_TEST_PASS): `parallel`, on the xdist
    workers, everything but the tests marked `timing`, then `timing`, those alone in one process, so that the
    other workers' load cannot stretch the waits they measure. On a worker, the longest work units first
    (the sums of their tests' seconds in tests/durations.json, written by `make bench-tests`).
    Order within a unit is kept."""
    test_pass = os.environ.get("ANIME_DASHBOARD_TEST_PASS")
    if test_pass in ("parallel", "timing"):
        timing = {item.nodeid: item.get_closest_marker("timing") is not None for item in items}
        config.hook.pytest_deselected(items=[item for item in items if timing[item.nodeid] != (test_pass == "timing")])
        items[:] = [item for item in items if timing[item.nodeid] == (test_pass == "timing")]
    if not hasattr(config, "workerinput"):
        return
    units = unit_seconds([item.nodeid for item in items], load_durations())
    items.sort(key=lambda item: -units[work_unit(item.nodeid.split("::")[0])])


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
        # this run's own: a backup taken by a test never reads a developer's .superset or writes their .backups
        "ANIME_DASHBOARD_SUPERSET_HOME": str(home / "superset"),
        "ANIME_DASHBOARD_BACKUP_URL": str(home / "backups"),
        # the limiter's real windows (2 starts in any 1 s, 58 in any 60 s, shared through the real Redis under
        # this run's own key) JIKAN_PACE times faster, as the replay's (support.paced_replay); tests of the rate
        # limit itself set Jikan's real figures (marker timing). Back-offs are short.
        "ANIME_DASHBOARD_JIKAN_MIN_INTERVAL": "0",
        "ANIME_DASHBOARD_JIKAN_PER_SECOND": str(2 * JIKAN_PACE),
        "ANIME_DASHBOARD_JIKAN_PER_MINUTE": str(58 * JIKAN_PACE),
        "ANIME_DASHBOARD_JIKAN_LIMITER_KEY": f"{JIKAN_LIMITER_PREFIX}:starts",
        "ANIME_DASHBOARD_JIKAN_BACKOFF_BASE": "0.05",
        "ANIME_DASHBOARD_JIKAN_BACKOFF_MAX": "2",
    })
    # a placeholder that fails loudly if a test forgets the replay fixture
    os.environ["AIRFLOW_CONN_JIKAN_DEFAULT"] = json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": 9, "schema": "http"})


@pytest.fixture(scope="session")
def playwright_api():
    """Playwright's sync API, started once per test process (a second one in the same process refuses to start):
    every browser test launches its Chromium from it (testkit.browser.launch)."""
    from playwright.sync_api import sync_playwright

    from testkit.browser import CHROMIUM

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Debian's chromium is not installed at {CHROMIUM}: `apt-get install chromium` "
                    "(make install does it when it can); the browser tests need it")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def warehouse_db():
    """A fresh warehouse database with every migration and the analytics views applied;
    AIRFLOW_CONN_WAREHOUSE points at it."""
    try:
        name = create_database(f"ad_test_wh_{RUN_TOKEN}")
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG['host']}:{PG['port']} is not reachable ({exc}); start it "
                    "(see README prerequisites)")
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = pg_uri(name)
    conn = psycopg2.connect(dbname=name, **PG)
    try:
        migrate(conn)
    finally:
        conn.close()
    yield name
    drop_database(name)


@pytest.fixture
def warehouse(warehouse_db):
    """A connection to an empty warehouse (every table truncated before the test)."""
    conn = psycopg2.connect(dbname=warehouse_db, **PG)
    empty_warehouse(conn)
    yield conn
    conn.close()


@pytest.fixture
def jikan_limiter_key():
    """A Redis key of its own for a Jikan rate limiter (deleted afterwards)."""
    import uuid

    key = f"{JIKAN_LIMITER_PREFIX}:{uuid.uuid4().hex[:8]}"
    yield key
    delete_keys(key)  # nothing if Redis went away: the key expires a minute after its last request anyway


@pytest.fixture
def replay(request, monkeypatch, jikan_limiter_key):
    """The offline Jikan replay on a free loopback port; jikan_default points at it, and the clients
    built from the environment share a limiter key of their own, whose windows start empty like the
    replay's. Its rate windows are JIKAN_PACE times Jikan's, except for tests marked timing (Jikan's own)."""
    from testkit.replay import ScriptedReplay

    real_pace = request.node.get_closest_marker("timing") is not None
    if real_pace:  # and the limiter's production windows
        monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_PER_SECOND", "2")
        monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_PER_MINUTE", "58")
    with (ScriptedReplay() if real_pace else paced_replay()) as server:
        monkeypatch.setenv("AIRFLOW_CONN_JIKAN_DEFAULT", json.dumps(
            {"conn_type": "http", "host": server.host, "port": server.port, "schema": "http"}))
        monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_LIMITER_KEY", jikan_limiter_key)
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

"""`anime-dashboard setup`, the main job's setup step: warehouse, analytics views and analyst role."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys

import psycopg2
import pytest

from support import PG, RUN_TOKEN
from testkit.warehouse import drop_database, drop_role, pg_uri


@pytest.fixture
def fresh_target(airflow_db):
    """A database name that does not exist yet and a role name unique to this run; both removed after."""
    name, role = f"ad_test_setup_{RUN_TOKEN}", f"ad_setup_analyst_{RUN_TOKEN}"
    env = os.environ.copy()
    env.update({"AIRFLOW_CONN_WAREHOUSE": pg_uri(name), "ANIME_DASHBOARD_ANALYST_USER": role,
                "ANIME_DASHBOARD_ANALYST_PASSWORD": secrets.token_urlsafe(16)})
    yield name, role, env
    drop_database(name)
    drop_role(role)


def setup(env):
    return subprocess.run([sys.executable, "-m", "anime_dashboard.cli", "setup"], env=env, capture_output=True,
                          text=True, timeout=300)


def test_setup_builds_the_warehouse_views_and_a_role_that_reads_only_analytics(fresh_target):
    name, role, env = fresh_target
    first = setup(env)
    assert first.returncode == 0, first.stderr
    said = first.stdout + first.stderr
    assert "analytics views rebuilt" in said and f"analyst role {role}" in said
    with psycopg2.connect(dbname=name, **PG) as owner, owner.cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'analytics' AND c.relkind IN ('v', 'm') ORDER BY 1")
        views = [r[0] for r in cur.fetchall()]
    owner.close()
    assert {"overview", "movers", "list_changes", "pipeline_runs", "genre_distribution"} <= set(views)
    analyst = psycopg2.connect(dbname=name, host=PG["host"], port=PG["port"], user=role)
    try:
        with analyst.cursor() as cur:
            for view in views:
                cur.execute(f"SELECT count(*) FROM analytics.{view}")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT count(*) FROM core.anime_snapshots")
    finally:
        analyst.close()

    again = setup(env)  # idempotent: nothing to apply, nothing rebuilt
    assert again.returncode == 0, again.stderr
    said = again.stdout + again.stderr
    assert "none (up to date)" in said and "analytics views up to date" in said


def test_setup_without_an_analyst_password_says_how_to_get_one(fresh_target):
    _, _, env = fresh_target
    env.pop("ANIME_DASHBOARD_ANALYST_PASSWORD")
    out = setup(env)
    assert out.returncode == 2
    assert "ANIME_DASHBOARD_ANALYST_PASSWORD is not set" in out.stderr and ".env" in out.stderr

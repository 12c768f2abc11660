"""The pipeline's steps on their own: atomic extract, rerunnable validate/upsert, migrations, setup checks."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from anime_dashboard import pipeline
from anime_dashboard.jikan.client import JikanRequestError
from testkit.replay_faults import Fault
from anime_dashboard.snapshots import BY_NAME
from anime_dashboard.warehouse.migrations import MigrationError, apply_migrations
from pipeline_runs import TODAY, extract_and_validate, fast_client, load



MOVIES = 117  # the corpus's movies: all within the list's 200


def count(conn, table):
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def test_an_extract_that_gives_up_lands_nothing(warehouse, replay):
    replay.script(Fault(kind="status", status=500, match_page=2), Fault(kind="status", status=500, match_page=2),
                  Fault(kind="status", status=500, match_page=2))
    with pytest.raises(JikanRequestError):
        pipeline.extract(BY_NAME["airing"], conn=warehouse, dag_id="d", run_id="r", snapshot_date=TODAY,
                         client=fast_client())
    # page 1 had been fetched, but a batch is written whole or not at all
    assert count(warehouse, "raw.extract_batches") == 0 and count(warehouse, "raw.jikan_pages") == 0


def test_the_extract_reports_its_progress_after_each_page(warehouse, replay):
    seen = []
    ref = pipeline.extract(BY_NAME["movies"], conn=warehouse, dag_id="d", run_id="r", snapshot_date=TODAY,
                           client=fast_client(), on_page=seen.append)
    pages = ref["pages"]
    assert [p["pages"] for p in seen] == list(range(1, pages + 1))
    assert all(p["of"] == pages for p in seen)  # Jikan's last page, within the cap of 8
    assert seen[-1]["records"] == ref["received"] == MOVIES and seen[0]["records"] == 25


def test_validate_and_upsert_rerun_without_calling_jikan_and_change_nothing(warehouse, replay):
    ref = pipeline.extract(BY_NAME["movies"], conn=warehouse, dag_id="d", run_id="r", snapshot_date=TODAY,
                           client=fast_client())
    requests = len(replay.log)
    first = pipeline.validate(ref["batch_id"], conn=warehouse, max_reject_share=0.05)
    again = pipeline.validate(ref["batch_id"], conn=warehouse, max_reject_share=0.05)
    assert first == again and count(warehouse, "core.staged_records") == first["valid"] == MOVIES
    assert pipeline.upsert(ref["batch_id"], conn=warehouse, run_id="r")["inserted"] == MOVIES
    rerun = pipeline.upsert(ref["batch_id"], conn=warehouse, run_id="r")
    assert (rerun["inserted"], rerun["updated"], rerun["removed"]) == (0, MOVIES, 0)
    assert count(warehouse, "core.anime_snapshots") == MOVIES and count(warehouse, "core.run_metrics") == 1
    assert len(replay.log) == requests  # neither step called Jikan


def test_a_rerun_with_a_shorter_list_replaces_the_days_snapshot(warehouse, replay):
    load(warehouse, "movies", "r1")
    replay.script(Fault(kind="mutate", match_page=1,
                        mutate=lambda env: {**env, "data": env["data"][:20],
                                            "pagination": {**env["pagination"], "has_next_page": False}}))
    result = load(warehouse, "movies", "r2")
    assert (result["inserted"], result["updated"], result["removed"]) == (0, 20, MOVIES - 20)
    assert count(warehouse, "core.anime_snapshots") == 20


def test_an_empty_answer_fails_validate_instead_of_emptying_the_snapshot(warehouse, replay):
    replay.script(Fault(kind="mutate", mutate=lambda env: {**env, "data": [],
                                                           "pagination": {**env["pagination"], "has_next_page": False}}))
    ref = pipeline.extract(BY_NAME["upcoming"], conn=warehouse, dag_id="d", run_id="r", snapshot_date=TODAY,
                           client=fast_client())
    with pytest.raises(pipeline.EmptySnapshot):
        pipeline.validate(ref["batch_id"], conn=warehouse, max_reject_share=0.05)


def test_migrations_apply_once_and_refuse_an_edited_file(warehouse, tmp_path):
    assert apply_migrations(warehouse) == []  # the session already applied them all
    with warehouse.cursor() as cur:
        cur.execute("SELECT filename FROM public.schema_migrations ORDER BY version")
        applied = [r[0] for r in cur.fetchall()]
    sql_dir = Path(__file__).resolve().parents[2] / "sql" / "migrations"
    assert applied == sorted(p.name for p in sql_dir.glob("*.sql"))
    edited = tmp_path / "migrations"
    edited.mkdir()
    for p in sql_dir.glob("*.sql"):
        (edited / p.name).write_text(p.read_text() + ("\n-- edited" if p.name.startswith("001") else ""))
    with pytest.raises(MigrationError, match="001_schemas.sql was applied with other contents"):
        apply_migrations(warehouse, edited)


def test_setup_check_names_the_configured_servers_that_do_not_answer_and_says_what_to_do():
    env, password = os.environ.copy(), secrets.token_hex(8)
    env["AIRFLOW_CONN_WAREHOUSE"] = f"postgresql://postgres:{password}@127.0.0.1:1/anime_dashboard"
    env["ANIME_DASHBOARD_REDIS_URL"] = "redis://127.0.0.1:1/0"
    out = subprocess.run([sys.executable, "-m", "anime_dashboard.cli", "check"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1
    assert "the warehouse does not answer at postgresql://postgres:***@127.0.0.1:1/anime_dashboard" in out.stderr
    assert password not in out.stderr and "start that server or fix the URL" in out.stderr
    assert "Redis does not answer at redis://127.0.0.1:1/0" in out.stderr
    ok = subprocess.run([sys.executable, "-m", "anime_dashboard.cli", "check"], env=os.environ.copy(),
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr


def test_an_upsert_that_fails_midway_leaves_snapshot_and_metrics_as_they_were(warehouse, replay):
    load(warehouse, "upcoming", "r1")
    with warehouse.cursor() as cur:
        cur.execute("SELECT * FROM core.anime_snapshots ORDER BY mal_id")
        before = cur.fetchall()
        cur.execute("SELECT * FROM core.run_metrics")
        metrics_before = cur.fetchall()
    batch_id = extract_and_validate(warehouse, "upcoming", "r2")
    with warehouse, warehouse.cursor() as cur:  # one staged row the table refuses (title NOT NULL)
        cur.execute("UPDATE core.staged_records SET title = NULL "
                    "WHERE batch_id = %s AND list_position = 25", (batch_id,))
    import psycopg2

    with pytest.raises(psycopg2.errors.NotNullViolation):
        pipeline.upsert(batch_id, conn=warehouse, run_id="r2")
    with warehouse.cursor() as cur:
        cur.execute("SELECT * FROM core.anime_snapshots ORDER BY mal_id")
        assert cur.fetchall() == before  # the 24 rows before it were rolled back too
        cur.execute("SELECT * FROM core.run_metrics")
        assert cur.fetchall() == metrics_before

"""List definitions: every snapshot records the query and page cap it was fetched with, history views never
compare snapshots of two definitions, and a deployment upgraded past migration 007 keeps its old snapshots
without a spike on the day its lists' definitions changed."""
from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest

from anime_dashboard import pipeline
from anime_dashboard.analytics import apply_analytics
from anime_dashboard.history import generate_history, load_corpus
from anime_dashboard.snapshots import BY_NAME
from anime_dashboard.warehouse.migrations import apply_migrations
from pipeline_runs import TODAY, fast_client
from support import migrations_before, paced_replay
from testkit.warehouse import pg_uri, scratch_database

YESTERDAY = TODAY - timedelta(days=1)
# the first release's airing list: popularity rank, descending, 4 pages
FIRST_RELEASE_AIRING = dataclasses.replace(BY_NAME["airing"], params={"status": "airing", "order_by": "popularity",
                                                             "sort": "desc"}, max_pages=4)


def fetch(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def load(conn, snapshot, day, run_id):
    ref = pipeline.extract(snapshot, conn=conn, dag_id=snapshot.dag_id, run_id=run_id, snapshot_date=day,
                           client=fast_client())
    pipeline.validate(ref["batch_id"], conn=conn, max_reject_share=0.05)
    return pipeline.upsert(ref["batch_id"], conn=conn, run_id=run_id)


def catalog(conn, snapshot_type):
    return fetch(conn, "SELECT snapshot_date, definition_version, definition_query, definition_max_pages, "
                       "definition_since, previous_snapshot_date FROM analytics.snapshot_catalog "
                       "WHERE snapshot_type = %s ORDER BY snapshot_date", (snapshot_type,))


def test_each_batch_and_snapshot_records_its_definition_and_a_new_query_or_cap_is_the_next_version(
        warehouse, replay):
    airing = BY_NAME["airing"]
    load(warehouse, airing, YESTERDAY, "a")
    load(warehouse, airing, YESTERDAY, "a-rerun")  # the same definition: the same version
    fewer_pages = dataclasses.replace(airing, max_pages=1)
    load(warehouse, fewer_pages, TODAY, "b")
    assert fetch(warehouse, "SELECT snapshot_type, version, query, max_pages FROM core.list_definitions "
                            "ORDER BY version") == [("airing", 1, airing.params, 20), ("airing", 2, airing.params, 1)]
    assert fetch(warehouse, "SELECT b.run_id, b.max_pages, d.version FROM raw.extract_batches b "
                            "JOIN core.list_definitions d USING (definition_id) ORDER BY b.batch_id") == [
        ("a", 20, 1), ("a-rerun", 20, 1), ("b", 1, 2)]
    assert catalog(warehouse, "airing") == [
        (YESTERDAY, 1, "order_by=members&sort=desc&status=airing", 20, YESTERDAY, None),
        (TODAY, 2, "order_by=members&sort=desc&status=airing", 1, TODAY, None)]  # nothing comparable before it
    # today's snapshot fetched again with the first definition: nothing changed between the two days any more
    load(warehouse, airing, TODAY, "c")
    assert catalog(warehouse, "airing")[1] == (TODAY, 1, "order_by=members&sort=desc&status=airing", 20,
                                               YESTERDAY, YESTERDAY)


@pytest.fixture
def upgraded(warehouse, replay):
    """An airing list fetched with the first release's definition yesterday, 10 synthetic days built back from it, and
    today's with the current one (members, most first)."""
    load(warehouse, FIRST_RELEASE_AIRING, YESTERDAY, "seed")
    generate_history(warehouse, end_date=YESTERDAY - timedelta(days=1), days=10)
    load(warehouse, BY_NAME["airing"], TODAY, "now")
    return warehouse


def test_the_first_snapshot_of_a_new_definition_has_no_previous_in_movers_and_no_list_changes(upgraded):
    conn = upgraded
    old, new = ("order_by=popularity&sort=desc&status=airing", 4), ("order_by=members&sort=desc&status=airing", 20)
    rows = catalog(conn, "airing")
    assert len(rows) == 12
    # the synthetic days carry the definition of the real snapshot they were built from
    assert {(v, q, p) for _, v, q, p, _, _ in rows[:-1]} == {(1, *old)} and rows[-1][1:4] == (2, *new)
    assert rows[-1][4:] == (TODAY, None) and rows[-2][4:] == (TODAY - timedelta(days=11), TODAY - timedelta(days=2))
    movers = fetch(conn, "SELECT previous_date, position_change, rank_change, score_change, members_change, "
                         "week_ago_date, members_change_7d, month_ago_date FROM analytics.movers "
                         "WHERE snapshot_type = 'airing'")
    assert len(movers) == 36 and set(movers) == {(None,) * 8}
    changes = dict(fetch(conn, "SELECT snapshot_date, count(*) FROM analytics.list_changes "
                               "WHERE snapshot_type = 'airing' GROUP BY 1"))
    assert TODAY not in changes  # the least-followed first vs the most-followed first: not 36 moves


def test_market_daily_puts_each_definition_in_its_own_series(upgraded):
    series = fetch(upgraded, "SELECT list_version, definition_version, count(*), max(snapshot_date) "
                             "FROM analytics.market_daily WHERE snapshot_type = 'airing' GROUP BY 1, 2 ORDER BY 1")
    assert series == [("airing v1", 1, 11, YESTERDAY), ("airing v2", 2, 1, TODAY)]
    versions = fetch(upgraded, "SELECT DISTINCT snapshot_date = %s, definition_version FROM analytics.title_history "
                               "WHERE snapshot_type = 'airing'", (TODAY,))
    assert sorted(versions) == [(False, 1), (True, 2)]


def test_a_week_ago_comparison_stays_within_the_definition(warehouse, replay):
    airing = BY_NAME["airing"]
    load(warehouse, airing, TODAY, "now")
    generate_history(warehouse, end_date=YESTERDAY, days=40)  # the current definition, 40 days back
    (week, month, changed), = fetch(warehouse, "SELECT DISTINCT week_ago_date, month_ago_date, "
                                               "members_change_30d IS NOT NULL FROM analytics.movers "
                                               "WHERE snapshot_type = 'airing' AND position_change_30d IS NOT NULL")
    assert (week, month, changed) == (TODAY - timedelta(days=7), TODAY - timedelta(days=30), True)
    # the same history under another definition 20 days ago: the 30-day comparison has nothing to compare with
    with warehouse, warehouse.cursor() as cur:
        cur.execute("UPDATE core.snapshots SET definition_id = core.list_definition('airing', %s, 4) "
                    "WHERE snapshot_type = 'airing' AND snapshot_date <= %s",
                    (json.dumps(FIRST_RELEASE_AIRING.params), TODAY - timedelta(days=20)))
    assert fetch(warehouse, "SELECT DISTINCT week_ago_date, month_ago_date, members_change_30d FROM analytics.movers "
                            "WHERE snapshot_type = 'airing'") == [(TODAY - timedelta(days=7), None, None)]


def test_a_deployment_upgraded_past_007_and_008_keeps_its_snapshots_with_the_first_releases_definitions_and_their_history(tmp_path):
    """Migration 007 on a warehouse the previous release filled: real batches (the first release's queries, caps not
    recorded) and synthetic history (no batch) get the definitions they were fetched with."""
    before = migrations_before(tmp_path, "007")
    corpus = [rec for _, rec in load_corpus()]
    with scratch_database("ad_test_m007") as (name, conn):
        assert apply_migrations(conn, before)[-1] == "006_typed_staging.sql"
        now = datetime.now(timezone.utc)
        seed = {"top": {"status": "complete", "order_by": "score", "sort": "desc"},
                "airing": {"status": "airing", "order_by": "popularity", "sort": "desc"}}
        with conn, conn.cursor() as cur:  # what the previous release stored
            for day in (YESTERDAY - timedelta(days=1), YESTERDAY):
                for snapshot_type, query in seed.items():
                    cur.execute("INSERT INTO raw.extract_batches (dag_id, run_id, snapshot_type, snapshot_date, "
                                "query, started_at, finished_at) VALUES ('d', 'old', %s, %s, %s, %s, %s) "
                                "RETURNING batch_id", (snapshot_type, day, json.dumps(query), now, now))
                    batch_id = cur.fetchone()[0]
                    for pos, rec in enumerate(corpus[:5], start=1):
                        cur.execute("INSERT INTO core.anime_snapshots (snapshot_type, snapshot_date, mal_id, "
                                    "list_position, title, members, payload, batch_id, run_id) VALUES "
                                    "(%s, %s, %s, %s, %s, %s, '{}', %s, 'old')",
                                    (snapshot_type, day, rec.mal_id, pos, rec.title, rec.members, batch_id))
                    cur.execute("SELECT core.refresh_snapshot(%s, %s)", (snapshot_type, day))
                # synthetic history of a list that never had a real batch
                cur.execute("INSERT INTO core.anime_snapshots (snapshot_type, snapshot_date, mal_id, list_position, "
                            "title, payload, run_id, synthetic) VALUES ('upcoming', %s, 1, 1, 'x', '{}', "
                            "'synthetic:history-generator', true)", (day,))
                cur.execute("SELECT core.refresh_snapshot('upcoming', %s)", (day,))
        stored = fetch(conn, "SELECT * FROM core.anime_snapshots ORDER BY 1, 2, 3")

        assert apply_migrations(conn) == ["007_list_definitions.sql", "008_history_upkeep.sql", "009_backups.sql"]
        assert fetch(conn, "SELECT snapshot_type, version, query, max_pages FROM core.list_definitions "
                           "ORDER BY 1") == [
            ("airing", 1, seed["airing"], 4), ("top", 1, seed["top"], 8),
            ("upcoming", 1, {"status": "upcoming", "order_by": "popularity", "sort": "desc"}, 4)]
        assert fetch(conn, "SELECT count(*), count(definition_id), count(DISTINCT max_pages) "
                           "FROM raw.extract_batches") == [(4, 4, 2)]
        assert fetch(conn, "SELECT c.snapshot_type, count(*), bool_and(c.definition_id = d.definition_id) "
                           "FROM core.snapshots c JOIN core.list_definitions d USING (snapshot_type) "
                           "GROUP BY 1 ORDER BY 1") == [("airing", 2, True), ("top", 2, True), ("upcoming", 2, True)]
        assert fetch(conn, "SELECT * FROM core.anime_snapshots ORDER BY 1, 2, 3") == stored
        # 008 filled the history tables from what was stored (two days of top and airing: one comparison each)
        assert fetch(conn, "SELECT snapshot_type, count(*) FROM core.market_daily GROUP BY 1 ORDER BY 1") == [
            ("airing", 2), ("top", 2), ("upcoming", 2)]
        assert fetch(conn, "SELECT * FROM core.list_changes ORDER BY 1, 2, 5") == fetch(
            conn, "SELECT * FROM core.list_changes_computed ORDER BY 1, 2, 5")

        # the first load after the upgrade: the current definition is version 2, compared with nothing
        apply_analytics(conn)
        with paced_replay() as replay, pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIRFLOW_CONN_WAREHOUSE", pg_uri(name))
            mp.setenv("AIRFLOW_CONN_JIKAN_DEFAULT", json.dumps(
                {"conn_type": "http", "host": replay.host, "port": replay.port, "schema": "http"}))
            mp.setenv("ANIME_DASHBOARD_JIKAN_LIMITER_KEY", os.environ["ANIME_DASHBOARD_JIKAN_LIMITER_KEY"] + ":m7")
            load(conn, BY_NAME["airing"], TODAY, "new")
        assert [r[:2] for r in catalog(conn, "airing")] == [(YESTERDAY - timedelta(days=1), 1), (YESTERDAY, 1),
                                                              (TODAY, 2)]
        assert fetch(conn, "SELECT snapshot_date, count(*) FROM analytics.list_changes "
                           "WHERE snapshot_type = 'airing' GROUP BY 1") == []  # the two old days list the same
        assert fetch(conn, "SELECT DISTINCT previous_date FROM analytics.movers WHERE snapshot_type = 'airing'") == [
            (None,)]


def test_migration_007_refuses_synthetic_snapshots_whose_definition_it_cannot_know(tmp_path):
    before = migrations_before(tmp_path, "007")
    with scratch_database("ad_test_m007") as (name, conn):
        apply_migrations(conn, before)
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO core.anime_snapshots (snapshot_type, snapshot_date, mal_id, list_position, "
                        "title, payload, run_id, synthetic) VALUES ('ova', %s, 1, 1, 'x', '{}', 'h', true)",
                        (TODAY,))
            cur.execute("SELECT core.refresh_snapshot('ova', %s)", (TODAY,))
        with pytest.raises(psycopg2.errors.RaiseException, match="type ova without an extract batch"):
            apply_migrations(conn)
        conn.rollback()
        assert fetch(conn, "SELECT max(version) FROM public.schema_migrations") == [("006",)]

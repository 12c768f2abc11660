"""Whole DAG runs (``dag.test()``) against the offline replay and a real Postgres warehouse."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from testkit.replay_faults import Fault
from anime_dashboard.snapshots import SNAPSHOT_TYPES

BUSINESS_COLUMNS = ("snapshot_type, snapshot_date, mal_id, list_position, title, type, status, score, rank, "
                    "popularity, members, favorites, season, year, genres, themes, demographics, studios, "
                    "aired_from, episodes, payload")


def run(dag, when: datetime | None = None):
    dag_run = dag.test(logical_date=when or datetime.now(timezone.utc))
    return dag_run


def served(replay) -> tuple[set[int], int]:
    """Distinct mal_ids the replay served in successful /v4/anime responses, and how many such pages."""
    ok = [e for e in replay.log if e["path"] == "/v4/anime" and e["status"] == 200 and not e["fault"]]
    return {m for e in ok for m in e["mal_ids"]}, len(ok)


def fetch(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def snapshot_rows(conn, snapshot_type):
    return fetch(conn, f"SELECT {BUSINESS_COLUMNS} FROM core.anime_snapshots WHERE snapshot_type = %s "
                       "ORDER BY snapshot_date, mal_id", (snapshot_type,))


def metrics(conn, dag_id):
    return fetch(conn, "SELECT pages, received, distinct_records, inserted, updated, rejected, duplicates, "
                       "outcome FROM core.run_metrics WHERE dag_id = %s ORDER BY finished_at", (dag_id,))


@pytest.mark.parametrize("snapshot", SNAPSHOT_TYPES, ids=lambda s: s.dag_id)
def test_a_run_loads_exactly_the_distinct_valid_objects_served_and_a_rerun_changes_nothing(
        dags, warehouse, replay, snapshot):
    dag = dags[snapshot.dag_id]
    first = run(dag)
    assert first.state == "success"
    mal_ids, pages = served(replay)
    assert mal_ids, "the replay served nothing"
    rows = snapshot_rows(warehouse, snapshot.name)
    assert {r[2] for r in rows} == mal_ids and len(rows) == len(mal_ids)
    assert {r[1] for r in rows} == {datetime.now(timezone.utc).date()}
    # the raw table holds every page the replay served, as received
    raw_pages = fetch(warehouse, "SELECT p.page, jsonb_array_length(p.body->'data') FROM raw.jikan_pages p "
                                 "JOIN raw.extract_batches b USING (batch_id) WHERE b.dag_id = %s ORDER BY 1",
                      (snapshot.dag_id,))
    assert len(raw_pages) == pages
    assert [m[:6] for m in metrics(warehouse, snapshot.dag_id)] == [
        (pages, sum(n for _, n in raw_pages), len(mal_ids), len(mal_ids), 0, 0)]

    second = run(dag)
    assert second.state == "success"
    assert snapshot_rows(warehouse, snapshot.name) == rows  # identical snapshot
    latest = metrics(warehouse, snapshot.dag_id)[-1]
    assert latest[3:5] == (0, len(mal_ids))  # nothing inserted, every row counted as an update
    assert fetch(warehouse, "SELECT count(*) FROM raw.jikan_pages")[0][0] == 2 * pages


def test_invalid_records_land_in_rejects_with_their_errors(dags, warehouse, replay):
    def drift(envelope):
        envelope = copy.deepcopy(envelope)
        envelope["data"][3]["members"] = "lots"
        return envelope

    replay.script(Fault(kind="mutate", mutate=drift))
    assert run(dags["jikan_upcoming"]).state == "success"
    mal_ids, _ = served(replay)
    bad_id = replay.log[0]["mal_ids"][3]
    rejects = fetch(warehouse, "SELECT mal_id, errors, payload->>'members' FROM core.rejects")
    assert len(rejects) == 1 and rejects[0][0] == bad_id and rejects[0][2] == "lots"
    assert rejects[0][1][0]["loc"] == "members"
    stored = {r[2] for r in snapshot_rows(warehouse, "upcoming")}
    assert stored == set(replay.log[0]["mal_ids"]) - {bad_id}
    assert metrics(warehouse, "jikan_upcoming")[0][5] == 1


def test_too_many_rejects_fail_the_run_and_leave_the_snapshot_as_it_was(dags, warehouse, replay):
    assert run(dags["jikan_upcoming"]).state == "success"
    before = snapshot_rows(warehouse, "upcoming")

    def break_three(envelope):
        envelope = copy.deepcopy(envelope)
        for item in envelope["data"][:3]:
            item["score"] = 42
        return envelope

    replay.script(Fault(kind="mutate", mutate=break_three))
    failed = run(dags["jikan_upcoming"])
    assert failed.state == "failed"
    states = {ti.task_id: ti.state for ti in failed.get_task_instances()}
    assert states["validate"] == "failed" and states["upsert"] in ("upstream_failed", None)
    assert snapshot_rows(warehouse, "upcoming") == before  # untouched
    assert fetch(warehouse, "SELECT count(*) FROM core.rejects")[0][0] == 3  # kept, with reasons
    # the failed run is visible to analysts too, with the task and the reason
    (outcome,) = fetch(warehouse, "SELECT outcome, failed_task, error, requests, received "
                                  "FROM analytics.pipeline_runs WHERE run_id = %s", (failed.run_id,))
    assert outcome[:2] == ("failed", "validate") and "failed validation" in outcome[2]
    assert outcome[3] >= 1 and outcome[4] == len(before)


def test_the_same_title_on_two_pages_is_stored_once(dags, warehouse, replay):
    first_page_item = {}

    def remember(envelope):
        first_page_item["item"] = copy.deepcopy(envelope["data"][0])
        return envelope

    def repeat(envelope):
        envelope = copy.deepcopy(envelope)
        envelope["data"].append(first_page_item["item"])
        return envelope

    replay.script(Fault(kind="mutate", mutate=remember, match_page=1),
                  Fault(kind="mutate", mutate=repeat, match_page=2))
    assert run(dags["jikan_airing"]).state == "success"
    rows = snapshot_rows(warehouse, "airing")
    dup = first_page_item["item"]["mal_id"]
    assert [r[2] for r in rows].count(dup) == 1
    assert next(r[3] for r in rows if r[2] == dup) == 1  # its first place counts
    assert metrics(warehouse, "jikan_airing")[0][6] == 1  # counted as a duplicate


def test_a_run_for_a_date_older_than_yesterday_skips_and_keeps_the_stored_snapshot(dags, warehouse, replay):
    old = datetime.now(timezone.utc) - timedelta(days=3)
    assert run(dags["jikan_upcoming"]).state == "success"
    with warehouse, warehouse.cursor() as cur:  # pretend that snapshot had been taken 3 days ago
        cur.execute("UPDATE core.anime_snapshots SET snapshot_date = %s", (old.date(),))
    before = fetch(warehouse, "SELECT *, ctid FROM core.anime_snapshots ORDER BY mal_id")
    requests_before = len(replay.log)

    backfill = run(dags["jikan_upcoming"], old)
    states = {ti.task_id: ti.state for ti in backfill.get_task_instances()}
    assert set(states.values()) == {"skipped"} and "extract" in states and "publish" in states
    assert fetch(warehouse, "SELECT *, ctid FROM core.anime_snapshots ORDER BY mal_id") == before
    assert len(replay.log) == requests_before  # Jikan was not called
    outcome = fetch(warehouse, "SELECT snapshot_date, outcome, error FROM analytics.pipeline_runs "
                               "WHERE run_id = %s", (backfill.run_id,))
    assert outcome[0][:2] == (old.date(), "skipped") and "no history" in outcome[0][2]

"""Jikan faults through whole DAG runs (``dag.test()``) against the offline replay and a real Postgres warehouse.

Every case scripts what Jikan does wrong into the replay (``replay.script(Fault(...))``), runs a snapshot DAG
end to end, and asserts the warehouse afterwards:

* recovering faults: every valid distinct object Jikan lists is stored once, at its place in the list, as
  Jikan sent it (payload equal to the replay's object); invalid ones are in ``core.rejects`` with their
  errors; ``core.run_metrics`` counts every request, retry and 429 the replay saw;
* faults that outlast the retries (the client's attempts, then Airflow's task retries): the DAG run fails,
  the extract names the URL, the status and Jikan's message, and every warehouse table holds exactly what it
  held before (whole-table dumps), except the one ``core.run_metrics`` row that records the failed run.

Most faults hit page 2 of ``jikan_airing`` (36 airing titles: pages of 25 and 11), after page 1 was served,
so a retry has to resume in the middle of the list and nothing of page 1 may land on its own. Error bodies
are Jikan's real (or, for 429/504/500-upstream, transcribed) bodies from the replay's ``data/errors.json``.

The back-offs come from the environment (tests/conftest.py: base 0.05 s, cap 2 s); cases that need other
settings use ``monkeypatch.setenv``. docs/reliability.md ("Jikan faults") has the matrix and its results.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from anime_dashboard.jikan.replay import ANIME_PATH
from testkit.replay import ScriptedReplay
from testkit.replay_faults import Fault
from anime_dashboard.snapshots import BY_DAG_ID, PAGE_SIZE

AIRING, UPCOMING = "jikan_airing", "jikan_upcoming"
TODAY = datetime.now(timezone.utc).date()
TABLES = ("raw.extract_batches", "raw.jikan_pages", "core.anime_snapshots", "core.staged_records",
          "core.rejects", "core.run_metrics", "core.snapshots", "core.titles", "core.title_tags")
METRICS = ("requests", "retries", "rate_limited", "pages", "received", "distinct_records", "duplicates",
           "rejected", "inserted", "updated", "removed", "outcome")


# -------------------------------------------------------------------------------------------- helpers

def fetch(conn, sql: str, params=None) -> list[tuple]:
    with conn, conn.cursor() as cur:  # one short transaction: never left idle in one during a DAG run
        cur.execute(sql, params)
        return cur.fetchall()


def jikan_pages(replay: ScriptedReplay, dag_id: str) -> list[dict]:
    """The envelopes Jikan (the replay, without faults) serves for the DAG's query, page by page."""
    snapshot, envelopes = BY_DAG_ID[dag_id], []
    for page in range(1, snapshot.max_pages + 1):
        query = {**snapshot.params, "page": str(page), "limit": str(PAGE_SIZE)}
        envelopes.append(replay.respond(ANIME_PATH, query).payload)
        if not envelopes[-1]["pagination"]["has_next_page"]:
            break
    return envelopes


def listed_objects(replay: ScriptedReplay, dag_id: str) -> list[dict]:
    return [obj for env in jikan_pages(replay, dag_id) for obj in env["data"]]


def anime_requests(replay: ScriptedReplay) -> list[dict]:
    """The /v4/anime requests in the order they started (the log is in the order they finished). Read once no
    request is in flight: a request the client gave up on (read timeout) is logged when its delay ends, which on a
    loaded machine can be after the run."""
    import time

    deadline = time.monotonic() + 10
    while replay.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted((e for e in replay.log if e["path"] == ANIME_PATH), key=lambda e: e["started"])


def run(dag, monkeypatch=None, fast_task_retries: bool = False):
    """One whole DAG run. ``fast_task_retries``: Airflow's own retries of the extract (3, as in production)
    come at once instead of after 30 s, so a test can exhaust them."""
    if fast_task_retries:
        monkeypatch.setattr(dag.task_dict["extract"], "retry_delay", timedelta(0))
    return dag.test(logical_date=datetime.now(timezone.utc))


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def run_metrics(conn, run_id: str) -> dict[str, Any]:
    rows = fetch(conn, f"SELECT {', '.join(METRICS)}, failed_task, error FROM core.run_metrics "
                       "WHERE run_id = %s", (run_id,))
    assert len(rows) == 1, rows
    return dict(zip((*METRICS, "failed_task", "error"), rows[0]))


def stored(conn, snapshot_type: str) -> list[tuple[int, int, dict]]:
    """(mal_id, list_position, payload) of today's snapshot, in list order."""
    return fetch(conn, "SELECT mal_id, list_position, payload FROM core.anime_snapshots "
                       "WHERE snapshot_type = %s AND snapshot_date = %s ORDER BY list_position",
                 (snapshot_type, TODAY))


def dump(conn) -> dict[str, list[str]]:
    """Every row of every warehouse table the pipeline writes, as text, sorted."""
    return {t: sorted(r[0] for r in fetch(conn, f"SELECT to_jsonb(x)::text FROM {t} x")) for t in TABLES}


def assert_loaded_exactly(conn, dag_run, expected: list[dict], snapshot_type: str) -> list[tuple]:
    """The run succeeded and today's snapshot is ``expected``: each object once, at its place, unaltered."""
    assert dag_run.state == "success", states(dag_run)
    rows = stored(conn, snapshot_type)
    assert [r[0] for r in rows] == [o["mal_id"] for o in expected]
    assert [r[1] for r in rows] == list(range(1, len(expected) + 1))
    assert [r[2] for r in rows] == expected  # the payload is the object Jikan sent, whole
    return rows


def expect_metrics(conn, dag_run, replay, **expected) -> dict[str, Any]:
    """core.run_metrics of the run: ``expected`` values, and requests equal to what the replay saw."""
    got = run_metrics(conn, dag_run.run_id)
    assert {k: got[k] for k in expected} == expected
    assert got["requests"] == len(anime_requests(replay))
    return got


def errors_body(replay: ScriptedReplay, name: str) -> dict:
    return copy.deepcopy(replay.errors[name])


# ------------------------------------------------------------ transient faults: retried, run recovers

@dataclass(frozen=True)
class Transient:
    id: str
    faults: Callable[[ScriptedReplay], list[Fault]]  # scripted on page 2 of jikan_airing
    rate_limited: int = 0
    env: dict[str, str] = field(default_factory=dict)


def on_page_2(*faults: Fault) -> list[Fault]:
    for f in faults:
        f.match_page = 2
    return list(faults)


TRANSIENT = [
    Transient("429-no-retry-after-x3", lambda r: on_page_2(*[Fault("status", status=429) for _ in range(3)]),
              rate_limited=3),
    Transient("500-upstream-exception",
              lambda r: on_page_2(Fault("status", status=500, body=errors_body(r, "500_upstream_transcribed")))),
    Transient("500-unhandled-exception-recorded", lambda r: on_page_2(Fault("status", status=500))),
    Transient("503", lambda r: on_page_2(Fault("status", status=503))),
    Transient("503-html-from-the-proxy",
              lambda r: on_page_2(Fault("not_json", status=503,
                                        body="<html><body><h1>503 Service Temporarily Unavailable</h1>"
                                             "<hr><center>nginx/1.18.0 (Ubuntu)</center></body></html>"))),
    Transient("504-bad-response-exception", lambda r: on_page_2(Fault("status", status=504))),
    Transient("connection-reset", lambda r: on_page_2(Fault("reset"))),
    Transient("read-timeout", lambda r: on_page_2(Fault("delay", delay=1.5)),
              env={"ANIME_DASHBOARD_JIKAN_TIMEOUT": "0.5"}),
    Transient("truncated-json-body", lambda r: on_page_2(Fault("truncated"))),
    Transient("transfer-cut-off-mid-body", lambda r: on_page_2(Fault("truncated_transfer"))),
    Transient("html-instead-of-json", lambda r: on_page_2(Fault("not_json"))),
    Transient("200-with-504-error-object", lambda r: on_page_2(Fault("error_body_200"))),
    Transient("200-with-429-error-object",
              lambda r: on_page_2(Fault("error_body_200", body=errors_body(r, "429_ratelimit_transcribed"))),
              rate_limited=1),
]


@pytest.mark.parametrize("case", TRANSIENT, ids=lambda c: c.id)
def test_a_transient_jikan_fault_is_retried_and_the_run_stores_every_title_once(
        dags, warehouse, replay, monkeypatch, case):
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    faults = case.faults(replay)
    replay.script(*faults)
    dag_run = run(dags[AIRING])

    assert replay.pending_faults == []
    log = anime_requests(replay)
    assert [e["page"] for e in log] == [1] + [2] * (len(faults) + 1)  # page 2 retried until it came
    assert [e["fault"] for e in log] == [None] + [f.kind for f in faults] + [None]
    expected = listed_objects(replay, AIRING)
    assert len(expected) == 36
    assert_loaded_exactly(warehouse, dag_run, expected, "airing")
    assert fetch(warehouse, "SELECT count(*) FROM core.rejects")[0][0] == 0
    # raw holds the two good pages exactly as served; nothing of a faulty answer landed
    raw = fetch(warehouse, "SELECT page, http_status, body FROM raw.jikan_pages ORDER BY page")
    assert raw == [(p, 200, env) for p, env in enumerate(jikan_pages(replay, AIRING), start=1)]
    # (a 200 whose error object says 429 is counted as rate limited, like an HTTP 429)
    expect_metrics(warehouse, dag_run, replay, requests=2 + len(faults), retries=len(faults),
                   rate_limited=case.rate_limited, pages=2, received=36, distinct_records=36,
                   duplicates=0, rejected=0, inserted=36, updated=0, outcome="success")


@pytest.mark.timing
def test_429s_without_retry_after_back_off_on_their_own_growing_each_time(dags, warehouse, replay,
                                                                          monkeypatch):
    # Jikan sends no Retry-After: the client's own back-off, base 0.4 s doubled each time, equal jitter
    # (each wait in [b/2, b] for b = 0.4, 0.8, 1.6 s); the body is Jikan's (status "429" as a string).
    # The 1 s request window is off here so that its pacing cannot stand in for the back-off.
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_BACKOFF_BASE", "0.4")
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_BACKOFF_MAX", "5")
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_PER_SECOND", "0")
    replay.script(*on_page_2(*[Fault("status", status=429) for _ in range(3)]))
    dag_run = run(dags[AIRING])

    log = anime_requests(replay)
    assert [e["status"] for e in log] == [200, 429, 429, 429, 200]
    waits = [b["started"] - a["finished"] for a, b in zip(log[1:], log[2:])]
    for wait, base in zip(waits, [0.4, 0.8, 1.6]):
        assert base / 2 - 0.02 <= wait <= base + 0.25, waits
    assert_loaded_exactly(warehouse, dag_run, listed_objects(replay, AIRING), "airing")
    expect_metrics(warehouse, dag_run, replay, requests=5, retries=3, rate_limited=3, pages=2,
                   outcome="success")


@pytest.mark.timing
def test_a_retry_after_header_on_a_429_is_honoured(dags, warehouse, replay, monkeypatch):
    # Jikan has never been seen sending one; when it does, the client waits what it says (capped by
    # ANIME_DASHBOARD_JIKAN_BACKOFF_MAX) instead of its own 0.05 s back-off
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_BACKOFF_MAX", "5")
    replay.script(*on_page_2(Fault("status", status=429, headers={"Retry-After": "3"})))
    dag_run = run(dags[AIRING])

    refused, retried = anime_requests(replay)[1:3]
    assert (refused["status"], retried["status"]) == (429, 200)
    waited = retried["started"] - refused["finished"]
    assert 2.95 <= waited < 4.5, waited
    assert_loaded_exactly(warehouse, dag_run, listed_objects(replay, AIRING), "airing")
    expect_metrics(warehouse, dag_run, replay, requests=3, retries=1, rate_limited=1, outcome="success")


# ----------------------------------------------------------------- what Jikan sends is odd, not broken

def test_the_same_title_on_two_pages_is_stored_once_with_its_first_place_and_values(dags, warehouse, replay):
    # Jikan's list shifted between the two requests: page 2 repeats page 1's first title, with newer numbers
    # (tests/integration/test_snapshot_dags.py::test_the_same_title_on_two_pages_is_stored_once covers the
    # identical repeat)
    listed = listed_objects(replay, AIRING)
    again = copy.deepcopy(listed[0]) | {"members": listed[0]["members"] + 1000}

    def repeat(envelope):
        envelope["data"].append(again)
        return envelope

    replay.script(Fault("mutate", mutate=repeat, match_page=2))
    dag_run = run(dags[AIRING])

    rows = assert_loaded_exactly(warehouse, dag_run, listed, "airing")
    assert rows[0][2]["members"] == listed[0]["members"]  # the first place, as first seen
    expect_metrics(warehouse, dag_run, replay, requests=2, retries=0, pages=2, received=37,
                   distinct_records=36, duplicates=1, rejected=0, outcome="success")


def lie_about_next_page(envelope):
    """The recorded lie: last_visible_page 1 with has_next_page true."""
    envelope["pagination"]["has_next_page"] = True
    return envelope


def test_a_has_next_page_that_lies_stops_at_the_first_empty_page(dags, warehouse, replay):
    # jikan_upcoming has one page (25 titles, last_visible_page 1); page 1 and the empty page 2 both claim
    # there is more: the client asks for page 2, finds no data and stops there (not at the cap of 4)
    replay.script(Fault("mutate", mutate=lie_about_next_page, match_page=1),
                  Fault("mutate", mutate=lie_about_next_page, match_page=2))
    dag_run = run(dags[UPCOMING])

    assert [(e["page"], len(e["mal_ids"])) for e in anime_requests(replay)] == [(1, 25), (2, 0)]
    assert_loaded_exactly(warehouse, dag_run, listed_objects(replay, UPCOMING), "upcoming")
    assert fetch(warehouse, "SELECT page, body->'pagination'->>'last_visible_page', "
                            "body->'pagination'->>'has_next_page', jsonb_array_length(body->'data') "
                            "FROM raw.jikan_pages ORDER BY page") == [(1, "1", "true", 25), (2, "1", "true", 0)]
    expect_metrics(warehouse, dag_run, replay, requests=2, retries=0, pages=2, received=25,
                   distinct_records=25, duplicates=0, outcome="success")


def test_a_has_next_page_that_never_ends_stops_at_max_pages(dags, warehouse, replay):
    # a Jikan that ignores `page` and answers page 1, "has_next_page: true", forever: the client stops at
    # the snapshot type's cap (8 pages), the repeats are counted as duplicates and stored once
    first = jikan_pages(replay, UPCOMING)[0]

    def page_one_again(envelope):
        return lie_about_next_page(copy.deepcopy(first))

    cap = BY_DAG_ID[UPCOMING].max_pages
    replay.script(*[Fault("mutate", mutate=page_one_again) for _ in range(cap + 2)])
    dag_run = run(dags[UPCOMING])

    assert [e["page"] for e in anime_requests(replay)] == list(range(1, cap + 1))
    assert len(replay.pending_faults) == 2  # it never asked for a page past the cap
    assert_loaded_exactly(warehouse, dag_run, first["data"], "upcoming")
    expect_metrics(warehouse, dag_run, replay, requests=cap, retries=0, pages=cap, received=25 * cap,
                   distinct_records=25, duplicates=25 * (cap - 1), rejected=0, outcome="success")


# ------------------------------------------------------------------------------------- schema drift

def add_unknown_field(obj):
    obj["streaming_platforms_v5"] = [{"name": "Somewhere", "since": 2026}]  # not in the model
    obj["genres"][0]["slug"] = "new-in-an-entity"
    return obj


def drop_optional_fields(obj):
    for key in ("score", "scored_by", "rank", "season", "year", "episodes", "themes"):
        obj.pop(key, None)
    return obj


def wrong_type(obj):
    obj["episodes"] = "twelve"
    return obj


def drop_title(obj):
    del obj["title"]
    return obj


@dataclass(frozen=True)
class Drift:
    id: str
    edit: Callable[[dict], Any]  # the 3rd object of page 2 of jikan_airing -> what Jikan sends instead
    rejected_at: str | None = None  # the error's `loc` when the record must be rejected


DRIFT = [
    Drift("unknown-field-is-kept", add_unknown_field),
    Drift("missing-optional-fields-are-null", drop_optional_fields),
    Drift("wrong-type-is-rejected", wrong_type, rejected_at="episodes"),
    Drift("missing-required-field-is-rejected", drop_title, rejected_at="title"),
    Drift("a-record-that-is-not-an-object-is-rejected", lambda obj: "Cowboy Bebop", rejected_at=""),
    Drift("a-null-record-is-rejected", lambda obj: None, rejected_at=""),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.id)
def test_schema_drift_in_one_record_keeps_or_rejects_only_that_record(dags, warehouse, replay, case):
    listed = listed_objects(replay, AIRING)
    original = listed[27]  # page 2, item 3
    drifted = case.edit(copy.deepcopy(original))

    def drift(envelope):
        assert envelope["data"][2]["mal_id"] == original["mal_id"]
        envelope["data"][2] = drifted
        return envelope

    replay.script(Fault("mutate", mutate=drift, match_page=2))
    dag_run = run(dags[AIRING])

    rejects = fetch(warehouse, "SELECT mal_id, page, payload, errors FROM core.rejects")
    if case.rejected_at is None:
        expected = listed[:27] + [drifted] + listed[28:]
        assert rejects == []
    else:
        expected = listed[:27] + listed[28:]
        ((mal_id, page, payload, errors),) = rejects
        assert (mal_id, page, payload) == (
            drifted["mal_id"] if isinstance(drifted, dict) else None, 2, drifted)
        assert [e["loc"] for e in errors] == [case.rejected_at] and errors[0]["msg"]
    rows = assert_loaded_exactly(warehouse, dag_run, expected, "airing")
    if case.id.startswith("missing-optional"):
        columns = fetch(warehouse, "SELECT score, scored_by, rank, season, year, episodes, themes "
                                   "FROM core.anime_snapshots WHERE mal_id = %s", (original["mal_id"],))
        assert columns == [(None, None, None, None, None, None, [])]
    if case.id.startswith("unknown"):
        assert rows[27][2]["streaming_platforms_v5"] == drifted["streaming_platforms_v5"]
    expect_metrics(warehouse, dag_run, replay, requests=2, retries=0, received=36,
                   distinct_records=len(expected), rejected=36 - len(expected), outcome="success")


# ------------------------------------------------- retries run out: the run fails, nothing changes

ATTEMPTS, TASK_TRIES = 3, 4  # the client's attempts per page (set below); Airflow's 1 + 3 retries


@dataclass(frozen=True)
class GiveUp:
    id: str
    fault: Callable[[ScriptedReplay], Fault]
    in_error: tuple[str, ...]  # what the recorded error must say besides the URL and the give-up
    env: dict[str, str] = field(default_factory=dict)
    rate_limited: int = 0  # 429s in the last try


GIVE_UP = [
    GiveUp("429-no-retry-after", lambda r: Fault("status", status=429),
           ("-> 429", "RateLimitException", "You are being rate-limited"), rate_limited=ATTEMPTS),
    GiveUp("500-upstream-exception",
           lambda r: Fault("status", status=500, body=errors_body(r, "500_upstream_transcribed")),
           ("-> 500", "UpstreamException", "Request to MyAnimeList.net failed", "certificate has expired")),
    GiveUp("503", lambda r: Fault("status", status=503), ("-> 503",)),
    GiveUp("504-bad-response-exception", lambda r: Fault("status", status=504),
           ("-> 504", "BadResponseException", "Jikan failed to connect to MyAnimeList")),
    GiveUp("connection-reset", lambda r: Fault("reset"), ("no response", "ConnectionError")),
    GiveUp("read-timeout", lambda r: Fault("delay", delay=1.0), ("no response", "ReadTimeout"),
           env={"ANIME_DASHBOARD_JIKAN_TIMEOUT": "0.3"}),
    GiveUp("truncated-json-body", lambda r: Fault("truncated"), ("-> 200", "not valid JSON")),
    GiveUp("200-with-error-object", lambda r: Fault("error_body_200"),
           ("-> 200", "error object in a 200 response", "BadResponseException")),
]


@pytest.fixture(scope="module")
def stored_day(dags, warehouse_db) -> tuple[dict[str, bytes], dict[str, list[str]]]:
    """What a successful run of jikan_airing today leaves in an empty warehouse, made once for the give-up cases
    (each restores it as what its failed run of the same day must leave alone): the COPY of every table and its
    dump."""
    import psycopg2

    from support import PG, copy_warehouse, empty_warehouse, paced_replay

    conn = psycopg2.connect(dbname=warehouse_db, **PG)
    try:
        empty_warehouse(conn)
        with paced_replay() as replay, pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIRFLOW_CONN_JIKAN_DEFAULT", json.dumps(
                {"conn_type": "http", "host": replay.host, "port": replay.port, "schema": "http"}))
            first = run(dags[AIRING])
        assert first.state == "success", states(first)
        assert len(stored(conn, "airing")) == 36
        return copy_warehouse(conn), dump(conn)
    finally:
        conn.close()


@pytest.mark.parametrize("case", GIVE_UP, ids=lambda c: c.id)
def test_when_retries_run_out_the_run_fails_visibly_and_the_warehouse_is_unchanged(
        dags, warehouse, replay, monkeypatch, capfd, stored_day, case):
    from support import restore_warehouse

    dag = dags[AIRING]
    assert dag.task_dict["extract"].retries == TASK_TRIES - 1
    copies, dumped = stored_day  # a successful run of the same day: what must survive
    restore_warehouse(warehouse, copies)
    before = dump(warehouse)
    assert before == dumped

    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_MAX_ATTEMPTS", str(ATTEMPTS))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    spare = 5
    replay.script(*on_page_2(*[case.fault(replay) for _ in range(ATTEMPTS * TASK_TRIES + spare)]))
    capfd.readouterr()
    failed = run(dag, monkeypatch, fast_task_retries=True)
    task_log = "".join(capfd.readouterr())

    # Airflow: the run failed, the extract after its last retry; nothing downstream ran
    assert failed.state == "failed"
    ti_states = states(failed)
    assert ti_states.pop("extract") == "failed"
    assert set(ti_states.values()) == {"upstream_failed"}, ti_states
    (extract,) = [ti for ti in failed.get_task_instances() if ti.task_id == "extract"]
    assert extract.try_number == TASK_TRIES
    # the task log: each try failed with the client's error naming the URL and the give-up
    assert task_log.count("Task failed with exception") == TASK_TRIES
    assert task_log.count(f"JikanRequestError: GET http://{replay.host}:{replay.port}/v4/anime?") == TASK_TRIES
    # each try fetched page 1, then gave page 2 exactly ATTEMPTS attempts
    assert len(replay.pending_faults) == spare
    assert [e["page"] for e in anime_requests(replay)] == ([1] + [2] * ATTEMPTS) * TASK_TRIES

    # the warehouse: every table as it was, plus the failed run's outcome row with a clear error
    after = dump(warehouse)
    assert {t: after[t] for t in TABLES if t != "core.run_metrics"} == {
        t: before[t] for t in TABLES if t != "core.run_metrics"}
    assert set(before["core.run_metrics"]) < set(after["core.run_metrics"])
    assert len(after["core.run_metrics"]) == len(before["core.run_metrics"]) + 1
    outcome = run_metrics(warehouse, failed.run_id)
    assert (outcome["outcome"], outcome["failed_task"]) == ("failed", "extract")
    error = outcome["error"]
    assert error.startswith("JikanRequestError: GET http://") and "/v4/anime?" in error
    assert "status=airing" in error and "page=2" in error
    assert f"gave up after {ATTEMPTS} attempts" in error
    for text in case.in_error:
        assert text in error, error
    # what the last try sent: page 1, then ATTEMPTS times page 2 (the counts are only in the text so far,
    # see test_a_run_that_gives_up_counts_its_requests_retries_and_429s_in_run_metrics)
    assert (f"this extract so far: {ATTEMPTS + 1} requests, {ATTEMPTS - 1} retries, "
            f"{case.rate_limited} rate limited (429), 1 pages") in error
    assert stored(warehouse, "airing") == stored_rows_of(before)


def stored_rows_of(dumped: dict[str, list[str]]) -> list[tuple[int, int, dict]]:
    """(mal_id, list_position, payload) of today's airing snapshot, from a dump."""
    rows = [json.loads(r) for r in dumped["core.anime_snapshots"]]
    rows = [r for r in rows if r["snapshot_type"] == "airing" and r["snapshot_date"] == TODAY.isoformat()]
    return [(r["mal_id"], r["list_position"], r["payload"]) for r in sorted(rows, key=lambda r: r["list_position"])]


def test_a_run_that_gives_up_counts_its_requests_retries_and_429s_in_run_metrics(
        dags, warehouse, replay, monkeypatch):
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_MAX_ATTEMPTS", str(ATTEMPTS))
    replay.script(*[Fault("status", status=429) for _ in range(ATTEMPTS * TASK_TRIES)])
    failed = run(dags[UPCOMING], monkeypatch, fast_task_retries=True)
    assert failed.state == "failed" and replay.pending_faults == []
    outcome = run_metrics(warehouse, failed.run_id)
    assert outcome["outcome"] == "failed"
    # the last try's counts, from the client's JikanRequestError (no batch was landed to take them from)
    assert (outcome["requests"], outcome["retries"], outcome["rate_limited"]) == (ATTEMPTS, ATTEMPTS - 1, ATTEMPTS)

"""The history tables the dashboards read (analytics.market_daily, analytics.list_changes) stay equal to a full
recomputation from all history (core.*_computed) through every kind of change a load or the history generator
makes, although each load only recomputes the rows its snapshot decides (core.upkeep_history)."""
from __future__ import annotations

import json
import random
import threading
from datetime import timedelta

import psycopg2
import pytest

from anime_dashboard.history import generate_history
from pipeline_runs import TODAY
from support import PG

TITLES = list(range(1, 41))  # the pool each hand-made list is drawn from
D = [TODAY - timedelta(days=60 - i) for i in range(12)]  # days of the hand-made snapshots


def fetch(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def new_batch(cur, snapshot_type, day, version=1) -> int:
    """An extract batch of (type, day) under definition version ``version`` of the test's queries."""
    cur.execute("""
        INSERT INTO raw.extract_batches (dag_id, run_id, snapshot_type, snapshot_date, query, max_pages,
                                         definition_id, started_at, finished_at)
        VALUES ('d', 'r', %(t)s, %(d)s, %(q)s, 4, core.list_definition(%(t)s, %(q)s, 4), now(), now())
        RETURNING batch_id""", {"t": snapshot_type, "d": day, "q": json.dumps({"v": version})})
    return cur.fetchone()[0]


def write_rows(cur, snapshot_type, day, mal_ids, *, seed, real=True, version=1):
    """The rows of a load of (type, day) with exactly these titles in this order (what the upsert and the
    removal of dropped titles leave): of a new batch when real, else synthetic (no batch)."""
    batch = new_batch(cur, snapshot_type, day, version) if real else None
    rng = random.Random(seed)
    cur.execute("DELETE FROM core.anime_snapshots WHERE snapshot_type = %s AND snapshot_date = %s "
                "AND NOT (mal_id = ANY (%s))", (snapshot_type, day, mal_ids))
    for position, mal_id in enumerate(mal_ids, start=1):
        cur.execute("""
            INSERT INTO core.anime_snapshots (snapshot_type, snapshot_date, mal_id, list_position, title, score,
                members, favorites, payload, batch_id, run_id, synthetic)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '{"test": true}', %s, 'test', %s)
            ON CONFLICT (snapshot_type, snapshot_date, mal_id) DO UPDATE SET
                list_position = EXCLUDED.list_position, score = EXCLUDED.score, members = EXCLUDED.members,
                favorites = EXCLUDED.favorites, batch_id = EXCLUDED.batch_id, synthetic = EXCLUDED.synthetic""",
                    (snapshot_type, day, mal_id, position, f"Title {mal_id}",
                     None if rng.random() < 0.1 else round(rng.uniform(5, 9.5), 2),
                     rng.randint(1000, 900_000), rng.randint(0, 5000), batch, batch is None))


def load(conn, snapshot_type, day, mal_ids, *, seed, real=True, version=1):
    """The rows, then the catalog row (whose triggers keep the history rows), in one transaction as the
    load does."""
    with conn, conn.cursor() as cur:
        write_rows(cur, snapshot_type, day, mal_ids, seed=seed, real=real, version=version)
        cur.execute("SELECT core.refresh_snapshot(%s, %s)", (snapshot_type, day))


def remove(conn, snapshot_type, day):
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM core.anime_snapshots WHERE snapshot_type = %s AND snapshot_date = %s",
                    (snapshot_type, day))
        cur.execute("SELECT core.refresh_snapshot(%s, %s)", (snapshot_type, day))


def a_list(rng, size=20):
    return rng.sample(TITLES, size)


def assert_kept_equals_recomputed(conn, when):
    for name, key in (("market_daily", "1, 2"), ("list_changes", "1, 2, 5")):
        kept = fetch(conn, f"SELECT * FROM analytics.{name} ORDER BY {key}")
        recomputed = fetch(conn, f"SELECT * FROM core.{name}_computed ORDER BY {key}")
        assert kept == recomputed, f"analytics.{name} differs from a full recomputation after {when}"
    return len(fetch(conn, "SELECT 1 FROM analytics.list_changes"))


def test_history_tables_equal_a_full_recomputation_through_out_of_order_loads_reruns_and_removals(warehouse):
    rng = random.Random(16)
    order = [D[5], D[1], D[9], D[3], D[0], D[7], D[2], D[11], D[4], D[10], D[8], D[6]]  # out of date order
    for i, day in enumerate(order):
        for name in ("top", "airing"):
            load(warehouse, name, day, a_list(rng), seed=i)
        assert_kept_equals_recomputed(warehouse, f"loading {day} ({i + 1} of {len(order)})")
    for i, day in enumerate([D[4], D[4], D[11], D[0]]):  # reruns: other titles, other figures
        load(warehouse, "top", day, a_list(rng, rng.randint(5, 30)), seed=100 + i)
        assert_kept_equals_recomputed(warehouse, f"a rerun of {day}")
    for day in (D[6], D[0], D[11]):  # a snapshot gone: inside, first, last
        remove(warehouse, "top", day)
        assert_kept_equals_recomputed(warehouse, f"removing {day}")
    load(warehouse, "top", D[6], a_list(rng), seed=200)  # and back
    changes = assert_kept_equals_recomputed(warehouse, f"loading {D[6]} again")
    assert changes > 50  # the lists differ day to day: there is something to keep
    assert fetch(warehouse, "SELECT count(*) FROM analytics.market_daily") == [(22,)]  # 12 + 12 - 3 + 1


def test_history_tables_follow_a_list_definition_change_in_the_middle_of_history(warehouse):
    rng = random.Random(17)
    for i, day in enumerate(D[:8]):
        load(warehouse, "top", day, a_list(rng), seed=i)
    load(warehouse, "top", D[3], a_list(rng), seed=10, version=2)  # a rerun under a new definition
    assert_kept_equals_recomputed(warehouse, "a rerun under another definition")
    versions = dict(fetch(warehouse, "SELECT snapshot_date, definition_version FROM analytics.market_daily"))
    assert versions[D[3]] == 2 and versions[D[4]] == 1
    dates = {d for (d,) in fetch(warehouse, "SELECT DISTINCT snapshot_date FROM analytics.list_changes")}
    # nothing compares across the break: D[3] and D[4] (the first v1 day after it) have no list changes
    assert D[3] not in dates and D[4] not in dates and D[5] in dates
    with warehouse, warehouse.cursor() as cur:  # and a definition set by hand in the catalog
        cur.execute("UPDATE core.snapshots SET definition_id = core.list_definition('top', '{\"v\": 2}', 4) "
                    "WHERE snapshot_type = 'top' AND snapshot_date IN (%s, %s)", (D[4], D[6]))
    assert_kept_equals_recomputed(warehouse, "definitions edited in the catalog")
    dates = {d for (d,) in fetch(warehouse, "SELECT DISTINCT snapshot_date FROM analytics.list_changes")}
    assert D[4] in dates and D[5] not in dates and D[6] not in dates and D[7] not in dates


def test_history_tables_follow_synthetic_history_replaced_by_real_snapshots_and_regenerated(warehouse):
    sizes = {"top": 30, "airing": 10, "upcoming": 10, "movies": 10}
    end = TODAY - timedelta(days=1)
    generate_history(warehouse, end_date=end, days=8, list_sizes=sizes)
    assert_kept_equals_recomputed(warehouse, "generating 8 days")
    synthetic = [d for (d,) in fetch(warehouse, "SELECT snapshot_date FROM core.snapshots WHERE snapshot_type = "
                                                "'top' ORDER BY 1")]
    real_day = synthetic[3]
    real_list = [m for (m,) in fetch(warehouse, "SELECT mal_id FROM core.anime_snapshots WHERE snapshot_type = "
                                                "'top' AND snapshot_date = %s ORDER BY list_position", (real_day,))]
    load(warehouse, "top", real_day, real_list[:25] + real_list[-2:], seed=1, version=2)  # real over synthetic
    assert fetch(warehouse, "SELECT is_synthetic FROM analytics.market_daily WHERE snapshot_type = 'top' "
                            "AND snapshot_date = %s", (real_day,)) == [(False,)]
    assert_kept_equals_recomputed(warehouse, "a real snapshot over a synthetic one")
    generate_history(warehouse, end_date=end + timedelta(days=2), days=12, list_sizes=sizes)  # rerun, wider
    assert_kept_equals_recomputed(warehouse, "regenerating around the real snapshot")


@pytest.mark.parametrize("first", ["earlier day", "later day"])
def test_history_tables_stay_exact_when_loads_of_neighbouring_days_commit_concurrently(warehouse_db, warehouse,
                                                                                      first):
    """Two loads of one type, on a day and on the next one, both write their rows before either keeps its
    history; the one that keeps it first cannot see the other's rows. The per-type lock makes the second wait
    until the first commits, then recompute what the first could not see."""
    rng = random.Random(18)
    for i, day in enumerate((D[0], D[2])):
        load(warehouse, "top", day, a_list(rng), seed=i)
    lists = {D[1]: a_list(rng), D[2]: a_list(rng)}
    conns = {day: psycopg2.connect(dbname=warehouse_db, **PG) for day in lists}
    wrote = threading.Barrier(2, timeout=30)
    order = [D[1], D[2]] if first == "earlier day" else [D[2], D[1]]
    kept_first = threading.Event()
    errors = []

    def run(day):
        try:
            conn = conns[day]
            with conn, conn.cursor() as cur:
                write_rows(cur, "top", day, lists[day], seed=day.toordinal())
                wrote.wait()
                if day != order[0]:
                    assert kept_first.wait(30)
                cur.execute("SELECT core.refresh_snapshot('top', %s)", (day,))
                if day == order[0]:
                    kept_first.set()
                    threading.Event().wait(0.5)  # hold the transaction (and the lock) open a moment
        except Exception as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(day,)) for day in lists]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in conns.values():
        c.close()
    assert not errors, errors
    assert_kept_equals_recomputed(warehouse, f"concurrent loads of {D[1]} and {D[2]}, the {first} first")

"""The synthetic history generator: built backwards from the real snapshot after each day, so the real day
is a day like any other; drift as MyAnimeList drifts; deterministic, labelled, never touching a real
snapshot."""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import date, timedelta

import pytest

from anime_dashboard import cli, history
from anime_dashboard.history import generate_history
from anime_dashboard.snapshots import BY_NAME, SNAPSHOT_TYPES
from pipeline_runs import TODAY, load
from support import paced_replay

END = date(2025, 6, 30)
TYPES = [s.name for s in SNAPSHOT_TYPES]
# what the offline job stores (the corpus has 354 finished, 36 airing, 25 upcoming titles and 117 movies,
# all within the page caps)
REAL_SIZES = {"top": 354, "airing": 36, "upcoming": 25, "movies": 117}
SEEDED_DAYS = 60


def rows(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def dump_md5(conn, table, order):
    return rows(conn, f"SELECT md5(string_agg(t::text, E'\\n' ORDER BY {order})) FROM {table} t")[0][0]


def lists(conn):
    """(type, date) -> mal_ids in list order."""
    out = defaultdict(list)
    for t, d, mal_id in rows(conn, "SELECT snapshot_type, snapshot_date, mal_id FROM core.anime_snapshots "
                                   "ORDER BY snapshot_type, snapshot_date, list_position"):
        out[t, d].append(mal_id)
    return out


@pytest.fixture(scope="module")
def seeded(warehouse_db):
    """The offline main job's warehouse: today's four real snapshots (through the replay), then
    SEEDED_DAYS of synthetic history before them. Read-only for the tests that use it."""
    import os

    import psycopg2

    from support import PG, empty_warehouse

    conn = psycopg2.connect(dbname=warehouse_db, **PG)
    empty_warehouse(conn)
    with paced_replay() as replay, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_JIKAN_DEFAULT", json.dumps(
            {"conn_type": "http", "host": replay.host, "port": replay.port, "schema": "http"}))
        mp.setenv("ANIME_DASHBOARD_JIKAN_LIMITER_KEY", os.environ["ANIME_DASHBOARD_JIKAN_LIMITER_KEY"] + ":seeded")
        for name in TYPES:
            load(conn, name, "real", TODAY, BY_NAME[name].dag_id)
    summary = generate_history(conn, end_date=TODAY - timedelta(days=1), days=SEEDED_DAYS)
    conn.autocommit = True  # the tests only read: no transaction left open to block the next TRUNCATE
    yield conn, summary
    conn.close()


def day_series(conn, snapshot_type):
    """Per day of the type (ascending): {mal_id: (score, members, rank)}."""
    out = defaultdict(dict)
    for d, mal_id, score, members, rank in rows(
            conn, "SELECT snapshot_date, mal_id, score, members, rank FROM core.anime_snapshots "
                  "WHERE snapshot_type = %s ORDER BY snapshot_date", (snapshot_type,)):
        out[d][mal_id] = (score, members, rank)
    return dict(sorted(out.items()))


# --- the seam: the first real day is a day like any other --------------------------------------------------

@pytest.mark.parametrize("snapshot_type", TYPES)
def test_at_the_real_day_entries_exits_average_score_and_members_change_as_on_a_synthetic_day(seeded,
                                                                                               snapshot_type):
    conn, summary = seeded
    assert summary["anchors"] == sorted(f"{t} {TODAY}" for t in TYPES)  # built back from the real snapshots
    days = day_series(conn, snapshot_type)
    dates = list(days)
    assert dates[-1] == TODAY and len(dates) == SEEDED_DAYS + 1
    assert rows(conn, "SELECT bool_and(synthetic) FILTER (WHERE snapshot_date < %s), "
                      "bool_or(synthetic) FILTER (WHERE snapshot_date = %s) FROM core.snapshots "
                      "WHERE snapshot_type = %s", (TODAY, TODAY, snapshot_type)) == [(True, False)]

    def change(a, b):
        churn = len(set(a) ^ set(b))
        scores = lambda day: [float(v[0]) for v in day.values() if v[0] is not None]  # noqa: E731
        score = abs(statistics.mean(scores(b)) - statistics.mean(scores(a))) if scores(a) else 0.0
        members = abs(sum(v[1] or 0 for v in b.values()) - sum(v[1] or 0 for v in a.values()))
        return churn, score, members

    synthetic = [change(days[a], days[b]) for a, b in zip(dates[:-2], dates[1:-1])]
    seam = change(days[dates[-2]], days[dates[-1]])
    for i, what in enumerate(("entries + exits", "average score", "total members")):
        typical = statistics.median(c[i] for c in synthetic)
        assert seam[i] <= 2 * typical, (
            f"{snapshot_type}: {what} changes by {seam[i]} at the real day, against a median "
            f"{typical} between synthetic days")
    assert seam[2] > 0 and statistics.median(c[2] for c in synthetic) > 0  # members do grow, daily
    # the list does change over the two months, a little at a time
    assert sum(c[0] for c in synthetic) >= 2 and max(c[0] for c in synthetic) <= max(4, len(days[TODAY]) // 20)


def test_movers_at_the_real_day_compare_with_the_day_before_and_show_real_changes(seeded):
    conn, _ = seeded
    movers = rows(conn, "SELECT snapshot_type, previous_date, position_change, members_change, score_change "
                        "FROM analytics.movers")
    assert {(t, p) for t, p, *_ in movers} == {(t, TODAY - timedelta(days=1)) for t in TYPES}
    by_type = defaultdict(list)
    for t, _, position, members, score in movers:
        by_type[t].append((position, members, score))
    for t, found in by_type.items():
        compared = [f for f in found if f[0] is not None]
        assert len(compared) >= len(found) - 2, t  # at most a swap or two new
        # a day's growth for (nearly) every title, and only a day's moves in the list
        assert sum(m > 0 for _, m, _ in compared) >= 0.85 * len(compared), t
        assert max(abs(p) for p, _, _ in compared) <= 10, t
    # the biggest climbers are not a wall of +0: their members moved
    climbers = rows(conn, "SELECT members_change FROM analytics.movers WHERE position_change > 0 "
                          "ORDER BY position_change DESC LIMIT 5")
    assert all(m != 0 for (m,) in climbers)


def test_list_changes_per_day_have_no_spike_on_the_real_day(seeded):
    conn, _ = seeded
    per_day = dict(rows(conn, "SELECT snapshot_date, count(*) FROM analytics.list_changes GROUP BY 1"))
    synthetic_days = [TODAY - timedelta(days=i) for i in range(1, SEEDED_DAYS - 1)]
    counts = [per_day.get(d, 0) for d in synthetic_days]
    assert per_day.get(TODAY, 0) <= max(2, 2 * statistics.median(counts)), (per_day.get(TODAY), counts)
    assert sum(counts) > 0


# --- drift as MyAnimeList drifts -----------------------------------------------------------------------------

def test_scores_of_titles_with_100k_scorers_move_a_hundredth_at_most_a_day_and_rank_follows_score(seeded):
    conn, _ = seeded
    pairs = rows(conn, """
        SELECT s.score - p.score, s.rank - p.rank, s.members - p.members
        FROM core.anime_snapshots s
        JOIN core.anime_snapshots p ON p.snapshot_type = s.snapshot_type AND p.mal_id = s.mal_id
                                   AND p.snapshot_date = s.snapshot_date - 1
        WHERE s.snapshot_type = 'top' AND s.scored_by >= 100000""")
    assert len(pairs) > 100 * 50
    changes = [abs(float(ds)) for ds, _, _ in pairs]
    assert statistics.median(changes) <= 0.01 and max(changes) <= 0.05
    assert 0 < sum(c > 0 for c in changes) < 0.1 * len(changes)  # they do move, on a few days
    # rank follows score: it never moves against it, and it moves when the score does (mostly)
    assert not [p for p in pairs if p[0] * p[1] > 0]
    moved = [p for p in pairs if p[0] != 0]
    assert sum(p[1] != 0 for p in moved) >= 0.5 * len(moved)


def test_airing_scores_move_on_most_days_by_a_few_hundredths_at_most(seeded):
    conn, _ = seeded
    changes = [abs(float(d)) for (d,) in rows(conn, """
        SELECT s.score - p.score FROM core.anime_snapshots s
        JOIN core.anime_snapshots p ON p.snapshot_type = s.snapshot_type AND p.mal_id = s.mal_id
                                   AND p.snapshot_date = s.snapshot_date - 1
        WHERE s.snapshot_type = 'airing' AND s.scored_by < 100000 AND s.score IS NOT NULL""")]
    assert len(changes) > 500
    assert sum(c > 0 for c in changes) > 0.5 * len(changes) and max(changes) <= 0.05


def test_members_grow_for_most_titles_at_their_statuss_pace(seeded):
    conn, _ = seeded
    growth = rows(conn, """
        SELECT s.status, s.mal_id, (array_agg(s.members ORDER BY s.snapshot_date))[1],
               (array_agg(s.members ORDER BY s.snapshot_date DESC))[1], count(*)
        FROM core.anime_snapshots s WHERE s.snapshot_type IN ('top', 'airing', 'upcoming') AND s.members > 10000
        GROUP BY 1, 2 HAVING count(*) > 30""")
    assert len(growth) > 200
    assert sum(last > first for _, _, first, last, _ in growth) >= 0.95 * len(growth)
    daily = defaultdict(list)
    for status, _, first, last, n in growth:
        daily[status].append((last / first) ** (1 / (n - 1)) - 1)
    finished = statistics.median(daily["Finished Airing"])
    airing = statistics.median(daily["Currently Airing"])
    # MyAnimeList: about 0.02 % a day for finished titles, 0.3 % for airing ones
    assert 0.0001 < finished < 0.0005 and 0.0015 < airing < 0.006 and airing > 5 * finished


def test_the_synthetic_days_keep_the_real_days_definition_and_a_title_is_the_same_in_every_list(seeded):
    conn, _ = seeded
    assert rows(conn, "SELECT snapshot_type, count(DISTINCT definition_version), min(definition_since), "
                      "count(*) FILTER (WHERE previous_snapshot_date IS NULL) FROM analytics.snapshot_catalog "
                      "GROUP BY 1 ORDER BY 1") == [
        (t, 1, TODAY - timedelta(days=SEEDED_DAYS), 1) for t in sorted(TYPES)]
    values = rows(conn, "SELECT mal_id, snapshot_date, count(DISTINCT (score, members, rank, popularity, scored_by, "
                        "favorites)) FROM core.anime_snapshots GROUP BY 1, 2 HAVING count(*) > 1")
    assert values and all(n == 1 for *_, n in values)


# --- lists, labels, reruns -----------------------------------------------------------------------------------

def test_the_offline_lists_are_what_the_replay_serves_each_types_definition(warehouse):
    assert {s.name: len(history.served_list(s)) for s in SNAPSHOT_TYPES} == REAL_SIZES
    summary = generate_history(warehouse, end_date=END, days=3)
    assert summary["list_sizes"] == REAL_SIZES
    assert summary["anchors"] == sorted(f"{t} {END + timedelta(days=1)} (corpus)" for t in TYPES)
    found = rows(warehouse, "SELECT snapshot_type, snapshot_date, count(*), count(DISTINCT list_position), "
                            "min(list_position), max(list_position) FROM core.anime_snapshots GROUP BY 1, 2")
    assert len(found) == 4 * 3
    for t, _, n, distinct, low, high in found:
        assert n == distinct == high == REAL_SIZES[t] and low == 1


def test_two_runs_write_identical_rows_and_catalog(warehouse):
    first = generate_history(warehouse, end_date=END, days=4)
    snapshots_md5 = dump_md5(warehouse, "core.anime_snapshots", "snapshot_type, snapshot_date, mal_id")
    catalog_md5 = dump_md5(warehouse, "core.snapshots", "snapshot_type, snapshot_date")
    again = generate_history(warehouse, end_date=END, days=4)
    assert again["rows_written"] == again["rows_replaced"] == first["rows_written"] == 4 * sum(REAL_SIZES.values())
    assert dump_md5(warehouse, "core.anime_snapshots", "snapshot_type, snapshot_date, mal_id") == snapshots_md5
    assert dump_md5(warehouse, "core.snapshots", "snapshot_type, snapshot_date") == catalog_md5


def test_every_row_is_synthetic_with_a_marker_payload_and_no_batch(warehouse):
    generate_history(warehouse, end_date=END, days=30)
    found = rows(warehouse, "SELECT mal_id, title, synthetic, batch_id, run_id, payload FROM core.anime_snapshots")
    assert found
    variants = set()
    for mal_id, title, synthetic, batch_id, run_id, payload in found:
        assert synthetic is True and batch_id is None and run_id == "synthetic:history-generator"
        assert set(payload) == {"synthetic", "generator", "derived_from_mal_id", "variant", "anchor_date"}
        assert payload["synthetic"] is True and payload["generator"] == "anime_dashboard.history"
        assert payload["anchor_date"] == (END + timedelta(days=1)).isoformat()
        k = payload["variant"]
        assert mal_id == k * 1_000_000 + payload["derived_from_mal_id"]
        assert title.endswith(f" (synthetic #{k})") == (k > 0)
        variants.add(k)
    assert 0 in variants and 1 in variants  # real titles, and variants standing in for the ones that came later


def test_a_real_snapshot_in_the_range_is_untouched_counted_as_skipped_and_the_days_before_it_built_from_it(
        warehouse, replay):
    ref = load(warehouse, "upcoming", "real", TODAY)
    real_rows = "SELECT * FROM core.anime_snapshots WHERE snapshot_type = 'upcoming' AND snapshot_date = %s ORDER BY mal_id"
    before = rows(warehouse, real_rows, (TODAY,))
    assert len(before) == 25

    for _ in range(2):  # a rerun does not touch it either
        summary = generate_history(warehouse, end_date=TODAY, days=3)
        assert summary["snapshots_skipped"] == 1 and summary["skipped"] == [f"upcoming {TODAY}"]
        assert summary["snapshots_written"] == 4 * 3 - 1
        assert f"upcoming {TODAY}" in summary["anchors"]
        assert rows(warehouse, real_rows, (TODAY,)) == before
    catalog = rows(warehouse, "SELECT snapshot_type, titles, synthetic, batch_id FROM core.snapshots "
                              "WHERE snapshot_date = %s ORDER BY snapshot_type", (TODAY,))
    assert catalog == [("airing", 36, True, None), ("movies", 117, True, None), ("top", 354, True, None),
                       ("upcoming", 25, False, ref["batch_id"])]
    # the two days before are built back from it: its titles, one day's drift away, under its definition
    anchored = rows(warehouse, "SELECT s.snapshot_date, count(*), count(*) FILTER (WHERE s.mal_id < 1000000), "
                               "bool_and(s.payload ->> 'anchor_date' = %s), min(c.definition_id) = max(c.definition_id) "
                               "FROM core.anime_snapshots s JOIN core.snapshots c USING (snapshot_type, snapshot_date) "
                               "WHERE s.snapshot_type = 'upcoming' GROUP BY 1 ORDER BY 1", (TODAY.isoformat(),))
    assert [(d, n, same) for d, n, _, _, same in anchored] == [
        (TODAY - timedelta(days=2), 25, True), (TODAY - timedelta(days=1), 25, True), (TODAY, 25, True)]
    assert all(real >= 24 and from_it for d, _, real, from_it, _ in anchored if d < TODAY)
    # a title with real rows is not a synthetic title, and keeps its real attributes
    assert rows(warehouse, "SELECT bool_or(t.synthetic), count(*) FROM core.titles t WHERE t.mal_id = ANY (%s)",
                ([r[2] for r in before],)) == [(False, 25)]


def test_scores_stay_within_1_and_10_and_missing_scores_stay_missing(warehouse):
    generate_history(warehouse, end_date=END, days=90)
    low, high, nulls = rows(warehouse, "SELECT min(score), max(score), count(*) FILTER (WHERE score IS NULL) "
                                       "FROM core.anime_snapshots")[0]
    assert 1 <= low and high <= 10
    assert nulls > 0  # upcoming titles have no score in the corpus, and none made up
    assert rows(warehouse, "SELECT count(*) FROM core.anime_snapshots WHERE snapshot_type = 'upcoming' "
                           "AND score IS NOT NULL") == [(0,)]


def test_each_day_is_ordered_as_its_definition_orders(warehouse):
    generate_history(warehouse, end_date=END, days=5)
    found = rows(warehouse, "SELECT snapshot_type, snapshot_date, list_position, score, members "
                            "FROM core.anime_snapshots ORDER BY 1, 2, 3")
    by_list = defaultdict(list)
    for t, d, _, score, members in found:
        by_list[t, d].append({"score": score, "members": members})
    for (t, d), items in by_list.items():
        field = BY_NAME[t].params["order_by"]
        assert BY_NAME[t].params["sort"] == "desc"
        keys = [i[field] for i in items]
        present = [k for k in keys if k is not None]
        # descending, NULLs (the smallest value to Jikan) last
        assert keys == present + [None] * (len(keys) - len(present)) and present == sorted(present, reverse=True)


def test_days_built_from_an_ascending_definition_put_nulls_first_as_jikan_does(warehouse, replay):
    import dataclasses

    from anime_dashboard import pipeline
    from pipeline_runs import fast_client

    by_episodes = dataclasses.replace(BY_NAME["airing"], params={"status": "airing", "order_by": "episodes",
                                                                  "sort": "asc"})
    ref = pipeline.extract(by_episodes, conn=warehouse, dag_id="d", run_id="r", snapshot_date=TODAY,
                           client=fast_client())
    pipeline.validate(ref["batch_id"], conn=warehouse, max_reject_share=0)
    pipeline.upsert(ref["batch_id"], conn=warehouse, run_id="r")
    generate_history(warehouse, end_date=TODAY - timedelta(days=1), days=3)
    by_day = defaultdict(list)
    for d, episodes in rows(warehouse, "SELECT snapshot_date, episodes FROM core.anime_snapshots "
                                       "WHERE snapshot_type = 'airing' ORDER BY snapshot_date, list_position"):
        by_day[d].append(episodes)
    assert len(by_day) == 4
    for d, episodes in by_day.items():  # the real day as the replay served it, and the three before it
        nulls = episodes.count(None)
        assert 0 < nulls < len(episodes) and episodes[:nulls] == [None] * nulls, d
        assert episodes[nulls:] == sorted(episodes[nulls:]), d


def test_titles_enter_and_leave_the_lists_a_few_at_a_time(warehouse):
    generate_history(warehouse, end_date=END, days=60)
    by_day = lists(warehouse)
    days = [END - timedelta(days=i) for i in range(59, -1, -1)]
    for t in TYPES:
        changes = [len(set(by_day[t, a]) ^ set(by_day[t, b])) for a, b in zip(days, days[1:])]
        assert sum(changes) > 0, t
        assert all(c % 2 == 0 and c <= 2 * max(2, len(by_day[t, END]) // 50) for c in changes), (t, changes)
        assert len(by_day[t, days[0]]) == len(by_day[t, END])  # a swap: one in, one out


def test_catalog_titles_and_tags_are_filled(warehouse):
    generate_history(warehouse, end_date=END, days=3)
    catalog = rows(warehouse, "SELECT c.snapshot_type, c.snapshot_date, c.titles, c.synthetic, c.batch_id, c.run_id, "
                              "d.query, d.max_pages FROM core.snapshots c JOIN core.list_definitions d "
                              "USING (definition_id) ORDER BY 1, 2")
    assert catalog == [(t, END - timedelta(days=i), REAL_SIZES[t], True, None, "synthetic:history-generator",
                        BY_NAME[t].params, BY_NAME[t].max_pages)
                       for t in sorted(TYPES) for i in (2, 1, 0)]
    (titles, synthetic, seen, first, last), = rows(
        warehouse, "SELECT count(*), bool_and(synthetic), sum(snapshots), min(first_seen), max(last_seen) "
                   "FROM core.titles")
    distinct = rows(warehouse, "SELECT count(DISTINCT mal_id), count(*) FROM core.anime_snapshots")[0]
    assert (titles, seen) == distinct and synthetic is True
    assert (first, last) == (END - timedelta(days=2), END)
    assert rows(warehouse, "SELECT count(DISTINCT tag_kind) FROM core.title_tags") == [(4,)]


def test_the_command_at_scale_writes_1000_titles_per_type_and_day(warehouse, capsys):
    assert cli.main(["history", "--days", "3", "--scale-3y", "--end", END.isoformat(),
                     "--log-level", "WARNING"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows_written"] == 4 * 1000 * 3 and summary["list_sizes"] == dict.fromkeys(TYPES, 1000)
    per_day = rows(warehouse, "SELECT snapshot_date, snapshot_type, count(*), max(list_position) "
                              "FROM core.anime_snapshots GROUP BY 1, 2")
    assert len(per_day) == 12 and all(n == high == 1000 for _, _, n, high in per_day)
    # only 415 corpus titles: variants fill the lists (the airing list: its 36 titles and 964 variants)
    assert rows(warehouse, "SELECT count(*) FILTER (WHERE mal_id >= 1000000) FROM core.anime_snapshots "
                           "WHERE snapshot_type = 'airing' AND snapshot_date = %s", (END,)) == [(964,)]


def test_the_command_takes_list_sizes_and_refuses_unknown_types(warehouse, capsys):
    assert cli.main(["history", "--days", "2", "--end", END.isoformat(), "--list-size", "movies=7",
                     "--log-level", "WARNING"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["list_sizes"] == {**REAL_SIZES, "movies": 7}
    assert rows(warehouse, "SELECT max(list_position) FROM core.anime_snapshots WHERE snapshot_type = 'movies'") == [(7,)]
    with pytest.raises(SystemExit):
        cli.main(["history", "--days", "2", "--list-size", "ova=7"])


def test_the_titles_refresh_waits_for_an_upserts_titles_upkeep(warehouse):
    """The generator recomputes every title at its end; while an upsert's titles upkeep holds the titles lock
    (until its transaction ends), that recomputation waits instead of racing it."""
    import threading

    import psycopg2

    from support import PG

    holder = psycopg2.connect(dbname=warehouse.get_dsn_parameters()["dbname"], **PG)
    done: dict = {}
    try:
        with holder.cursor() as cur:  # what core.upkeep_titles takes first, held as an upsert would
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('anime_dashboard.titles', 0))")
        worker = threading.Thread(target=lambda: done.update(summary=generate_history(warehouse, end_date=END,
                                                                                      days=1)))
        worker.start()
        waited = []
        for _ in range(300):
            waited = rows(holder, "SELECT wait_event FROM pg_stat_activity WHERE pid = %s",
                          (warehouse.get_backend_pid(),))
            if waited == [("advisory",)]:
                break
            worker.join(0.1)
        assert waited == [("advisory",)] and worker.is_alive() and "summary" not in done
        holder.rollback()  # the upsert ends: the generator goes on
        worker.join(120)
        assert not worker.is_alive() and done["summary"]["rows_written"] == sum(REAL_SIZES.values())
        assert rows(warehouse, "SELECT count(*) FROM core.titles")[0][0] > 0
    finally:
        holder.close()

"""The synthetic history generator: deterministic, labelled, never touching a real snapshot, shaped lists."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest

from anime_dashboard import history
from anime_dashboard.history import generate_history
from anime_dashboard.snapshots import BY_NAME, SNAPSHOT_TYPES
from pipeline_runs import load

END = date(2025, 6, 30)
TYPES = [s.name for s in SNAPSHOT_TYPES]
REAL_SIZES = {"top": 200, "airing": 36, "upcoming": 25, "movies": 100}  # the offline job's lists


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


def test_two_runs_write_identical_rows_and_catalog(warehouse):
    first = generate_history(warehouse, end_date=END, days=4)
    snapshots_md5 = dump_md5(warehouse, "core.anime_snapshots", "snapshot_type, snapshot_date, mal_id")
    catalog_md5 = dump_md5(warehouse, "core.snapshots", "snapshot_type, snapshot_date")
    again = generate_history(warehouse, end_date=END, days=4)
    assert again["rows_written"] == again["rows_replaced"] == first["rows_written"] == 4 * sum(REAL_SIZES.values())
    assert dump_md5(warehouse, "core.anime_snapshots", "snapshot_type, snapshot_date, mal_id") == snapshots_md5
    assert dump_md5(warehouse, "core.snapshots", "snapshot_type, snapshot_date") == catalog_md5


def test_every_row_is_synthetic_with_a_marker_payload_and_no_batch(warehouse):
    generate_history(warehouse, end_date=END, days=2)
    found = rows(warehouse, "SELECT mal_id, title, synthetic, batch_id, run_id, payload FROM core.anime_snapshots")
    assert found
    variants = set()
    for mal_id, title, synthetic, batch_id, run_id, payload in found:
        assert synthetic is True and batch_id is None and run_id == "synthetic:history-generator"
        assert set(payload) == {"synthetic", "generator", "derived_from_mal_id", "variant"}
        assert payload["synthetic"] is True and payload["generator"] == "anime_dashboard.history"
        k = payload["variant"]
        assert mal_id == k * 1_000_000 + payload["derived_from_mal_id"]
        assert title.endswith(f" (synthetic #{k})") == (k > 0)
        variants.add(k)
    assert variants == {0, 1}  # the short lists need one variant per corpus title for a pool larger than them


def test_a_real_snapshot_in_the_range_is_untouched_and_counted_as_skipped(warehouse, replay):
    today = datetime.now(timezone.utc).date()
    ref = load(warehouse, "upcoming", "real", today)
    real_rows = "SELECT * FROM core.anime_snapshots WHERE snapshot_type = 'upcoming' AND snapshot_date = %s ORDER BY mal_id"
    before = rows(warehouse, real_rows, (today,))
    assert len(before) == 25

    for _ in range(2):  # a rerun does not touch it either
        summary = generate_history(warehouse, end_date=today, days=3)
        assert summary["snapshots_skipped"] == 1 and summary["skipped"] == [f"upcoming {today}"]
        assert summary["snapshots_written"] == 4 * 3 - 1
        assert rows(warehouse, real_rows, (today,)) == before
    catalog = rows(warehouse, "SELECT snapshot_type, titles, synthetic, batch_id FROM core.snapshots "
                              "WHERE snapshot_date = %s ORDER BY snapshot_type", (today,))
    assert catalog == [("airing", 36, True, None), ("movies", 100, True, None), ("top", 200, True, None),
                       ("upcoming", 25, False, ref["batch_id"])]
    # the generator's earlier days of the same type are there, synthetic
    assert rows(warehouse, "SELECT count(*), bool_and(synthetic) FROM core.anime_snapshots "
                           "WHERE snapshot_type = 'upcoming' AND snapshot_date < %s", (today,)) == [(50, True)]
    # a title with real rows is not a synthetic title, and keeps its real attributes
    assert rows(warehouse, "SELECT bool_or(t.synthetic), count(*) FROM core.titles t WHERE t.mal_id = ANY (%s)",
                ([r[2] for r in before],)) == [(False, 25)]


def test_lists_have_positions_1_to_n_and_the_real_pipelines_sizes(warehouse):
    assert history.default_list_sizes() == REAL_SIZES
    summary = generate_history(warehouse, end_date=END, days=3)
    assert summary["list_sizes"] == REAL_SIZES
    assert all(summary["pool_sizes"][t] >= 1.25 * REAL_SIZES[t] for t in TYPES)
    found = rows(warehouse, "SELECT snapshot_type, snapshot_date, count(*), count(DISTINCT list_position), "
                            "min(list_position), max(list_position) FROM core.anime_snapshots GROUP BY 1, 2")
    assert len(found) == 4 * 3
    for t, _, n, distinct, low, high in found:
        assert n == distinct == high == REAL_SIZES[t] and low == 1


def test_scores_stay_within_0_and_10_and_missing_scores_stay_missing(warehouse):
    generate_history(warehouse, end_date=END, days=60)
    low, high, nulls = rows(warehouse, "SELECT min(score), max(score), count(*) FILTER (WHERE score IS NULL) "
                                       "FROM core.anime_snapshots")[0]
    assert 0 <= low and high <= 10
    # upcoming titles have no score in the corpus, and none made up
    assert nulls > 0
    assert rows(warehouse, "SELECT count(*) FROM core.anime_snapshots WHERE snapshot_type = 'upcoming' "
                           "AND score IS NOT NULL") == [(0,)]


def test_scores_wave_and_audiences_grow_towards_the_corpus_values(warehouse):
    generate_history(warehouse, end_date=END, days=30)
    per_title = rows(warehouse, """
        SELECT mal_id, count(DISTINCT score), (array_agg(members ORDER BY snapshot_date))[1],
               (array_agg(members ORDER BY snapshot_date DESC))[1]
        FROM core.anime_snapshots WHERE snapshot_type = 'top'
        GROUP BY mal_id HAVING count(*) = 30""")
    assert len(per_title) > 150
    assert sum(distinct >= 4 for _, distinct, _, _ in per_title) > 0.9 * len(per_title)
    assert sum(first < last for _, _, first, last in per_title) > 0.9 * len(per_title)
    # on the end date a corpus title has its corpus values
    corpus = {rec.mal_id: rec for _, rec in history.load_corpus()}
    for mal_id, score, members, favorites in rows(warehouse, """
            SELECT mal_id, score, members, favorites FROM core.anime_snapshots
            WHERE snapshot_date = %s AND mal_id < 1000000""", (END,)):
        rec = corpus[mal_id]
        assert (float(score) if score is not None else None, members, favorites) == \
            (rec.score, rec.members, rec.favorites)


def test_titles_enter_and_leave_the_lists_between_consecutive_days(warehouse):
    generate_history(warehouse, end_date=END, days=10)
    by_day = lists(warehouse)
    days = [END - timedelta(days=i) for i in range(9, -1, -1)]
    for yesterday, today in zip(days, days[1:]):
        gone = set(by_day["top", yesterday]) - set(by_day["top", today])
        came = set(by_day["top", today]) - set(by_day["top", yesterday])
        assert gone and came and len(gone) == len(came)
    # lists ordered by popularity change more slowly: members only grow by a few percent a month
    changed = {t for t in TYPES for a, b in zip(days, days[1:]) if set(by_day[t, a]) != set(by_day[t, b])}
    assert {"top", "upcoming"} <= changed


def test_lists_follow_their_query_order_and_a_title_is_the_same_in_every_list(warehouse):
    generate_history(warehouse, end_date=END, days=3)
    found = rows(warehouse, "SELECT snapshot_type, snapshot_date, list_position, mal_id, score, members, rank, "
                            "popularity, scored_by, favorites FROM core.anime_snapshots")
    by_list = defaultdict(list)
    by_title_day = defaultdict(set)
    for t, d, pos, mal_id, score, members, rank, popularity, scored_by, favorites in found:
        by_list[t, d].append((pos, mal_id, score, popularity))
        by_title_day[mal_id, d].add((score, members, rank, popularity, scored_by, favorites))
    for (t, d), items in by_list.items():
        items.sort()
        key = {"score": 2, "popularity": 3}[BY_NAME[t].params["order_by"]]
        assert BY_NAME[t].params["sort"] == "desc"
        present = [i for i in items if i[key] is not None]
        missing = [i for i in items if i[key] is None]
        # desc, NULLs last, ties by mal_id - as the replay orders
        assert items == sorted(present, key=lambda i: (-i[key], i[1])) + sorted(missing, key=lambda i: i[1])
    assert all(len(values) == 1 for values in by_title_day.values())
    # rank and popularity: places by score and by members among the day's titles
    day = defaultdict(list)
    for (mal_id, d), values in by_title_day.items():
        day[d].append((mal_id, *next(iter(values))))
    for titles in day.values():
        by_members = sorted((t for t in titles if t[2] is not None), key=lambda t: (-t[2], t[0]))
        assert [t[4] for t in by_members] == sorted(t[4] for t in by_members)
        by_score = sorted((t for t in titles if t[1] is not None), key=lambda t: (-t[1], t[0]))
        assert [t[3] for t in by_score] == sorted(t[3] for t in by_score)
        assert all(t[3] is None for t in titles if t[1] is None)


def test_catalog_titles_and_tags_are_filled(warehouse):
    generate_history(warehouse, end_date=END, days=3)
    catalog = rows(warehouse, "SELECT snapshot_type, snapshot_date, titles, synthetic, batch_id, run_id "
                              "FROM core.snapshots ORDER BY 1, 2")
    assert catalog == [(t, END - timedelta(days=i), REAL_SIZES[t], True, None, "synthetic:history-generator")
                       for t in sorted(TYPES) for i in (2, 1, 0)]
    (titles, synthetic, seen, first, last), = rows(
        warehouse, "SELECT count(*), bool_and(synthetic), sum(snapshots), min(first_seen), max(last_seen) "
                   "FROM core.titles")
    distinct = rows(warehouse, "SELECT count(DISTINCT mal_id), count(*) FROM core.anime_snapshots")[0]
    assert (titles, seen) == distinct and synthetic is True
    assert (first, last) == (END - timedelta(days=2), END)
    assert rows(warehouse, "SELECT count(DISTINCT tag_kind) FROM core.title_tags") == [(4,)]


def test_the_command_at_scale_writes_1000_titles_per_type_and_day(warehouse, capsys):
    assert history.main(["--days", "3", "--scale-3y", "--end", END.isoformat(), "--log-level", "WARNING"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows_written"] == 4 * 1000 * 3 and summary["list_sizes"] == dict.fromkeys(TYPES, 1000)
    per_day = rows(warehouse, "SELECT snapshot_date, snapshot_type, count(*), max(list_position) "
                              "FROM core.anime_snapshots GROUP BY 1, 2")
    assert len(per_day) == 12 and all(n == high == 1000 for _, _, n, high in per_day)
    # only 415 corpus titles: variants fill the lists (the airing pool: 36 titles x 35 variants)
    assert rows(warehouse, "SELECT max(mal_id / 1000000) FROM core.anime_snapshots "
                           "WHERE snapshot_type = 'airing'") == [(34,)]


def test_the_command_takes_list_sizes_and_refuses_unknown_types(warehouse, capsys):
    assert history.main(["--days", "2", "--end", END.isoformat(), "--list-size", "movies=7",
                         "--log-level", "WARNING"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["list_sizes"] == {**REAL_SIZES, "movies": 7}
    with pytest.raises(SystemExit):
        history.main(["--days", "2", "--list-size", "ova=7"])


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

"""The analytics views answer what they say they answer, checked against the stored rows and payloads.

One warehouse is loaded once for the module: today's four real snapshots through the pipeline (against
the replay), plus hand-made earlier `top` snapshots whose differences are known exactly.
"""
from __future__ import annotations

import collections
import shutil
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import psycopg2
import pytest

from anime_dashboard.analytics import AnalyticsError, apply_analytics
from anime_dashboard.data_dictionary import read_views, render_markdown, undocumented
from pipeline_runs import TODAY, load
from support import PG, ROOT, empty_warehouse, paced_replay, verified_backup

D1, D7, D31 = TODAY - timedelta(days=1), TODAY - timedelta(days=7), TODAY - timedelta(days=31)
LEFT_BEHIND = 990_000_001  # a title only in yesterday's top list
TOP = 354  # titles in today's top list: every finished corpus title (within its 500)


def fetch(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def execute(conn, sql, params=None):
    with conn, conn.cursor() as cur:
        cur.execute(sql, params)


def insert_left_behind(conn) -> None:
    """One extra title, LEFT_BEHIND, at the end of yesterday's top list (in no other list)."""
    execute(conn, """
        INSERT INTO core.anime_snapshots (snapshot_type, snapshot_date, mal_id, list_position, title, score,
            members, genres, payload, run_id, synthetic)
        VALUES ('top', %s, %s, %s, 'Left Behind', 7.5, 10, '{Drama}', '{"test": true}', 'test', true)""",
            (D1, LEFT_BEHIND, TOP + 1))


def copy_top_snapshot(conn, day, *, members_less: int, reverse: bool = False, drop: int | None = None):
    """Today's top snapshot copied to an earlier day: members lower by members_less, score 0.10 lower,
    MAL rank 2 worse, positions reversed if asked, one title (by position) left out."""
    execute(conn, """
        INSERT INTO core.anime_snapshots (snapshot_type, snapshot_date, mal_id, list_position, title, type,
            source, status, rating, score, scored_by, rank, popularity, members, favorites, season, year,
            genres, themes, demographics, studios, payload, batch_id, run_id, synthetic)
        SELECT snapshot_type, %(day)s, mal_id,
               CASE WHEN %(reverse)s THEN %(top)s + 1 - list_position ELSE list_position END,
               title, type, source, status, rating, score - 0.10, scored_by, rank + 2, popularity,
               members - %(less)s, favorites, season, year, genres, themes, demographics, studios,
               '{"test": true}', NULL, 'test', true
        FROM core.anime_snapshots
        WHERE snapshot_type = 'top' AND snapshot_date = %(today)s
          AND list_position IS DISTINCT FROM %(drop)s""",
            {"day": day, "reverse": reverse, "less": members_less, "today": TODAY, "drop": drop, "top": TOP})
    execute(conn, "SELECT core.refresh_snapshot('top', %s)", (day,))


@pytest.fixture(scope="module")
def market(warehouse_db, tmp_path_factory):
    conn = psycopg2.connect(dbname=warehouse_db, **PG)
    empty_warehouse(conn)
    with paced_replay() as replay, pytest.MonkeyPatch.context() as mp:
        import json

        mp.setenv("AIRFLOW_CONN_JIKAN_DEFAULT", json.dumps(
            {"conn_type": "http", "host": replay.host, "port": replay.port, "schema": "http"}))
        for name in ("top", "airing", "upcoming", "movies"):
            load(conn, name, f"views_{name}")
    assert fetch(conn, "SELECT count(*) FROM core.anime_snapshots WHERE snapshot_type = 'top'")[0][0] == TOP
    # history for top: yesterday (positions reversed, position 5 missing, one extra title), 7 and 31 days ago
    copy_top_snapshot(conn, D1, members_less=1000, reverse=True, drop=5)
    insert_left_behind(conn)
    execute(conn, "SELECT core.refresh_snapshot('top', %s)", (D1,))
    copy_top_snapshot(conn, D7, members_less=7000)
    copy_top_snapshot(conn, D31, members_less=31000)
    execute(conn, "SELECT core.refresh_titles(NULL)")
    verified_backup(conn, tmp_path_factory.mktemp("backups"))
    yield conn
    conn.close()


# --- the schema as analysts see it ------------------------------------------------------------------

def test_every_analytics_view_and_column_has_a_comment(market):
    views = read_views(market)
    assert len(views) >= 15
    assert undocumented(views) == []


def test_the_committed_data_dictionary_matches_the_views(market):
    committed = (ROOT / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    assert committed == render_markdown(read_views(market)), (
        "docs/data_dictionary.md is out of date: run `make docs`")


def test_the_analytics_schema_holds_views_only(market):
    kinds = fetch(market, "SELECT c.relkind, count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE n.nspname = 'analytics' GROUP BY 1")
    assert set(dict(kinds)) == {"v"}  # nothing to refresh: the history views read tables the loads keep


def test_every_view_answers_on_the_loaded_warehouse(market):
    for view in read_views(market):
        rows = fetch(market, f"SELECT count(*) FROM analytics.{view.name}")[0][0]
        assert rows > 0, view.name


# --- what is stored ------------------------------------------------------------------------------------

def test_database_stats_and_overview_count_what_is_stored(market):
    stats = {r[0]: r[1:] for r in fetch(market, "SELECT snapshot_type, snapshots, first_snapshot_date, "
                                                "last_snapshot_date, snapshot_rows, titles_tracked FROM analytics.database_stats")}
    truth = {r[0]: r[1:] for r in fetch(market, "SELECT snapshot_type, count(DISTINCT snapshot_date), "
                                                "min(snapshot_date), max(snapshot_date), count(*), count(DISTINCT mal_id) "
                                                "FROM core.anime_snapshots GROUP BY 1")}
    assert stats == truth
    assert stats["top"][0] == 4 and stats["airing"][0] == 1
    (overview,) = fetch(market, "SELECT titles_tracked, snapshots, snapshot_rows, first_snapshot_date, "
                                "last_snapshot_date, last_real_snapshot_date FROM analytics.overview")
    distinct_titles = fetch(market, "SELECT count(DISTINCT mal_id) FROM core.anime_snapshots")[0][0]
    assert overview == (distinct_titles, 7, sum(t[3] for t in truth.values()), D31, TODAY, TODAY)


def test_latest_snapshot_is_the_newest_snapshot_of_each_type(market):
    rows = fetch(market, "SELECT snapshot_type, snapshot_date, count(*), min(list_position), max(list_position) "
                         "FROM analytics.latest_snapshot GROUP BY 1, 2 ORDER BY 1")
    expected = fetch(market, "SELECT snapshot_type, snapshot_date, count(*), 1, count(*) FROM core.anime_snapshots "
                             "WHERE snapshot_date = %s GROUP BY 1, 2 ORDER BY 1", (TODAY,))
    assert rows == expected and len(rows) == 4


# --- the market ----------------------------------------------------------------------------------------

def latest_payloads(conn):
    """(snapshot_type, payload) of today's real rows: the Jikan objects as received."""
    return fetch(conn, "SELECT snapshot_type, payload FROM core.anime_snapshots WHERE snapshot_date = %s", (TODAY,))


def test_the_tag_bridge_lists_each_titles_genres_themes_demographics_and_studios(market):
    expected = set()
    for _, payload in latest_payloads(market):
        for kind, key in (("genre", "genres"), ("theme", "themes"), ("demographic", "demographics"),
                          ("studio", "studios")):
            expected |= {(payload["mal_id"], kind, e["name"]) for e in payload.get(key) or []}
    stored = set(fetch(market, "SELECT mal_id, tag_kind, tag_name FROM analytics.title_tags WHERE mal_id <> %s",
                       (LEFT_BEHIND,)))
    assert stored == expected and len(expected) > 500


def test_genre_distribution_counts_the_tags_of_each_latest_list(market):
    counts = collections.Counter()
    sizes = collections.Counter()
    for snapshot_type, payload in latest_payloads(market):
        sizes[snapshot_type] += 1
        for kind, key in (("genre", "genres"), ("theme", "themes"), ("demographic", "demographics")):
            for e in payload.get(key) or []:
                counts[(snapshot_type, kind, e["name"])] += 1
    rows = fetch(market, "SELECT snapshot_type, tag_kind, tag_name, titles, share_of_titles, snapshot_date "
                         "FROM analytics.genre_distribution")
    assert {(r[0], r[1], r[2]): r[3] for r in rows} == dict(counts)
    for r in rows:
        assert r[4] == (Decimal(r[3]) / sizes[r[0]]).quantize(Decimal('0.0001'), ROUND_HALF_UP) and r[5] == TODAY


def test_top_rated_ranks_every_scored_latest_title_once_by_score(market):
    rows = fetch(market, "SELECT score_rank, mal_id, score, in_lists FROM analytics.top_rated ORDER BY score_rank, mal_id")
    scored = {}
    for snapshot_type, payload in latest_payloads(market):
        if payload.get("score") is not None:
            scored.setdefault(payload["mal_id"], (payload["score"], set()))[1].add(snapshot_type)
    assert {r[1] for r in rows} == set(scored) and len(rows) == len(scored)
    scores = [r[2] for r in rows]
    assert scores == sorted(scores, reverse=True) and rows[0][0] == 1
    for _, mal_id, score, in_lists in rows:
        assert float(score) == pytest.approx(scored[mal_id][0])
        assert in_lists == ", ".join(sorted(scored[mal_id][1]))


def test_seasonal_trends_count_each_title_once_at_its_latest_figures(market):
    latest = {}
    for mal_id, day, synthetic, year, season, score, members in fetch(
            market, "SELECT mal_id, snapshot_date, synthetic, year, season, score, members FROM core.anime_snapshots "
                    "ORDER BY snapshot_date, synthetic DESC"):
        latest[mal_id] = (year, season, score, members, synthetic)
    groups = collections.defaultdict(list)
    all_synthetic = {m for (m,) in fetch(market, "SELECT mal_id FROM core.anime_snapshots GROUP BY 1 HAVING bool_and(synthetic)")}
    for mal_id, (year, season, score, members, _) in latest.items():
        if year is not None and season is not None:
            groups[(year, season, mal_id in all_synthetic)].append((score, members))
    rows = fetch(market, "SELECT year, season, is_synthetic, titles, scored_titles, avg_score, total_members, "
                         "season_start FROM analytics.seasonal_trends")
    assert {(r[0], r[1], r[2]): r[3] for r in rows} == {k: len(v) for k, v in groups.items()}
    for year, season, synthetic, _, scored, avg_score, total, start in rows:
        values = groups[(year, season, synthetic)]
        real_scores = [s for s, _ in values if s is not None]
        assert scored == len(real_scores)
        if real_scores:
            assert avg_score == (sum(real_scores) / len(real_scores)).quantize(Decimal('0.01'), ROUND_HALF_UP)
        assert total == sum(m or 0 for _, m in values)
        assert start.year == year and start.month == {"winter": 1, "spring": 4, "summer": 7, "fall": 10}[season]


def test_studio_leaderboard_and_catalog_mix_describe_the_latest_lists(market):
    studios = collections.Counter()
    mix = collections.Counter()
    for snapshot_type, p in latest_payloads(market):
        for s in p.get("studios") or []:
            studios[(snapshot_type, s["name"])] += 1
        for dim, key in (("media_type", "type"), ("rating", "rating"), ("source", "source")):
            mix[(snapshot_type, dim, p.get(key) or "Unknown")] += 1
    board = fetch(market, "SELECT snapshot_type, studio, titles, studio_rank FROM analytics.studio_leaderboard")
    assert {(r[0], r[1]): r[2] for r in board} == dict(studios)
    for snapshot_type in {r[0] for r in board}:
        ranked = sorted((r for r in board if r[0] == snapshot_type), key=lambda r: r[3])
        assert ranked[0][3] == 1 and ranked[0][2] == max(r[2] for r in ranked)
    rows = fetch(market, "SELECT snapshot_type, dimension, value, titles, share_of_titles FROM analytics.catalog_mix")
    assert {(r[0], r[1], r[2]): r[3] for r in rows} == dict(mix)
    shares = collections.defaultdict(Decimal)
    for r in rows:
        shares[(r[0], r[1])] += r[4]
    assert all(abs(total - 1) <= Decimal("0.001") for total in shares.values())


# --- history -------------------------------------------------------------------------------------------

def test_movers_compare_the_latest_list_with_the_previous_snapshot_and_7_and_30_days_before(market):
    rows = fetch(market, """
        SELECT mal_id, list_position, previous_date, position_change, rank_change, score_change, members_change,
               week_ago_date, position_change_7d, members_change_7d, month_ago_date, members_change_30d,
               score_change_30d
        FROM analytics.movers WHERE snapshot_type = 'top'""")
    assert len(rows) == TOP
    for (mal_id, pos, prev, d_pos, d_rank, d_score, d_members, week, d_pos7, d_members7, month, d_members30,
         d_score30) in rows:
        assert (prev, week, month) == (D1, D7, D31)  # 30 days back: the newest snapshot at least 30 days older
        if pos == 5:  # left out of yesterday's list: new in today's
            assert (d_pos, d_rank, d_score, d_members) == (None, None, None, None)
        else:
            assert d_pos == (TOP + 1 - pos) - pos  # yesterday's positions were reversed
            assert (d_rank, d_score, d_members) == (2, Decimal("0.10"), 1000) or d_score is None
        assert (d_pos7, d_members7, d_members30) == (0, 7000, 31000)
        assert d_score30 in (Decimal("0.10"), None)
    other = fetch(market, "SELECT DISTINCT previous_date, position_change FROM analytics.movers WHERE snapshot_type = 'airing'")
    assert other == [(None, None)]  # a single snapshot has nothing to compare with


def test_list_changes_show_the_titles_that_entered_and_left_each_list(market):
    changes = fetch(market, "SELECT snapshot_date, previous_snapshot_date, change, mal_id, list_position "
                            "FROM analytics.list_changes WHERE snapshot_type = 'top' ORDER BY snapshot_date, change")
    fifth = fetch(market, "SELECT mal_id FROM core.anime_snapshots WHERE snapshot_type = 'top' AND snapshot_date = %s "
                          "AND list_position = 5", (TODAY,))[0][0]
    assert changes == [
        (D1, D7, "entered", LEFT_BEHIND, TOP + 1),       # only in yesterday's list
        (D1, D7, "left", fifth, 5),                   # missing from yesterday's, present 7 days ago
        (TODAY, D1, "entered", fifth, 5),
        (TODAY, D1, "left", LEFT_BEHIND, TOP + 1),
    ]


def test_market_daily_summarises_every_snapshot(market):
    rows = fetch(market, "SELECT snapshot_type, snapshot_date, titles, total_members, avg_score FROM analytics.market_daily")
    truth = fetch(market, "SELECT snapshot_type, snapshot_date, count(*), sum(members), round(avg(score), 3) "
                          "FROM core.anime_snapshots GROUP BY 1, 2")
    assert sorted(rows) == sorted(truth) and len(rows) == 7


def test_title_history_follows_one_title_across_days(market):
    mal_id, title = fetch(market, "SELECT mal_id, title FROM core.anime_snapshots WHERE snapshot_type = 'top' "
                                  "AND snapshot_date = %s AND list_position = 10", (TODAY,))[0]
    rows = fetch(market, "SELECT snapshot_date, members, is_synthetic FROM analytics.title_history "
                         "WHERE title = %s AND snapshot_type = 'top' ORDER BY snapshot_date", (title,))
    today_members = rows[-1][1]
    assert [(d, today_members - m, s) for d, m, s in rows] == [
        (D31, 31000, True), (D7, 7000, True), (D1, 1000, True), (TODAY, 0, False)]


# --- refresh and rebuild -------------------------------------------------------------------------------

def test_history_views_change_with_the_load_that_writes_a_snapshot_and_never_block_readers(market, warehouse_db):
    day = TODAY - timedelta(days=2)  # between D7 and D1: D1 is compared with it from now on
    reader = psycopg2.connect(dbname=warehouse_db, **PG)
    writer = psycopg2.connect(dbname=warehouse_db, **PG, options="-c lock_timeout=3000")
    try:  # a reader in the middle of a transaction on both history views
        fetch(reader, "SELECT count(*) FROM analytics.market_daily")
        fetch(reader, "SELECT count(*) FROM analytics.list_changes")
        copy_top_snapshot(writer, day, members_less=2000)  # its commit keeps the history: no refresh
        reader.rollback()
        assert fetch(market, "SELECT titles FROM analytics.market_daily WHERE snapshot_type = 'top' "
                             "AND snapshot_date = %s", (day,)) == [(TOP,)]
        assert {p for (p,) in fetch(market, "SELECT DISTINCT previous_snapshot_date FROM analytics.list_changes "
                                            "WHERE snapshot_date = %s", (D1,))} == {day}
    finally:
        execute(writer, "DELETE FROM core.anime_snapshots WHERE snapshot_date = %s", (day,))
        execute(writer, "SELECT core.refresh_snapshot('top', %s)", (day,))
        reader.close()
        writer.close()
    assert fetch(market, "SELECT count(*) FROM analytics.market_daily WHERE snapshot_date = %s", (day,)) == [(0,)]
    assert {p for (p,) in fetch(market, "SELECT DISTINCT previous_snapshot_date FROM analytics.list_changes "
                                        "WHERE snapshot_date = %s", (D1,))} == {D7}


def test_analytics_definitions_rebuild_only_when_changed_and_a_broken_one_changes_nothing(market, tmp_path):
    assert apply_analytics(market) is False  # unchanged: nothing done
    definitions = tmp_path / "analytics"
    shutil.copytree(ROOT / "sql" / "analytics", definitions)
    (definitions / "900_extra.sql").write_text(
        "CREATE VIEW analytics.extra AS SELECT 1 AS one;\nCOMMENT ON VIEW analytics.extra IS 'x';\n")
    try:
        assert apply_analytics(market, definitions) is True
        assert fetch(market, "SELECT one FROM analytics.extra") == [(1,)]
        assert fetch(market, "SELECT count(*) FROM analytics.list_changes")[0][0] > 0  # rebuilt with data
        (definitions / "901_broken.sql").write_text("CREATE VIEW analytics.broken AS SELECT nope FROM nowhere;\n")
        with pytest.raises(AnalyticsError, match="901_broken.sql"):
            apply_analytics(market, definitions)
        assert fetch(market, "SELECT one FROM analytics.extra") == [(1,)]  # the previous build is intact
    finally:
        assert apply_analytics(market) is True  # back to the project's definitions
    assert fetch(market, "SELECT to_regclass('analytics.extra')") == [(None,)]


def test_the_upsert_keeps_titles_and_tags_in_step_when_a_title_leaves_every_list(market):
    # LEFT_BEHIND is only in yesterday's top list; remove that row as a rerun of yesterday would
    execute(market, "DELETE FROM core.anime_snapshots WHERE mal_id = %s", (LEFT_BEHIND,))
    execute(market, "SELECT core.refresh_titles(ARRAY[%s])", (LEFT_BEHIND,))
    try:
        assert fetch(market, "SELECT count(*) FROM analytics.titles WHERE mal_id = %s", (LEFT_BEHIND,)) == [(0,)]
        assert fetch(market, "SELECT count(*) FROM analytics.title_tags WHERE mal_id = %s", (LEFT_BEHIND,)) == [(0,)]
    finally:
        insert_left_behind(market)
        execute(market, "SELECT core.refresh_titles(ARRAY[%s])", (LEFT_BEHIND,))
    assert fetch(market, "SELECT tag_kind, tag_name FROM analytics.title_tags WHERE mal_id = %s",
                 (LEFT_BEHIND,)) == [("genre", "Drama")]

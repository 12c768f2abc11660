"""After the upsert: data quality checks fail a run visibly; a good run publishes and the refresh follows."""
from __future__ import annotations

from datetime import datetime, timezone

from testkit.replay_faults import Fault


def fetch(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def test_a_loader_bug_writing_negative_members_fails_the_column_check_and_the_run(dags, warehouse, replay):
    # stands in for a bug in our own load path: the model rejects negative members, so only a defect
    # between validation and the table could write one; the check must catch it after the fact
    with warehouse, warehouse.cursor() as cur:
        cur.execute("""
            CREATE FUNCTION pg_temp_corrupt() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.list_position = 3 THEN NEW.members := -1; END IF; RETURN NEW; END $$;
            CREATE TRIGGER corrupt BEFORE INSERT ON core.anime_snapshots
                FOR EACH ROW EXECUTE FUNCTION pg_temp_corrupt();""")
    try:
        run = dags["jikan_upcoming"].test(logical_date=datetime.now(timezone.utc))
    finally:
        with warehouse, warehouse.cursor() as cur:
            cur.execute("DROP TRIGGER corrupt ON core.anime_snapshots; DROP FUNCTION pg_temp_corrupt();")
    assert run.state == "failed"
    st = states(run)
    assert st["upsert"] == "success" and st["check_snapshot_table"] == "success"
    assert st["check_snapshot_columns"] == "failed"
    assert st["publish"] in ("upstream_failed", None)  # no Asset event: the refresh is not triggered
    (outcome,) = fetch(warehouse, "SELECT outcome, failed_task, error, inserted FROM analytics.pipeline_runs "
                                  "WHERE run_id = %s", (run.run_id,))
    assert outcome[:2] == ("failed", "check_snapshot_columns") and "members" in outcome[2]
    assert outcome[3] > 0  # the load's own counts are kept


def test_a_list_with_a_gap_in_its_positions_fails_the_table_check(dags, warehouse, replay):
    with warehouse, warehouse.cursor() as cur:
        cur.execute("""
            CREATE FUNCTION pg_temp_gap() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.list_position = 2 THEN NEW.list_position := 1000; END IF; RETURN NEW; END $$;
            CREATE TRIGGER gap BEFORE INSERT ON core.anime_snapshots FOR EACH ROW EXECUTE FUNCTION pg_temp_gap();""")
    try:
        run = dags["jikan_upcoming"].test(logical_date=datetime.now(timezone.utc))
    finally:
        with warehouse, warehouse.cursor() as cur:
            cur.execute("DROP TRIGGER gap ON core.anime_snapshots; DROP FUNCTION pg_temp_gap();")
    st = states(run)
    assert run.state == "failed" and st["check_snapshot_table"] == "failed"
    assert st["check_snapshot_columns"] == "success"


def test_an_extract_that_runs_out_of_retries_is_recorded_as_a_failed_run(dags, warehouse, replay, monkeypatch):
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_MAX_ATTEMPTS", "2")
    replay.script(*[Fault(kind="status", status=500) for _ in range(50)])
    dag = dags["jikan_upcoming"]
    dag.get_task("extract").retries = 0  # the task-level retries would only repeat the same failure here
    try:
        run = dag.test(logical_date=datetime.now(timezone.utc))
    finally:
        dag.get_task("extract").retries = 3
    assert run.state == "failed" and states(run)["extract"] == "failed"
    (outcome,) = fetch(warehouse, "SELECT outcome, failed_task, error, pages, inserted, requests, retries "
                                  "FROM analytics.pipeline_runs WHERE run_id = %s", (run.run_id,))
    assert outcome[:2] == ("failed", "extract") and "500" in outcome[2]
    assert outcome[3:5] == (0, None)  # no page fetched, nothing loaded and nothing counted as loaded
    assert outcome[5:] == (2, 1)  # the two attempts the client made, from its error (no batch was landed)
    assert fetch(warehouse, "SELECT count(*) FROM core.anime_snapshots") == [(0,)]


def test_a_good_run_publishes_with_its_history_rows_already_in_the_analytics_views(dags, warehouse, replay):
    before = fetch(warehouse, "SELECT count(*) FROM analytics.market_daily WHERE snapshot_type = 'movies'")
    assert before == [(0,)]
    run = dags["jikan_movies"].test(logical_date=datetime.now(timezone.utc))
    assert run.state == "success" and set(states(run).values()) == {"success"}
    (outcome,) = fetch(warehouse, "SELECT outcome, failed_task, error, inserted FROM analytics.pipeline_runs "
                                  "WHERE run_id = %s", (run.run_id,))
    assert outcome == ("success", None, None, 117)  # every corpus movie (the list holds 200)
    # the load kept the history in its transaction: nothing waits for the analytics_refresh DAG
    assert fetch(warehouse, "SELECT titles FROM analytics.market_daily WHERE snapshot_type = 'movies'") == [(117,)]

"""The DAG folder parses cleanly into the four snapshot DAGs, the analytics refresh and the backup, configured as
operators expect."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from anime_dashboard.settings import JIKAN_POOL
from anime_dashboard.snapshots import SNAPSHOT_TYPES

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {"jikan_top_anime", "jikan_airing", "jikan_upcoming", "jikan_movies"}
ALL_DAGS = EXPECTED | {"analytics_refresh", "warehouse_backup"}


@pytest.fixture(scope="module")
def dagbag():
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_dag_folder_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_exactly_the_four_snapshot_dags_the_refresh_and_the_backup(dagbag):
    assert set(dagbag.dag_ids) == ALL_DAGS
    assert {s.dag_id for s in SNAPSHOT_TYPES} == EXPECTED


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_each_dag_is_extract_validate_upsert_then_checks_then_publish(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    checks = {"check_snapshot_table", "check_snapshot_columns"}
    assert set(dag.task_ids) == {"extract", "validate", "upsert", "publish"} | checks
    assert dag.get_task("extract").downstream_task_ids == {"validate"}
    assert dag.get_task("validate").downstream_task_ids == {"upsert"}
    assert dag.get_task("upsert").downstream_task_ids == checks | {"publish"}
    for check in checks:
        assert dag.get_task(check).downstream_task_ids == {"publish"}
        assert type(dag.get_task(check)).__name__ in ("SQLTableCheckOperator", "SQLColumnCheckOperator")
        assert dag.get_task(check).conn_id == "warehouse"
    assert dag.get_task("publish").upstream_task_ids == checks | {"upsert"}


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_a_task_that_fails_for_good_records_the_run_as_failed(dagbag, dag_id):
    from anime_dashboard.dag_factory import record_task_failure

    for t in dagbag.dags[dag_id].tasks:
        callbacks = t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback]
        assert record_task_failure in callbacks, t.task_id


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_every_task_that_calls_jikan_is_in_the_jikan_pool(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    # only extract may talk to Jikan: it is in the one-slot pool, the others are not holding it
    assert dag.get_task("extract").pool == JIKAN_POOL
    assert dag.get_task("validate").pool != JIKAN_POOL and dag.get_task("upsert").pool != JIKAN_POOL


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_schedule_retries_and_timeouts(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.catchup is False and dag.max_active_runs == 1
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.timetable.expression in ("@daily", "0 0 * * *")
    assert dag.tags and "jikan" in dag.tags
    assert dag.doc_md and "Jikan snapshots" in dag.doc_md
    for t in dag.tasks:
        if t.task_id.startswith("check_"):
            assert t.retries == 0, "a failed check sees the same data on retry: fail at once"
            continue
        assert t.retries >= 2, t.task_id
        assert t.retry_exponential_backoff
        assert t.execution_timeout is not None and t.execution_timeout <= timedelta(hours=1)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_task_retries_wait_longer_each_time_up_to_the_cap(dagbag, dag_id):
    """What the scheduler computes for the next try, from the serialized DAG as the scheduler has it (Airflow
    3.3 reads retry_exponential_backoff as a multiplier: 1.0 would be a flat retry_delay every time)."""
    import uuid
    from datetime import datetime, timezone

    from airflow.models.taskinstance import TaskInstance
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags[dag_id]))
    failed_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for task in dag.tasks:
        if task.retries == 0:
            continue
        ti = TaskInstance(task, run_id="r", dag_version_id=uuid.uuid4())
        waits = []
        for try_number in range(1, task.retries + 1):
            ti.try_number, ti.end_date = try_number, failed_at
            waits.append(ti.next_retry_datetime() - failed_at)
        assert waits == sorted(waits) and waits[-1] >= 3 * task.retry_delay, (task.task_id, waits)
        assert all(task.retry_delay <= w <= task.max_retry_delay for w in waits), (task.task_id, waits)


def test_publish_emits_one_asset_per_snapshot_type_after_the_checks(dagbag):
    uris = set()
    for s in SNAPSHOT_TYPES:
        dag = dagbag.dags[s.dag_id]
        assert dag.get_task("upsert").outlets == []
        outlets = dag.get_task("publish").outlets
        assert len(outlets) == 1
        uris.add(outlets[0].uri)
    assert len(uris) == 4


def test_analytics_refresh_runs_when_any_snapshot_asset_is_published(dagbag):
    from airflow.sdk.definitions.asset import AssetAny

    dag = dagbag.dags["analytics_refresh"]
    published = {o.uri for s in SNAPSHOT_TYPES for o in dagbag.dags[s.dag_id].get_task("publish").outlets}
    condition = dag.timetable.asset_condition
    assert isinstance(condition, AssetAny)
    assert {a.uri for a in condition.objects} == published and len(condition.objects) == 4
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.doc_md and "Analytics refresh" in dag.doc_md
    assert dag.task_ids == ["refresh_superset_cache"]  # the loads keep the history views themselves


def test_the_backup_runs_after_any_publish_and_daily_at_3_utc_then_verifies_and_applies_retention(dagbag):
    from airflow.sdk import AssetOrTimeSchedule, TriggerRule
    from airflow.sdk.definitions.asset import AssetAny

    dag = dagbag.dags["warehouse_backup"]
    published = {o.uri for s in SNAPSHOT_TYPES for o in dagbag.dags[s.dag_id].get_task("publish").outlets}
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    condition = dag.timetable.asset_condition
    assert isinstance(condition, AssetAny) and {a.uri for a in condition.objects} == published
    assert (dag.timetable.timetable.expression, str(dag.timetable.timetable.timezone)) == ("0 3 * * *", "UTC")
    assert dag.catchup is False and dag.max_active_runs == 1 and "Warehouse backup" in dag.doc_md
    assert dag.get_task("verify").upstream_task_ids == {"backup"}
    assert dag.get_task("retention").upstream_task_ids == {"backup", "verify"}
    # verify runs after a failed backup too; retention never after a failed backup or verification
    assert dag.get_task("verify").trigger_rule == TriggerRule.ALL_DONE
    assert dag.get_task("retention").trigger_rule == TriggerRule.NONE_FAILED
    assert all(t.pool == "default_pool" for t in dag.tasks)  # no Jikan call


def test_without_a_superset_connection_the_cache_refresh_skips_and_says_why(dagbag, monkeypatch):
    from airflow.sdk.exceptions import AirflowSkipException

    monkeypatch.delenv("AIRFLOW_CONN_SUPERSET", raising=False)
    task = dagbag.dags["analytics_refresh"].get_task("refresh_superset_cache")
    with pytest.raises(AirflowSkipException, match="no Airflow connection 'superset'"):
        task.python_callable()


PROBE = r"""
import sys, json
from airflow.dag_processing.dagbag import DagBag  # Airflow's own start-up may shell out (platform probes)
import airflow.sdk
events = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "subprocess.Popen", "os.system"):
        events.append([event, repr(args)[:200]])
    elif event == "open":
        path = str(args[0])
        if path.endswith((".json", ".sql", ".csv")) and "/site-packages/" not in path:
            events.append([event, path])
sys.addaudithook(hook)
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "events": events}))
"""


def test_parsing_the_dag_folder_does_no_io():
    """Import in a fresh interpreter with audit hooks: no sockets, no processes, no data files read.

    The connections point at closed ports, so a DB or HTTP call at import would also fail the parse.
    """
    env = os.environ.copy()
    env["AIRFLOW_CONN_WAREHOUSE"] = "postgresql://nobody@127.0.0.1:1/none"
    env["AIRFLOW_CONN_JIKAN_DEFAULT"] = json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 1})
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "dags")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert set(result["dags"]) == ALL_DAGS
    assert result["events"] == []

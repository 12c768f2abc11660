"""DAG builders.

Snapshot type -> DAG (TaskFlow): extract (pool ``jikan_api``) -> validate -> upsert -> data quality
checks -> publish (emits the type's Asset). The ``analytics_refresh`` DAG is scheduled on those Assets.

Task bodies import the pipeline lazily, so parsing the DAG folder stays cheap and does no I/O.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, dag, get_current_context, task

from anime_dashboard.settings import JIKAN_POOL, SUPERSET_CONN_ID, WAREHOUSE_CONN_ID
from anime_dashboard.snapshots import BY_DAG_ID, SNAPSHOT_TYPES, SnapshotType

START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)


def record_task_failure(context) -> None:
    """on_failure_callback (after the last retry): the run's outcome becomes ``failed``, with the task
    and the error, in core.run_metrics. A failure to record is logged, never raised over the real one."""
    import logging

    try:
        from anime_dashboard.run_outcomes import record_outcome
        from anime_dashboard.warehouse.db import connect

        dag_run = context["dag_run"]
        snapshot = BY_DAG_ID[dag_run.dag_id]
        snapshot_date = _snapshot_date(dag_run)
        error = context.get("exception")
        with connect() as conn:
            record_outcome(conn, dag_id=dag_run.dag_id, run_id=context["run_id"],
                           snapshot_type=snapshot.name, snapshot_date=snapshot_date, outcome="failed",
                           failed_task=context["ti"].task_id,
                           error=f"{type(error).__name__}: {error}" if error else None,
                           stats=getattr(error, "stats", None))
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).exception("could not record the failed run in core.run_metrics")


DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    # a multiplier in Airflow 3.3 (serialization reads True as 2.0; said outright here): about 30 s, 60 s,
    # 120 s with jitter, at most max_retry_delay
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=10),
    "on_failure_callback": record_task_failure,
}
# the DAGs downstream of the snapshots: no snapshot run's outcome to record
DOWNSTREAM_DEFAULT_ARGS = {k: v for k, v in DEFAULT_ARGS.items() if k != "on_failure_callback"}
DAG_ARGS = {"start_date": START_DATE, "catchup": False, "max_active_runs": 1}  # every DAG here: one run at a time


def snapshot_asset(snapshot: SnapshotType) -> Asset:
    """The Asset an upsert of this snapshot type updates (downstream DAGs schedule on it)."""
    return Asset(name=snapshot.asset_name, uri=f"x-anime-dashboard://core/anime_snapshots/{snapshot.name}",
                 group="anime_snapshots")


def _push_progress(progress: dict) -> None:
    """The extract's progress as the XCom ``progress`` (pages fetched, of how many, records): the Airflow UI
    shows it while the task runs, and the main job reads it through the REST API."""
    from airflow.sdk import get_current_context

    get_current_context()["ti"].xcom_push(key="progress", value=progress)


def _snapshot_date(dag_run):
    """The run's snapshot date (see pipeline.snapshot_date_for): extract and the failure callback agree."""
    from anime_dashboard import pipeline

    return pipeline.snapshot_date_for(dag_run.logical_date, getattr(dag_run, "run_after", None),
                                      dag_run.start_date)


def _run_identity() -> tuple[str, str, object]:
    context = get_current_context()
    dag_run = context["dag_run"]
    return dag_run.dag_id, context["run_id"], dag_run


def _quality_checks(snapshot: SnapshotType) -> list:
    """common-sql check operators over the snapshot just loaded (see anime_dashboard.quality)."""
    from airflow.providers.common.sql.operators.sql import SQLColumnCheckOperator, SQLTableCheckOperator

    from anime_dashboard import quality

    clause = quality.partition_clause_template(snapshot)
    return [
        SQLTableCheckOperator(task_id="check_snapshot_table", conn_id=WAREHOUSE_CONN_ID,
                              table=quality.TABLE, checks=quality.TABLE_CHECKS, partition_clause=clause,
                              retries=0),
        SQLColumnCheckOperator(task_id="check_snapshot_columns", conn_id=WAREHOUSE_CONN_ID,
                               table=quality.TABLE, column_mapping=quality.COLUMN_CHECKS,
                               partition_clause=clause, retries=0),
    ]


def _snapshot_doc(snapshot: SnapshotType, doc_md: str) -> str:
    """The DAG file's doc followed by what this type's DAG fetches."""
    return (doc_md or "") + f"\n\n## This DAG: `{snapshot.name}`\n\n{snapshot.description}: " \
        f"`GET /v4/anime?{snapshot.query_string}`, up to {snapshot.max_pages} pages of 25 (its list definition: " \
        "a new query or cap starts a new version of the list).\n"


def _extract(snapshot: SnapshotType) -> dict:
    """The extract task's body; a run whose snapshot date has passed is recorded ``skipped`` and skipped."""
    from airflow.sdk.exceptions import AirflowSkipException

    from anime_dashboard import pipeline
    from anime_dashboard.warehouse.db import connect

    dag_id, run_id, dag_run = _run_identity()
    snapshot_date = _snapshot_date(dag_run)
    try:
        with connect() as conn:
            return pipeline.extract(snapshot, conn=conn, dag_id=dag_id, run_id=run_id,
                                    snapshot_date=snapshot_date, on_page=_push_progress)
    except pipeline.StaleSnapshotDate as exc:  # backfill / cleared old run: Jikan has no history
        from anime_dashboard.run_outcomes import record_outcome

        with connect() as conn:
            record_outcome(conn, dag_id=dag_id, run_id=run_id, snapshot_type=snapshot.name,
                           snapshot_date=snapshot_date, outcome="skipped", error=str(exc))
        raise AirflowSkipException(str(exc)) from exc


def _validate(extracted: dict) -> dict:
    """The validate task's body; too many rejects or an empty snapshot fail the task without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from anime_dashboard import pipeline
    from anime_dashboard.settings import max_reject_share
    from anime_dashboard.warehouse.db import connect

    with connect() as conn:
        try:
            return pipeline.validate(extracted["batch_id"], conn=conn, max_reject_share=max_reject_share())
        except (pipeline.TooManyRejects, pipeline.EmptySnapshot) as exc:
            raise AirflowFailException(str(exc)) from exc  # a retry would see the same data


def _upsert(validated: dict) -> dict:
    from anime_dashboard import pipeline
    from anime_dashboard.warehouse.db import connect

    _, run_id, _ = _run_identity()
    with connect() as conn:
        return pipeline.upsert(validated["batch_id"], conn=conn, run_id=run_id)


def _publish(loaded: dict) -> dict:
    from anime_dashboard.run_outcomes import mark_published
    from anime_dashboard.warehouse.db import connect

    dag_id, run_id, _ = _run_identity()
    with connect() as conn:
        mark_published(conn, dag_id=dag_id, run_id=run_id)
    return loaded


def build_snapshot_dag(snapshot: SnapshotType, doc_md: str = ""):
    """One DAG for one snapshot type; the DAG file calls this once per entry of SNAPSHOT_TYPES."""

    @dag(dag_id=snapshot.dag_id, description=f"Daily Jikan snapshot: {snapshot.description}",
         schedule=snapshot.schedule, default_args=DEFAULT_ARGS, tags=["jikan", "snapshot", snapshot.name],
         doc_md=_snapshot_doc(snapshot, doc_md), **DAG_ARGS)
    def snapshot_dag():
        @task(pool=JIKAN_POOL, execution_timeout=timedelta(minutes=20))
        def extract() -> dict:
            """Jikan pages -> raw.jikan_pages (one batch). Only this task calls Jikan."""
            return _extract(snapshot)

        @task
        def validate(extracted: dict) -> dict:
            """raw batch -> core.staged_records (valid, de-duplicated) and core.rejects (with errors)."""
            return _validate(extracted)

        @task
        def upsert(validated: dict) -> dict:
            """staged batch -> core.anime_snapshots (+ catalog, titles, tags) + core.run_metrics, one
            transaction."""
            return _upsert(validated)

        @task(outlets=[snapshot_asset(snapshot)])
        def publish(loaded: dict) -> dict:
            """The snapshot passed its checks: run outcome ``success``; the Asset event triggers the
            analytics refresh."""
            return _publish(loaded)

        loaded = upsert(validate(extract()))
        checks = _quality_checks(snapshot)
        loaded >> checks >> publish(loaded)

    return snapshot_dag()


def _any_snapshot_published():
    """A schedule on the Assets of every snapshot type: any one of them updated."""
    assets = [snapshot_asset(s) for s in SNAPSHOT_TYPES]
    schedule = assets[0]
    for asset in assets[1:]:
        schedule = schedule | asset
    return schedule


def build_analytics_refresh_dag(doc_md: str = ""):
    """analytics_refresh: when any snapshot type publishes, refresh Superset's chart caches."""

    @dag(dag_id="analytics_refresh", description="Refresh Superset's chart caches when a new snapshot is published",
         schedule=_any_snapshot_published(), default_args=DOWNSTREAM_DEFAULT_ARGS, tags=["analytics"],
         doc_md=doc_md, **DAG_ARGS)
    def analytics_refresh():
        @task
        def refresh_superset_cache() -> dict:
            """Invalidate the warehouse datasets' chart caches in Superset and warm every chart again."""
            from airflow.sdk.exceptions import AirflowSkipException

            from anime_dashboard.dashboards.cache import refresh_caches
            from anime_dashboard.dashboards.client import client_from_airflow_connection

            client = client_from_airflow_connection(SUPERSET_CONN_ID)
            if client is None:
                raise AirflowSkipException(
                    f"no Airflow connection {SUPERSET_CONN_ID!r}: Superset's caches expire at their TTL "
                    "instead (make run sets AIRFLOW_CONN_SUPERSET)")
            return refresh_caches(client)

        refresh_superset_cache()

    return analytics_refresh()


BACKUP_FALLBACK_CRON = "0 3 * * *"  # a day without any publish is still backed up (UTC)


def _backup_location():
    from anime_dashboard.backups.location import BackupLocation
    from anime_dashboard.settings import backup_settings

    return BackupLocation(backup_settings().url)


def _record_backups(location) -> None:
    """The warehouse's mirror of the location (analytics.backups) rewritten; a failure is logged only: the
    location is the truth and the next task writes it again."""
    import logging

    from anime_dashboard.backups.catalog import record_backups
    from anime_dashboard.warehouse.db import connect

    try:
        with connect() as conn:
            record_backups(conn, location)
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).exception("could not update core.backups from %s", location)


def build_backup_dag(doc_md: str = ""):
    """warehouse_backup: after any snapshot publishes (and daily at 03:00 UTC), back everything up, verify a
    backup when one is due, then apply retention."""
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, TriggerRule

    @dag(dag_id="warehouse_backup",
         description="Back up the warehouse and the metadata databases after each publish; verify; retention",
         schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable(BACKUP_FALLBACK_CRON, timezone="UTC"),
                                      assets=_any_snapshot_published()),
         default_args=DOWNSTREAM_DEFAULT_ARGS, tags=["backup"], doc_md=doc_md, **DAG_ARGS)
    def warehouse_backup():
        @task(retries=1, execution_timeout=timedelta(hours=1))
        def backup() -> dict:
            """Every configured database dumped (pg_dump / SQLite's backup API) with a manifest, into
            ANIME_DASHBOARD_BACKUP_URL."""
            from anime_dashboard.backups.take import size_of, take_backup

            location = _backup_location()
            manifest = take_backup(location, trigger=get_current_context()["run_id"])
            _record_backups(location)
            return {"backup_id": manifest["backup_id"], "location": str(location), "bytes": size_of(manifest),
                    "seconds": manifest["duration_seconds"], "databases": sorted(manifest["databases"])}

        @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, execution_timeout=timedelta(hours=1))
        def verify() -> dict:
            """When due (weekly, or after a failed backup): the newest backup restored into scratch databases
            and compared with its manifest; a mismatch fails the run."""
            from airflow.sdk.exceptions import AirflowSkipException

            from anime_dashboard.backups.verify import verification_due, verify_backup
            from anime_dashboard.settings import backup_settings

            location = _backup_location()
            taken = get_current_context()["ti"].xcom_pull(task_ids="backup")
            reason = verification_due(location, backup_settings().verify_every_days, backup_failed=taken is None)
            if reason is None:
                raise AirflowSkipException(f"not due: a backup in {location} was verified within the last "
                                           f"{backup_settings().verify_every_days} days")
            ids = location.backup_ids()
            if not ids:
                raise AirflowSkipException(f"{reason}, but {location} holds no backup to verify")
            try:
                return {"reason": reason, **verify_backup(location, ids[-1])}
            finally:
                _record_backups(location)

        @task(trigger_rule=TriggerRule.NONE_FAILED)
        def retention() -> dict:
            """Keep the last 7 daily, 4 weekly and 12 monthly backups and the newest verified one; delete the
            rest. Never runs after a failed backup or verification."""
            import logging

            from anime_dashboard.backups.retention import apply_retention
            from anime_dashboard.backups.verify import newest_verified
            from anime_dashboard.settings import backup_settings

            location = _backup_location()
            try:
                return apply_retention(location, backup_settings(), newest_verified(location),
                                       out=logging.getLogger(__name__).info)
            finally:
                _record_backups(location)

        taken, checked = backup(), verify()
        taken >> checked
        [taken, checked] >> retention()

    return warehouse_backup()

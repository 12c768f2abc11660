"""Snapshot type -> DAG (TaskFlow): extract (pool ``jikan_api``) -> validate -> upsert (emits an Asset).

Task bodies import the pipeline lazily, so parsing the DAG folder stays cheap and does no I/O.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, dag, get_current_context, task

from anime_dashboard.settings import JIKAN_POOL
from anime_dashboard.snapshots import SnapshotType

START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)

DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=10),
}


def snapshot_asset(snapshot: SnapshotType) -> Asset:
    """The Asset an upsert of this snapshot type updates (downstream DAGs schedule on it)."""
    return Asset(name=snapshot.asset_name, uri=f"x-anime-dashboard://core/anime_snapshots/{snapshot.name}",
                 group="anime_snapshots")


def _run_identity() -> tuple[str, str, object]:
    context = get_current_context()
    dag_run = context["dag_run"]
    return dag_run.dag_id, context["run_id"], dag_run


def build_snapshot_dag(snapshot: SnapshotType, doc_md: str = ""):
    """One DAG for one snapshot type; the DAG file calls this once per entry of SNAPSHOT_TYPES."""

    @dag(
        dag_id=snapshot.dag_id,
        description=f"Daily Jikan snapshot: {snapshot.description}",
        schedule=snapshot.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["jikan", "snapshot", snapshot.name],
        doc_md=(doc_md or "") + f"\n\n## This DAG: `{snapshot.name}`\n\n{snapshot.description}: "
        f"`GET /v4/anime?{'&'.join(f'{k}={v}' for k, v in snapshot.params.items())}`, "
        f"up to {snapshot.max_pages} pages of 25.\n",
    )
    def snapshot_dag():
        @task(pool=JIKAN_POOL, execution_timeout=timedelta(minutes=20))
        def extract() -> dict:
            """Jikan pages -> raw.jikan_pages (one batch). Only this task calls Jikan."""
            from airflow.sdk.exceptions import AirflowSkipException

            from anime_dashboard import pipeline
            from anime_dashboard.warehouse.db import connect

            dag_id, run_id, dag_run = _run_identity()
            snapshot_date = pipeline.snapshot_date_for(
                dag_run.logical_date, getattr(dag_run, "run_after", None), dag_run.start_date)
            try:
                with connect() as conn:
                    return pipeline.extract(snapshot, conn=conn, dag_id=dag_id, run_id=run_id,
                                            snapshot_date=snapshot_date)
            except pipeline.StaleSnapshotDate as exc:  # backfill / cleared old run: Jikan has no history
                raise AirflowSkipException(str(exc)) from exc

        @task
        def validate(extracted: dict) -> dict:
            """raw batch -> core.staged_records (valid, de-duplicated) and core.rejects (with errors)."""
            from airflow.sdk.exceptions import AirflowFailException

            from anime_dashboard import pipeline
            from anime_dashboard.settings import max_reject_share
            from anime_dashboard.warehouse.db import connect

            with connect() as conn:
                try:
                    return pipeline.validate(extracted["batch_id"], conn=conn,
                                             max_reject_share=max_reject_share())
                except (pipeline.TooManyRejects, pipeline.EmptySnapshot) as exc:
                    raise AirflowFailException(str(exc)) from exc  # a retry would see the same data

        @task(outlets=[snapshot_asset(snapshot)])
        def upsert(validated: dict) -> dict:
            """staged batch -> core.anime_snapshots + core.run_metrics, in one transaction."""
            from anime_dashboard import pipeline
            from anime_dashboard.warehouse.db import connect

            _, run_id, _ = _run_identity()
            with connect() as conn:
                return pipeline.upsert(validated["batch_id"], conn=conn, run_id=run_id)

        upsert(validate(extract()))

    return snapshot_dag()

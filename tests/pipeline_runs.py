"""Whole pipeline runs without Airflow (extract -> validate -> upsert), for tests that need loaded data."""
from __future__ import annotations

from datetime import date, datetime, timezone

from anime_dashboard import pipeline
from anime_dashboard.jikan.client import JikanClient
from anime_dashboard.settings import JikanSettings
from anime_dashboard.snapshots import BY_NAME
from support import JIKAN_PACE

TODAY = datetime.now(timezone.utc).date()


def fast_client(**kw) -> JikanClient:
    """A client paced at Jikan's 3/s JIKAN_PACE times faster, as support.paced_replay, with short back-offs (the
    replay enforces the limit)."""
    s = dict(min_interval=0.34 / JIKAN_PACE, max_attempts=3, backoff_base=0.01, backoff_max=0.1, timeout=2.0) | kw
    return JikanClient(settings=JikanSettings(**s))


def extract_and_validate(conn, name: str, run_id: str, snapshot_date: date = TODAY, dag_id: str = "d") -> int:
    ref = pipeline.extract(BY_NAME[name], conn=conn, dag_id=dag_id, run_id=run_id, snapshot_date=snapshot_date,
                           client=fast_client())
    pipeline.validate(ref["batch_id"], conn=conn, max_reject_share=0.05)
    return ref["batch_id"]


def load(conn, name: str, run_id: str, snapshot_date: date = TODAY, dag_id: str = "d") -> dict:
    """One whole run of the three steps; the upsert's counts."""
    return pipeline.upsert(extract_and_validate(conn, name, run_id, snapshot_date, dag_id), conn=conn,
                           run_id=run_id)

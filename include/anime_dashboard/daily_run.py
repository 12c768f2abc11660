"""The main job's day: the four snapshot DAGs run by the scheduler, watched to the end, with progress.

Against a running Airflow (api-server, scheduler, dag-processor), through its REST API as the admin:

1. waits until the dag-processor has parsed the DAGs; runs of them left queued or running by a main job
   that was stopped are marked failed (nothing else runs them: the main job owns this Airflow);
2. unpauses the four snapshot DAGs, ``analytics_refresh`` and ``warehouse_backup``. Unpausing is what
   schedules today's run (``catchup=False``: the scheduler creates the run of the latest day at once); a DAG
   that already has today's scheduled run gets a manual one instead, through the REST API;
3. prints where each run is at least every ``PROGRESS_SECONDS``: its state, each task's, the extract's
   pages fetched of the cap (its XCom ``progress``) and the rows the upsert wrote;
4. once every snapshot run has finished, waits for the ``analytics_refresh`` and ``warehouse_backup`` runs
   the last publish triggered (Asset events), and returns what each run did.

The scheduler starts the runs, so their durations in the UI are the real ones (``airflow dags test`` dates a
run's start at its logical date, which makes a run of yesterday look about a day long).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from anime_dashboard.airflow_api import AirflowApi

PROGRESS_SECONDS = 6  # a line at least every 10 s: a poll's sleep and a DAG's API calls add to it
POLL_SECONDS = 2
SCHEDULER_GRACE_SECONDS = 30  # how long the scheduler gets to create today's run after the unpause
FINISHED = {"success", "failed"}
REFRESH_DAG = "analytics_refresh"
BACKUP_DAG = "warehouse_backup"
TRIGGERED = (REFRESH_DAG, BACKUP_DAG)  # scheduled on the snapshots' Assets


class DailyRunError(RuntimeError):
    pass


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class Watched:
    dag_id: str
    run: dict | None = None
    how: str = ""  # scheduled / manual
    tasks: dict[str, str] = field(default_factory=dict)
    progress: dict | None = None
    loaded: dict | None = None
    publish_end: datetime | None = None
    known: set[str] = field(default_factory=set)  # its runs before the main job started

    @property
    def state(self) -> str:
        return (self.run or {}).get("state") or "waiting for the scheduler"

    def line(self) -> str:
        parts = []
        for task_id, state in self.tasks.items():
            extra = ""
            if task_id == "extract" and self.progress:
                p = self.progress
                extra = f" {p['pages']}/{p['of']} pages, {p['records']} records"
            if task_id == "upsert" and self.loaded:
                extra = f" {self.loaded.get('inserted', 0)} inserted, {self.loaded.get('updated', 0)} updated"
            parts.append(f"{task_id} {state or 'none'}{extra}")
        run_id = (self.run or {}).get("dag_run_id", "")
        return f"  {self.dag_id:<18} {self.state:<8} {run_id}  " + " | ".join(parts)


def duration(run: dict) -> float | None:
    start, end = _at(run.get("start_date")), _at(run.get("end_date"))
    return (end - start).total_seconds() if start and end else None


class DailyRun:
    def __init__(self, api: AirflowApi, dag_ids: list[str], *, out: Callable[[str], None] = print,
                 timeout: float = 3600, clock: Callable[[], float] = time.monotonic):
        self.api, self.dag_ids, self.out, self.timeout, self.clock = api, dag_ids, out, timeout, clock
        self.watched = {d: Watched(d) for d in dag_ids}
        self.since = datetime.now(timezone.utc)
        self.deadline = clock() + timeout
        self.last_print = float("-inf")

    def _tick(self, what: str) -> None:
        if self.clock() > self.deadline:
            raise DailyRunError(f"timed out after {self.timeout:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)

    def wait_for_dags(self) -> None:
        missing = list(self.dag_ids) + list(TRIGGERED)
        while True:
            missing = [d for d in missing if self.api.dag(d) is None]
            if not missing:
                return
            self._every(lambda: self.out(f"waiting for the dag-processor to parse {', '.join(missing)}"))
            self._tick("the DAGs to be parsed")

    def fail_leftovers(self) -> None:
        for dag_id in self.dag_ids + list(TRIGGERED):
            for run in self.api.runs(dag_id):
                if run["state"] in ("queued", "running"):
                    self.api.request("PATCH", f"dags/{dag_id}/dagRuns/{run['dag_run_id']}",
                                     json={"state": "failed"})
                    self.out(f"{dag_id} {run['dag_run_id']}: left {run['state']} by a main job that was "
                             "stopped; marked failed")

    def start_runs(self) -> None:
        today = self.since.date().isoformat()
        for dag_id, w in self.watched.items():
            before = self.api.runs(dag_id)
            has_today = any(r["run_type"] == "scheduled" and (r.get("logical_date") or "").startswith(today)
                            for r in before)
            w.known = {r["dag_run_id"] for r in before}
            self.api.unpause(dag_id)
            if has_today:  # the scheduler will not run today again: a manual run
                w.run, w.how = self.api.trigger(dag_id), "manual"
        for dag_id in TRIGGERED:
            self.api.unpause(dag_id)
        grace = self.clock() + SCHEDULER_GRACE_SECONDS
        while any(w.run is None for w in self.watched.values()):
            for dag_id, w in self.watched.items():
                if w.run is None:
                    new = [r for r in self.api.runs(dag_id, 5) if r["dag_run_id"] not in w.known]
                    if new:
                        w.run, w.how = new[0], "scheduled"
                    elif self.clock() > grace:
                        self.out(f"{dag_id}: the scheduler made no run in {SCHEDULER_GRACE_SECONDS} s; "
                                 "triggering one")
                        w.run, w.how = self.api.trigger(dag_id), "manual"
            if any(w.run is None for w in self.watched.values()):
                self._tick("the scheduler to create today's runs")
        for w in self.watched.values():
            self.out(f"{w.dag_id}: {w.how} run {w.run['dag_run_id']}")

    def _every(self, show: Callable[[], None]) -> None:
        if self.clock() - self.last_print >= PROGRESS_SECONDS:
            self.last_print = self.clock()
            show()

    def poll(self, w: Watched) -> None:
        dag_id, run_id = w.dag_id, w.run["dag_run_id"]
        w.run = next((r for r in self.api.runs(dag_id, 10) if r["dag_run_id"] == run_id), w.run)
        tis = self.api.task_instances(dag_id, run_id)
        w.tasks = {ti["task_id"]: ti["state"] for ti in tis}
        if w.tasks.get("extract") in ("running", "success", "up_for_retry"):
            w.progress = self.api.xcom(dag_id, run_id, "extract", "progress") or w.progress
        if w.tasks.get("upsert") == "success" and w.loaded is None:
            w.loaded = self.api.xcom(dag_id, run_id, "upsert")
        publish = next((ti for ti in tis if ti["task_id"] == "publish"), None)
        if publish and publish["state"] == "success":
            w.publish_end = _at(publish.get("end_date"))

    def wait_for_snapshots(self) -> None:
        def show() -> None:
            self.out("\n".join([f"{datetime.now(timezone.utc):%H:%M:%S} runs:"]
                                + [w.line() for w in self.watched.values()]))

        while True:
            for w in self.watched.values():
                if w.state not in FINISHED:
                    self.poll(w)
                    self._every(show)  # between DAGs too: on a busy machine a round of polls takes seconds
            self._every(show)
            if all(w.state in FINISHED for w in self.watched.values()):
                return
            self._tick("the snapshot runs")

    def wait_for_triggered(self, dag_id: str) -> dict | None:
        """The run of ``dag_id`` queued after the last publish, once finished (None: nothing published)."""
        ends = [w.publish_end for w in self.watched.values() if w.publish_end]
        if not ends:
            return None
        last = max(ends)
        while True:
            runs = self.api.runs(dag_id, 10)
            after = [r for r in runs if _at(r.get("queued_at")) and _at(r["queued_at"]) >= last]
            busy = [r for r in runs if r["state"] in ("queued", "running")]
            if after and not busy and after[0]["state"] in FINISHED:
                return after[0]
            self._every(lambda: self.out(f"{datetime.now(timezone.utc):%H:%M:%S} {dag_id}: "
                                         + (", ".join(f"{r['dag_run_id']} {r['state']}" for r in busy)
                                            or "waiting for the Asset-triggered run")))
            self._tick(f"the {dag_id} run")

    def __call__(self) -> dict:
        self.wait_for_dags()
        self.fail_leftovers()
        self.start_runs()
        self.last_print = float("-inf")
        self.wait_for_snapshots()
        triggered = {dag_id: self.wait_for_triggered(dag_id) for dag_id in TRIGGERED}
        result = {"runs": {w.dag_id: {"run_id": w.run["dag_run_id"], "how": w.how, "state": w.state,
                                      "seconds": duration(w.run), "pages": (w.progress or {}).get("pages"),
                                      "loaded": w.loaded, "tasks": w.tasks} for w in self.watched.values()},
                  **{key: None if run is None else {"run_id": run["dag_run_id"], "state": run["state"],
                                                    "seconds": duration(run)}
                     for key, run in (("refresh", triggered[REFRESH_DAG]), ("backup", triggered[BACKUP_DAG]))}}
        for dag_id, r in result["runs"].items():
            loaded = r["loaded"] or {}
            self.out(f"{dag_id}: {r['state']} in {r['seconds'] or 0:.0f} s ({r['how']} run {r['run_id']}), "
                     f"{r['pages'] or 0} pages, {loaded.get('inserted', 0)} rows inserted, "
                     f"{loaded.get('updated', 0)} updated")
        for dag_id, run in triggered.items():
            if run is not None:
                self.out(f"{dag_id}: {run['state']} in {duration(run) or 0:.0f} s (run {run['dag_run_id']})")
        if triggered[BACKUP_DAG] is not None and triggered[BACKUP_DAG]["state"] == "success":
            taken = self.api.xcom(BACKUP_DAG, triggered[BACKUP_DAG]["dag_run_id"], "backup")
            if taken:
                self.out(f"backup {taken['backup_id']}: {taken['bytes'] / 1e6:.1f} MB in {taken['location']}")
        return result


def connect_api(url: str, user: str, password: str, *, timeout: float = 180,
                out: Callable[[str], None] = print) -> AirflowApi:
    """A client once the api-server answers (it starts with the rest of Airflow)."""
    import requests

    deadline = time.monotonic() + timeout
    said = False
    while True:
        try:
            return AirflowApi(url, user, password)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise DailyRunError(f"the Airflow api-server at {url} did not answer in {timeout:.0f} s")
            if not said:
                out(f"waiting for the Airflow api-server at {url}")
                said = True
            time.sleep(1)


def main() -> int:
    """``anime-dashboard daily-run``: the four snapshot DAGs through the scheduler; 1 if any run failed."""
    import os

    from anime_dashboard.snapshots import SNAPSHOT_TYPES

    def say(text: str) -> None:
        print(text, flush=True)

    url = f"http://{os.environ.get('AIRFLOW__API__HOST', '127.0.0.1')}:{os.environ.get('AIRFLOW__API__PORT', '8080')}"
    api = connect_api(url, os.environ.get("ANIME_DASHBOARD_AIRFLOW_ADMIN_USER", "admin"),
                      os.environ["ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD"], out=say)
    result = DailyRun(api, [s.dag_id for s in SNAPSHOT_TYPES], out=say)()
    failed = [d for d, r in result["runs"].items() if r["state"] != "success"]
    for key, dag_id in (("refresh", REFRESH_DAG), ("backup", BACKUP_DAG)):
        if result[key] is not None and result[key]["state"] != "success":
            failed.append(dag_id)
    for dag_id in failed:
        say(f"FAILED: {dag_id} (its task logs: the Airflow UI, or $AIRFLOW_HOME/logs/dag_id={dag_id}/)")
    return 1 if failed else 0

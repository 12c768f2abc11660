"""A small client of the Airflow api-server's REST API (v2), as a user's script would use it.

A token from ``POST /auth/token`` (SimpleAuthManager's users), then JSON requests; what the main job and
the tests need: DAGs (pause state), DAG runs (trigger, list), task instances and XCom entries.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import requests

RETRIES = 3


class AirflowApiError(RuntimeError):
    pass


class AirflowApi:
    def __init__(self, url: str, user: str, password: str, *, timeout: float = 30, verify: bool | str = True):
        """``verify``: as requests' (False, or the CA file that signed an HTTPS server's certificate), given with
        each request: a session's own is overridden by REQUESTS_CA_BUNDLE."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.verify = verify
        self.session = requests.Session()
        r = self.session.post(f"{self.url}/auth/token", json={"username": user, "password": password},
                              timeout=timeout, verify=verify)
        if r.status_code not in (200, 201):
            raise AirflowApiError(f"no API token for {user!r} from {self.url}: {r.status_code} {r.text[:300]}")
        self.session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def request(self, method: str, path: str, *, ok=(200, 201), retry: bool | None = None, **kwargs) -> Any:
        """One call; GET and PATCH (idempotent), and calls the caller makes safe to repeat (``retry=True``), are
        tried again on a 5xx, up to RETRIES times, 1, 2, 4 s apart: with SQLite metadata a busy scheduler holds
        the database lock ("Database error")."""
        retry = method in ("GET", "PATCH") if retry is None else retry
        for attempt in range(1 + (RETRIES if retry else 0)):
            if attempt:
                time.sleep(2 ** (attempt - 1))
            r = self.session.request(method, f"{self.url}/api/v2/{path}", timeout=self.timeout, verify=self.verify,
                                     **kwargs)
            if r.status_code < 500:
                break
        if r.status_code not in ok:
            raise AirflowApiError(f"{method} /api/v2/{path}: {r.status_code} {r.text[:1000]}")
        return r.json() if r.content else None

    def dag(self, dag_id: str) -> dict | None:
        """The DAG as the api-server knows it, or None before the dag-processor has parsed it."""
        try:
            return self.request("GET", f"dags/{dag_id}")
        except AirflowApiError as exc:
            if " 404 " in str(exc):
                return None
            raise

    def unpause(self, dag_id: str) -> dict:
        return self.request("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, run_id: str | None = None) -> dict:
        """A manual run now (no logical date: the run's date is when it runs). Its run id is chosen here, so
        that the POST can be sent again after a 5xx: a 409 then means an earlier try made the run (returned)."""
        run_id = run_id or f"manual__{datetime.now(timezone.utc).isoformat()}"
        try:
            return self.request("POST", f"dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None},
                                retry=True)
        except AirflowApiError as exc:
            if " 409 " not in str(exc):
                raise
        return self.request("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def runs(self, dag_id: str, limit: int = 20) -> list[dict]:
        """The DAG's newest runs, newest first."""
        return self.request("GET", f"dags/{dag_id}/dagRuns",
                            params={"order_by": "-run_after", "limit": limit})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.request("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """An XCom value (JSON-serialisable ones as they were pushed), or None when there is none yet."""
        try:
            entry = self.request("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
                                        f"{task_id}/xcomEntries/{key}", params={"deserialize": "true"})
        except AirflowApiError as exc:
            if " 404 " in str(exc):
                return None
            raise
        return entry.get("value")

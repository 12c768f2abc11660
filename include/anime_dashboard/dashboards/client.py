"""A small client for Superset's REST API: JWT login, CSRF token, asset import, chart data, cache upkeep."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests


class SupersetError(RuntimeError):
    """A Superset API call failed; the message names the call, the status and Superset's answer."""


@dataclass
class SupersetClient:
    base_url: str
    username: str
    password: str
    timeout: float = 120.0
    # as requests' (the CA file that signed an HTTPS server's certificate), given with each request: a session's
    # own is overridden by REQUESTS_CA_BUNDLE
    verify: bool | str = True

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session = requests.Session()
        self._logged_in = False

    # --- plumbing -------------------------------------------------------------------------------
    def login(self) -> "SupersetClient":
        resp = self._http("POST", "/api/v1/security/login",
                          json={"username": self.username, "password": self.password, "provider": "db",
                                "refresh": False})
        self._check(resp, "POST /api/v1/security/login")
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        csrf = self._http("GET", "/api/v1/security/csrf_token/")
        self._check(csrf, "GET /api/v1/security/csrf_token/")
        self.session.headers["X-CSRFToken"] = csrf.json()["result"]
        self.session.headers["Referer"] = self.base_url
        self._logged_in = True
        return self

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> requests.Response:
        resp = self.send(method, path, **kwargs)
        self._check(resp, f"{method} {path}", ok)
        return resp

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call as this user (logged in first if need be); the raw response: errors are answers too."""
        if not self._logged_in:
            self.login()
        return self._http(method, path, **kwargs)

    def _http(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request on the session's keep-alive connections, sent again once on a new connection when the
        server dropped the one it went out on (gunicorn closes a connection idle for 2 s; a request leaving just
        then is reset, seen under load). A browser resends then too. A timeout is not resent."""
        url = f"{self.base_url}{path}"
        try:
            return self.session.request(method, url, timeout=self.timeout, verify=self.verify, **kwargs)
        except requests.ConnectionError as exc:
            if isinstance(exc, requests.Timeout):
                raise
        return self.session.request(method, url, timeout=self.timeout, verify=self.verify, **kwargs)

    @staticmethod
    def _check(resp: requests.Response, call: str, ok: tuple[int, ...] = (200,)) -> None:
        if resp.status_code not in ok:
            raise SupersetError(f"Superset {call} answered HTTP {resp.status_code}: {resp.text[:2000]}")

    def wait_healthy(self, deadline_s: float = 120.0) -> None:
        """Wait until GET /health answers OK (the server is up), or raise after deadline_s."""
        end = time.monotonic() + deadline_s
        last = "no answer"
        while time.monotonic() < end:
            try:
                resp = requests.get(f"{self.base_url}/health", timeout=5, verify=self.verify)
                if resp.status_code == 200:
                    return
                last = f"HTTP {resp.status_code}"
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.5)
        raise SupersetError(f"Superset at {self.base_url} is not healthy after {deadline_s:.0f} s ({last})")

    def list_all(self, resource: str, columns: list[str]) -> list[dict[str, Any]]:
        """Every row of GET /api/v1/<resource>/ (paged), with the given columns."""
        rows, page = [], 0
        while True:
            q = f"(columns:!({','.join(columns)}),page:{page},page_size:100)"
            result = self.request("GET", f"/api/v1/{resource}/", params={"q": q}).json()["result"]
            rows.extend(result)
            if len(result) < 100:
                return rows
            page += 1

    # --- what the project uses ------------------------------------------------------------------
    def import_assets(self, bundle: bytes, passwords: dict[str, str]) -> None:
        """POST /api/v1/assets/import/: creates what is new and overwrites what exists (same uuid)."""
        self.request(
            "POST",
            "/api/v1/assets/import/",
            files={"bundle": ("bundle.zip", bundle, "application/zip")},
            data={"passwords": json.dumps(passwords)},
        )

    def import_saved_queries(self, bundle: bytes) -> None:
        """POST /api/v1/saved_query/import/ (overwrite): SQL Lab's saved queries, owned by the user who sends
        them when new (Superset lists a saved query only to its creator)."""
        self.request("POST", "/api/v1/saved_query/import/",
                     files={"formData": ("saved_queries.zip", bundle, "application/zip")},
                     data={"overwrite": "true"})

    def open_sql_lab_tab(self, database_id: int, schema: str, saved_query: dict[str, Any]) -> bool:
        """Give this user a first SQL Lab tab (on the database and schema, holding the saved query) unless they
        have a tab already; True when one was made. SQL Lab otherwise greets a new user with no tab at all."""
        state = self.request("GET", "/api/v1/sqllab/").json()["result"]
        if state.get("tab_state_ids"):
            return False
        editor = {"name": saved_query["label"], "dbId": database_id, "schema": schema, "sql": saved_query["sql"],
                  "remoteId": saved_query["id"], "queryLimit": 1000}
        # /tabstateview/ is one of Superset's views for the browser, not the REST API: it takes the login's
        # session cookie, not the token, so sign in through the login form first (as the browser does)
        self.request("POST", "/login/", ok=(200, 302), allow_redirects=False,
                     data={"username": self.username, "password": self.password,
                           "csrf_token": self.session.headers["X-CSRFToken"]})
        self.request("POST", "/tabstateview/", data={"queryEditor": json.dumps(editor)})
        return True

    def chart_data(self, chart_id: int, *, force: bool = False) -> dict[str, Any]:
        """GET /api/v1/chart/{id}/data/ (the chart's saved query_context): the first query's result."""
        params = {"format": "json", "type": "full"}
        if force:
            params["force"] = "true"
        resp = self.request("GET", f"/api/v1/chart/{chart_id}/data/", params=params)
        return resp.json()["result"][0]

    def invalidate_datasets(self, dataset_ids: list[int]) -> None:
        """POST /api/v1/cachekey/invalidate: drop every cached chart-data key recorded for these datasets."""
        if dataset_ids:
            self.request(
                "POST",
                "/api/v1/cachekey/invalidate",
                ok=(201,),
                json={"datasource_uids": [f"{i}__table" for i in dataset_ids]},
            )

    def warm_up_chart(self, chart_id: int, dashboard_id: int | None = None) -> list[dict[str, Any]]:
        """PUT /api/v1/chart/warm_up_cache: run the chart's query (with its dashboard's filters) into the cache."""
        body: dict[str, Any] = {"chart_id": chart_id}
        if dashboard_id is not None:
            body["dashboard_id"] = dashboard_id
        return self.request("PUT", "/api/v1/chart/warm_up_cache", json=body).json()["result"]

    def execute_sql(self, database_id: int, sql: str, schema: str = "analytics") -> requests.Response:
        """POST /api/v1/sqllab/execute/ synchronously; the raw response (errors are answers too)."""
        return self.send("POST", "/api/v1/sqllab/execute/",
                         json={"database_id": database_id, "sql": sql, "schema": schema, "runAsync": False,
                               "client_id": f"t{time.time_ns() % 10**9}", "queryLimit": 1000})


def client_from_airflow_connection(conn_id: str) -> SupersetClient | None:
    """A client for the Airflow connection ``conn_id`` (http: host, port, schema = http/https, login,
    password), or None when no such connection is defined."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - AirflowNotFoundException and friends: not configured
        return None
    scheme = conn.schema or "http"
    port = f":{conn.port}" if conn.port else ""
    return SupersetClient(f"{scheme}://{conn.host}{port}", conn.login or "admin", conn.password or "")

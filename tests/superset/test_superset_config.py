"""superset/superset_config.py, loaded by Superset's own interpreter (.venv-superset)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-superset" / "bin" / "python"
PRINT_CONFIG = """
import json, runpy
c = runpy.run_path({path!r})
print(json.dumps({{k: c[k] for k in ("CACHE_CONFIG", "DATA_CACHE_CONFIG", "FILTER_STATE_CACHE_CONFIG",
    "EXPLORE_FORM_DATA_CACHE_CONFIG", "SQLALCHEMY_DATABASE_URI", "STORE_CACHE_KEYS_IN_METADATA_DB")}} |
    {{"RESULTS_BACKEND": [type(c["RESULTS_BACKEND"]).__name__, c["RESULTS_BACKEND"].key_prefix]}}))
"""


def load_config(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERSET_", "ANIME_DASHBOARD_SUPERSET_"))}
    full.update(env)
    code = PRINT_CONFIG.format(path=str(ROOT / "superset" / "superset_config.py"))
    return subprocess.run([str(PYTHON), "-c", code], env=full, capture_output=True, text=True)


def test_superset_refuses_to_start_without_a_secret_key():
    result = load_config()
    assert result.returncode != 0
    assert "SUPERSET_SECRET_KEY is not set" in result.stderr


def test_every_cache_and_the_sql_lab_results_live_in_redis_under_their_own_prefix():
    result = load_config(SUPERSET_SECRET_KEY="k" * 40, ANIME_DASHBOARD_SUPERSET_REDIS_URL="redis://10.1.2.3:6380/4",
                         ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX="ss",
                         ANIME_DASHBOARD_SUPERSET_DATABASE_URI="postgresql://superset@db/superset")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout.strip().splitlines()[-1])
    caches = {k: v for k, v in config.items() if k.endswith("_CONFIG")}
    assert {c["CACHE_TYPE"] for c in caches.values()} == {"RedisCache"}
    assert {c["CACHE_REDIS_URL"] for c in caches.values()} == {"redis://10.1.2.3:6380/4"}
    prefixes = [c["CACHE_KEY_PREFIX"] for c in caches.values()] + [config["RESULTS_BACKEND"][1]]
    assert len(set(prefixes)) == 5 and all(p.startswith("ss_") for p in prefixes)
    assert config["RESULTS_BACKEND"][0] == "RedisCache"
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql://superset@db/superset"
    assert config["STORE_CACHE_KEYS_IN_METADATA_DB"] is True


def test_the_metadata_database_defaults_to_a_sqlite_file_in_the_superset_home():
    result = load_config(SUPERSET_SECRET_KEY="k" * 40, ANIME_DASHBOARD_SUPERSET_HOME="/tmp/some-home")
    assert result.returncode == 0, result.stderr
    uri = json.loads(result.stdout.strip().splitlines()[-1])["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:////tmp/some-home/superset.db")


# --- event logging: ANIME_DASHBOARD_SUPERSET_EVENT_LOG ----------------------------------------------------
PRINT_EVENT_LOGGER = """
import runpy
c = runpy.run_path({path!r})
print(c["EVENT_LOG"], type(c["EVENT_LOGGER"]).__name__, type(c["EVENT_LOGGER"]).__mro__[1].__module__)
"""


def load_event_logger(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERSET_", "ANIME_DASHBOARD_SUPERSET_"))}
    full.update(SUPERSET_SECRET_KEY="k" * 40, **env)
    code = PRINT_EVENT_LOGGER.format(path=str(ROOT / "superset" / "superset_config.py"))
    return subprocess.run([str(PYTHON), "-c", code], env=full, capture_output=True, text=True)


def test_api_call_events_go_to_stdout_by_default_and_to_the_metadata_db_on_request():
    default = load_event_logger()
    assert default.returncode == 0, default.stderr
    assert default.stdout.split()[-3:] == ["stdout", "StdoutEventLogger", "superset.utils.log"]
    db = load_event_logger(ANIME_DASHBOARD_SUPERSET_EVENT_LOG="DB")
    assert db.returncode == 0, db.stderr
    assert db.stdout.split()[-3:-1] == ["db", "DBEventLogger"]


def test_an_unknown_event_log_setting_is_refused():
    result = load_event_logger(ANIME_DASHBOARD_SUPERSET_EVENT_LOG="syslog")
    assert result.returncode != 0
    assert "ANIME_DASHBOARD_SUPERSET_EVENT_LOG='syslog': use one of stdout, db" in result.stderr


def _events(log_path: Path) -> list[dict]:
    marker = ":anime_dashboard.superset.events:"
    return [json.loads(line.split(marker, 1)[1]) for line in log_path.read_text(errors="replace").splitlines()
            if marker in line]


def _browser_session(superset) -> requests.Session:
    """A requests session logged in through Superset's /login/ form, as a browser is."""
    session = requests.Session()
    page = session.get(f"{superset.url}/login/", timeout=60).text
    token = re.search(r'csrf_token[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on Superset's login page"
    resp = session.post(f"{superset.url}/login/", allow_redirects=False, timeout=60,
                        data={"username": superset.settings.admin_user, "password": superset.settings.admin_password,
                              "csrf_token": token.group(1)})
    assert resp.status_code == 302 and "/login" not in resp.headers.get("Location", ""), resp.status_code
    session.headers.update({"X-CSRFToken": token.group(1), "Referer": superset.url})
    return session


def test_a_running_superset_logs_api_calls_on_stdout_and_keeps_dashboard_views_for_recents(superset):
    if os.environ.get("ANIME_DASHBOARD_SUPERSET_EVENT_LOG", "stdout").strip().lower() != "stdout":
        pytest.skip("ANIME_DASHBOARD_SUPERSET_EVENT_LOG is overridden in this environment")
    client = superset.client
    chart = sorted(client.list_all("chart", ["id"]), key=lambda c: c["id"])[0]
    client.chart_data(chart["id"])
    path = f"/api/v1/chart/{chart['id']}/data/"
    deadline = time.monotonic() + 10
    while not any(e["action"] == "ChartDataRestApi.data" and e.get("path") == path for e in _events(superset.log_path)):
        assert time.monotonic() < deadline, f"no event line for {path} on Superset's stdout"
        time.sleep(0.2)
    event = next(e for e in _events(superset.log_path)
                 if e["action"] == "ChartDataRestApi.data" and e.get("path") == path)
    assert isinstance(event["user_id"], int) and isinstance(event["duration_ms"], int)
    assert set(event) <= {"action", "user_id", "dashboard_id", "slice_id", "duration_ms", "path", "database_id",
                          "payload", "form_data"}  # curated fields only, never the request body
    # ... and no row in the metadata DB's action log for API calls
    q = "(filters:!((col:action,opr:eq,value:ChartDataRestApi.data)))"
    assert client.request("GET", "/api/v1/log/", params={"q": q}).json()["count"] == 0

    # The browser's own events (action `log`) still land in the `logs` table: Home > Recents keeps working.
    dashboard = next(d for d in client.list_all("dashboard", ["id", "slug"]) if d["slug"] == "anime-market")
    events = [{"event_name": "mount_dashboard", "source": "dashboard", "source_id": dashboard["id"],
               "dashboard_id": dashboard["id"], "event_type": "user", "ts": int(time.time() * 1000)}]
    browser = _browser_session(superset)  # /superset/log/ is a page view: session login, not JWT
    resp = browser.post(f"{superset.url}/superset/log/?explode=events&dashboard_id={dashboard['id']}",
                        data={"events": json.dumps(events)}, allow_redirects=False, timeout=60)
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    q = "(filters:!((col:action,opr:eq,value:log)))"
    assert client.request("GET", "/api/v1/log/", params={"q": q}).json()["count"] >= 1
    recent = client.request("GET", "/api/v1/log/recent_activity/", params={"q": "(page_size:20)"}).json()["result"]
    assert any(r["item_type"] == "dashboard" and "anime-market" in r["item_url"] for r in recent), recent

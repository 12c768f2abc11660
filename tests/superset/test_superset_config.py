"""superset/superset_config.py, loaded by Superset's own interpreter (.venv-superset)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

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

"""Superset configuration for AnimeDashboard (loaded through SUPERSET_CONFIG_PATH).

Everything secret or deployment-specific comes from the environment:

- ``SUPERSET_SECRET_KEY`` (required): signs sessions and encrypts the stored database password.
  Superset refuses to start without one, with a published default key or with one shorter than 32
  characters; ``make run`` generates one into the git-ignored ``.env``.
- ``ANIME_DASHBOARD_SUPERSET_DATABASE_URI``: Superset's own metadata database (a SQLite file under
  ``ANIME_DASHBOARD_SUPERSET_HOME`` by default locally, Postgres in docker-compose).
- ``ANIME_DASHBOARD_SUPERSET_REDIS_URL``: the Redis holding every Superset cache and SQL Lab results
  (default: ``ANIME_DASHBOARD_REDIS_URL``), each cache under its own key prefix built from
  ``ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX`` (default ``superset``).

The warehouse connection itself is not configured here: it is an asset (``superset/assets/databases``)
imported with the read-only analyst role's password by ``anime-dashboard superset-import``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cachelib.redis import RedisCache


def _required(name: str, hint: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise RuntimeError(f"{name} is not set: {hint}")
    return value


_SECRET_KEY_HINT = ("Generate one (python -c 'import secrets; print(secrets.token_urlsafe(42))') and put it in .env; "
                    "`make run` (or `make compose-env`) does this for you.")
# Published keys: Superset's own default (superset.constants.CHANGE_ME_SECRET_KEY), the one in Superset's
# docker/.env, the example in its docs, and the pre-2.1 / Flask-AppBuilder default (as Python reads it and as
# its source text would be pasted into .env). Superset itself only refuses the first, and only in some modes.
_PUBLISHED_SECRET_KEYS = frozenset({
    "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET",
    "TEST_NON_DEV_SECRET",
    "YOUR_OWN_RANDOM_GENERATED_SECRET_KEY",
    "\2\1thisismyscretkey\1\2\\e\\y\\y\\h",
    r"\2\1thisismyscretkey\1\2\e\y\y\h",
    "thisISaSECRET_1234",
})
MIN_SECRET_KEY_LENGTH = 32  # make run: token_urlsafe(42) = 56 characters; make compose-env: token_hex(24) = 48


def _secret_key() -> str:
    key = _required("SUPERSET_SECRET_KEY", "Superset will not start with a default secret key. " + _SECRET_KEY_HINT)
    if key in _PUBLISHED_SECRET_KEYS or any(m in key.lower().replace("-", "_") for m in ("change_me", "changeme")):
        raise RuntimeError("SUPERSET_SECRET_KEY is a published default key: anyone could forge sessions and read "
                           "the stored database password. " + _SECRET_KEY_HINT)
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise RuntimeError(f"SUPERSET_SECRET_KEY is too short ({len(key)} characters; at least "
                           f"{MIN_SECRET_KEY_LENGTH}). " + _SECRET_KEY_HINT)
    return key


SECRET_KEY = _secret_key()
# Superset also ships published JWT secrets (in its config.py) for two features that stay off here:
# GLOBAL_ASYNC_QUERIES and EMBEDDED_SUPERSET. A SUPERSET_FEATURE_* environment variable can turn a feature on
# without this file, so neither secret is left at its default: both are derived from the secret key.
GLOBAL_ASYNC_QUERIES_JWT_SECRET = hmac.new(SECRET_KEY.encode(), b"global-async-queries-jwt", hashlib.sha256).hexdigest()
GUEST_TOKEN_JWT_SECRET = hmac.new(SECRET_KEY.encode(), b"guest-token-jwt", hashlib.sha256).hexdigest()

_HOME = Path(os.environ.get("ANIME_DASHBOARD_SUPERSET_HOME", Path(__file__).resolve().parents[1] / ".superset"))
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "ANIME_DASHBOARD_SUPERSET_DATABASE_URI", f"sqlite:///{_HOME / 'superset.db'}?check_same_thread=false"
)

REDIS_URL = os.environ.get(
    "ANIME_DASHBOARD_SUPERSET_REDIS_URL", os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")
)
CACHE_PREFIX = os.environ.get("ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX", "superset")
# Dataset cache timeouts (assets) are what normally applies; this is the fallback for anything else.
_DEFAULT_TIMEOUT = int(os.environ.get("ANIME_DASHBOARD_SUPERSET_CACHE_TIMEOUT", str(24 * 3600)))


def _redis_cache(kind: str, timeout: int = _DEFAULT_TIMEOUT) -> dict:
    return {
        "CACHE_TYPE": "RedisCache",
        "CACHE_DEFAULT_TIMEOUT": timeout,
        "CACHE_KEY_PREFIX": f"{CACHE_PREFIX}_{kind}_",
        "CACHE_REDIS_URL": REDIS_URL,
    }


CACHE_CONFIG = _redis_cache("cache")  # metadata: dashboards, charts, explore permalinks
DATA_CACHE_CONFIG = _redis_cache("data")  # chart data (query results)
FILTER_STATE_CACHE_CONFIG = _redis_cache("filter", timeout=7 * 24 * 3600)  # native filter state
EXPLORE_FORM_DATA_CACHE_CONFIG = _redis_cache("explore", timeout=7 * 24 * 3600)

_redis = urlsplit(REDIS_URL)
RESULTS_BACKEND = RedisCache(  # SQL Lab results (async queries, large result sets)
    host=_redis.hostname or "127.0.0.1",
    port=_redis.port or 6379,
    password=unquote(_redis.password) if _redis.password else None,
    db=int((_redis.path or "/0").lstrip("/") or 0),
    key_prefix=f"{CACHE_PREFIX}_results_",
)

# Every chart-data cache key is recorded in the metadata DB, so the analytics refresh can invalidate
# exactly the keys of the datasets it changed (POST /api/v1/cachekey/invalidate).
STORE_CACHE_KEYS_IN_METADATA_DB = True

FEATURE_FLAGS = {
    "DASHBOARD_NATIVE_FILTERS": True,
    "ALERT_REPORTS": False,
    "THUMBNAILS": False,
    "ENABLE_TEMPLATE_PROCESSING": False,
}

# SQL Lab: the warehouse asset sets allow_dml/allow_ctas/allow_cvas/allow_file_upload off; no database
# may be added with uploads either.
ALLOWED_USER_CSV_SCHEMA_FUNC = lambda database, user: []  # noqa: E731
SQLLAB_TIMEOUT = 60
SUPERSET_WEBSERVER_TIMEOUT = 120

# Async SQL Lab (docker-compose's superset-worker): a Celery broker on Redis, set by
# ANIME_DASHBOARD_SUPERSET_CELERY_BROKER_URL (a Redis database apart from Airflow's broker and from the caches).
# Unset (locally), no worker runs: the warehouse asset keeps allow_run_async off and queries run in the web
# process; superset-import turns allow_run_async on when ANIME_DASHBOARD_SUPERSET_ASYNC_QUERIES=true.
CELERY_BROKER_URL = os.environ.get("ANIME_DASHBOARD_SUPERSET_CELERY_BROKER_URL", "").strip() or None


class CeleryConfig:  # pylint: disable=too-few-public-methods
    broker_url = CELERY_BROKER_URL
    result_backend = CELERY_BROKER_URL
    imports = ("superset.sql_lab", "superset.tasks.cache")
    worker_prefetch_multiplier = 1
    task_acks_late = False
    task_annotations = {"sql_lab.get_sql_results": {"rate_limit": "100/s"}}
    beat_schedule: dict = {}  # no reports or thumbnails (ALERT_REPORTS and THUMBNAILS are off)


if CELERY_BROKER_URL:
    CELERY_CONFIG = CeleryConfig
SQLLAB_ASYNC_TIME_LIMIT_SEC = 600

# Behind a proxy in production (docker-compose); harmless locally.
ENABLE_PROXY_FIX = os.environ.get("ANIME_DASHBOARD_SUPERSET_PROXY_FIX", "false").lower() == "true"

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
# SQL Lab opens on the warehouse: SQLLAB_DEFAULT_DBID is its id, which exists only once superset-import has
# created the database, so each web process looks it up by name (superset/assets/databases) on its first
# requests until it exists. The schema follows by itself: the analyst sees only `analytics`.
SQLLAB_DEFAULT_DATABASE_NAME = "AnimeDashboard warehouse"


def _throttle_logins(app) -> None:
    """AUTH_RATE_LIMIT on whatever takes the login form's POST /login/, and on the REST login's failures (401).

    Superset 6.1 applies FAB's limit to its own /login/ page, which only answers GET, and registers FAB's form
    view (AuthDBView, which takes the POST) with the limit switched off; FAB never limits the REST login."""
    limiter = app.appbuilder.sm.limiter
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.rule == "/login/" and "POST" in (rule.methods or ()):
            app.view_functions[rule.endpoint] = limiter.limit(AUTH_RATE_LIMIT, methods=["POST"])(view)
        elif rule.endpoint == "SecurityApi.login":
            app.view_functions[rule.endpoint] = limiter.limit(
                AUTH_RATE_LIMIT, methods=["POST"], deduct_when=lambda response: response.status_code == 401)(view)


def _secure_cookies_over_https(app) -> None:
    """The session cookie is Secure on every response to a request that came over HTTPS (through the proxy:
    ProxyFix reads X-Forwarded-Proto), so browsers send it back only over TLS; the services inside the compose
    network, which call Superset over plain HTTP, keep theirs."""
    from flask import request
    from flask.sessions import SecureCookieSessionInterface

    class SessionInterface(SecureCookieSessionInterface):
        def get_cookie_secure(self, app) -> bool:
            return request.is_secure or super().get_cookie_secure(app)

    app.session_interface = SessionInterface()


def FLASK_APP_MUTATOR(app) -> None:  # noqa: N802 - Superset's name
    _throttle_logins(app)
    _secure_cookies_over_https(app)

    @app.before_request
    def _sqllab_default_database() -> None:
        if app.config.get("SQLLAB_DEFAULT_DBID") is None:
            from superset import db
            from superset.models.core import Database

            app.config["SQLLAB_DEFAULT_DBID"] = db.session.query(Database.id).filter_by(
                database_name=SQLLAB_DEFAULT_DATABASE_NAME).scalar()


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

# --- logins: throttled, and session cookies a browser keeps to this site ---
# FAB's login limiter on Redis (every gunicorn worker and container counts together): at most AUTH_RATE_LIMIT
# login POSTs for one user name from one address (behind the proxy, ProxyFix gives the client's address), then
# 429 until the window has passed; failed REST logins (/api/v1/security/login) count against the same limit
# (_throttle_logins). Only this limiter is on: no application-wide request limit.
RATELIMIT_ENABLED = True
RATELIMIT_APPLICATION = None
RATELIMIT_STORAGE_URI = os.environ.get(
    "ANIME_DASHBOARD_SUPERSET_REDIS_URL", os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")
)
RATELIMIT_KEY_PREFIX = os.environ.get("ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX", "superset") + "_login_limit"
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = os.environ.get("ANIME_DASHBOARD_LOGIN_RATE_LIMIT", "5 per 40 second")


def RATELIMIT_KEY_FUNC() -> str:  # noqa: N802 - FAB's name
    """The client's address and the user name it tries."""
    from flask import request

    body = request.get_json(silent=True) if request.is_json else None
    user = body.get("username") if isinstance(body, dict) else request.form.get("username")
    return f"{request.remote_addr}|{str(user or '').strip().lower()}"


SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- event logging ---
# Superset hands every API call to EVENT_LOGGER, several times per request (a chart-data request from the
# cache logs 3 events, a computed one 6). Its default, DBEventLogger, inserts and commits a row into the
# metadata DB's `logs` table for each, inside the request: measured (docs/benchmarks.md, superset-cache) it
# added ~14 ms to a ~27 ms cached chart request and ~37 ms to a computed one on SQLite (7 and 22-33 ms on
# Postgres), and doubled the time to load a dashboard's charts on SQLite, where the commits queue up.
# ANIME_DASHBOARD_SUPERSET_EVENT_LOG chooses:
#   stdout (default) - API-call events as one JSON line each on stdout (logger
#            `anime_dashboard.superset.events`: action, user, dashboard/chart ids, path, duration and
#            Superset's own curated fields; never the raw request payload, which holds whole query
#            contexts and SQL text). The browser's own events (action `log`: dashboard, chart and SQL Lab
#            views, sent in batches to /superset/log/) still go to the `logs` table, so Home > Recents
#            and the views in Settings > Action log keep working; the per-API-call rows are not there.
#   db     - Superset's DBEventLogger: every event a row in `logs`, one commit each.
# stdout is the default locally and in compose (Postgres metadata) alike: container logs collect the lines,
# and `logs` does not grow by 3-6 rows per chart request.
import json as _json  # noqa: E402
import logging as _logging  # noqa: E402
import sys as _sys  # noqa: E402

from superset.utils.log import AbstractEventLogger, DBEventLogger  # noqa: E402

EVENT_LOG = os.environ.get("ANIME_DASHBOARD_SUPERSET_EVENT_LOG", "stdout").strip().lower() or "stdout"


class StdoutEventLogger(AbstractEventLogger):
    """API-call events as JSON lines on stdout; the browser's `log` events to the metadata DB as usual.

    Not superset.utils.log.StdOutEventLogger, which prints every record with its whole request payload."""

    logger = _logging.getLogger("anime_dashboard.superset.events")
    DB_ACTIONS = frozenset({"log"})  # what LogDAO.get_recent_activity (Home > Recents) reads

    def __init__(self) -> None:
        self._db = DBEventLogger()
        if not self.logger.handlers:
            handler = _logging.StreamHandler(_sys.stdout)
            handler.setFormatter(_logging.Formatter("%(asctime)s:%(name)s:%(message)s"))
            self.logger.addHandler(handler)
            self.logger.setLevel(_logging.INFO)
            self.logger.propagate = False

    def log(self, user_id, action, dashboard_id, duration_ms, slice_id, referrer,  # noqa: PLR0913
            curated_payload=None, curated_form_data=None, *args, **kwargs) -> None:
        if action in self.DB_ACTIONS:
            self._db.log(user_id, action, dashboard_id, duration_ms, slice_id, referrer,
                         curated_payload=curated_payload, curated_form_data=curated_form_data, **kwargs)
            return
        if not self.logger.isEnabledFor(_logging.INFO):
            return
        first = (kwargs.get("records") or [{}])[0]
        event = {"action": action, "user_id": user_id, "dashboard_id": dashboard_id or None,
                 "slice_id": slice_id or None, "duration_ms": duration_ms,
                 "path": first.get("path") if isinstance(first, dict) else None,
                 "database_id": kwargs.get("database_id"), "payload": curated_payload or None,
                 "form_data": curated_form_data or None}
        self.logger.info(_json.dumps({k: v for k, v in event.items() if v is not None}, default=str))


_EVENT_LOGGERS = {"stdout": StdoutEventLogger, "db": DBEventLogger}
if EVENT_LOG not in _EVENT_LOGGERS:
    raise RuntimeError(f"ANIME_DASHBOARD_SUPERSET_EVENT_LOG={EVENT_LOG!r}: use one of {', '.join(_EVENT_LOGGERS)}")
EVENT_LOGGER = _EVENT_LOGGERS[EVENT_LOG]()

"""Flask settings of Airflow's FAB auth manager (its ``[fab] config_file``; scripts/env.sh and docker-compose.yaml
point ``AIRFLOW__FAB__CONFIG_FILE`` here). Loaded by path, not imported: plain settings only.

Logins are FAB users in Airflow's metadata database (``anime-dashboard airflow-users`` keeps them as the
environment says). The login form is throttled by FAB's limiter (``[fab] auth_rate_limited``, on by default;
``[fab] auth_rate_limit``, which scripts/env.sh and docker-compose.yaml set from ``ANIME_DASHBOARD_LOGIN_RATE_LIMIT``,
default 5 per 40 seconds) with its counters in Redis, so every api-server worker and container counts together:
one user name from one address gets 429 once the limit is spent, until the window has passed.
"""
import os

from flask_appbuilder.const import AUTH_DB

AUTH_TYPE = AUTH_DB
RATELIMIT_STORAGE_URI = os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")
RATELIMIT_KEY_PREFIX = "anime_dashboard:airflow_login"


def RATELIMIT_KEY_FUNC() -> str:  # noqa: N802 - FAB's name
    """The client's address and the user name it tries."""
    from flask import request

    return f"{request.remote_addr}|{request.form.get('username', '').strip().lower()}"

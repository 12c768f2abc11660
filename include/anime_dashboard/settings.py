"""Our own settings, read from the environment at call time (never at import).

Every variable carries the ``ANIME_DASHBOARD_`` prefix; README.md lists them all.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

PREFIX = "ANIME_DASHBOARD_"

JIKAN_CONN_ID = "jikan_default"
WAREHOUSE_CONN_ID = "warehouse"
SUPERSET_CONN_ID = "superset"  # http connection: host, port, login/password of a Superset admin
JIKAN_POOL = "jikan_api"


def _float(name: str, default: float) -> float:
    raw = os.environ.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name}={raw!r} is not a number") from exc


@dataclass(frozen=True)
class JikanSettings:
    min_interval: float  # seconds between two request starts from one client
    max_attempts: int  # per page, first try included
    backoff_base: float  # first back-off in seconds, doubled each retry (with jitter)
    backoff_max: float  # cap for one back-off (and for an honoured Retry-After)
    timeout: float  # connect/read timeout of one request


def jikan_settings() -> JikanSettings:
    return JikanSettings(
        min_interval=_float("JIKAN_MIN_INTERVAL", 1.0),
        max_attempts=int(_float("JIKAN_MAX_ATTEMPTS", 6)),
        backoff_base=_float("JIKAN_BACKOFF_BASE", 2.0),
        backoff_max=_float("JIKAN_BACKOFF_MAX", 60.0),
        timeout=_float("JIKAN_TIMEOUT", 30.0),
    )


def max_reject_share() -> float:
    """Share of received records that may be rejected before validate fails the run."""
    return _float("MAX_REJECT_SHARE", 0.05)

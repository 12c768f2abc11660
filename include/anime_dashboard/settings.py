"""Our own settings, read from the environment at call time (never at import).

Every variable carries the ``ANIME_DASHBOARD_`` prefix; docs/configuration.md lists them all.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

PREFIX = "ANIME_DASHBOARD_"

JIKAN_CONN_ID = "jikan_default"
WAREHOUSE_CONN_ID = "warehouse"
SUPERSET_CONN_ID = "superset"  # http connection: host, port, login/password of a Superset admin
JIKAN_POOL = "jikan_api"


# Login passwords the project sets from the environment (Airflow's and Superset's admins): never a default.
WEAK_PASSWORDS = frozenset({"admin", "airflow", "password", "superset", "changeme", "change_me", "secret"})
MIN_PASSWORD_LENGTH = 12


def is_weak_password(password: str) -> bool:
    return password.lower() in WEAK_PASSWORDS or len(password) < MIN_PASSWORD_LENGTH


class PasswordError(ValueError):
    """A login's password is unset or weak; the message names its variable and what to do."""


def login_password(name: str, where: str = "") -> str:
    """The password in ``ANIME_DASHBOARD_<name>``, refused when unset or weak (PasswordError)."""
    password = os.environ.get(PREFIX + name) or ""
    if not password:
        raise PasswordError(f"{PREFIX}{name} is not set: set it{where}, or let `make run` generate one into .env")
    if is_weak_password(password):
        raise PasswordError(f"{PREFIX}{name} is too weak: use {MIN_PASSWORD_LENGTH}+ characters, "
                            "not a default such as admin or airflow")
    return password

def _float(name: str, default: float) -> float:
    raw = os.environ.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name}={raw!r} is not a number") from exc


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_JIKAN_LIMITER_KEY = "anime_dashboard:jikan:starts"


def _int(name: str, default: int) -> int:
    """A whole number >= 0 (a count), from the environment."""
    raw = os.environ.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or value != int(value):
        raise ValueError(f"{PREFIX}{name}={raw!r} must be a whole number >= 0")
    return int(value)


@dataclass(frozen=True)
class JikanSettings:
    """How the Jikan client paces, retries and times out.

    The rate windows default to *off* here, so a ``JikanSettings(...)`` built by hand (tests, benchmarks)
    keeps the pacing it names; :func:`jikan_settings` (what the client uses by default) turns them on.
    """

    min_interval: float  # extra floor between two request starts of one client (0 = none; the windows pace)
    max_attempts: int  # per page, first try included
    backoff_base: float  # first back-off in seconds, doubled each retry (with jitter)
    backoff_max: float  # cap for one back-off (and for an honoured Retry-After)
    timeout: float  # connect/read timeout of one request
    per_second: int = 0  # most request starts in any `second_span` s, over all processes (0 = no window)
    per_minute: int = 0  # most request starts in any `minute_span` s, over all processes (0 = no window)
    second_span: float = 1.0  # the windows' lengths in seconds (the benchmark shortens them with its clock)
    minute_span: float = 60.0
    limiter_key: str = DEFAULT_JIKAN_LIMITER_KEY  # Redis sorted set holding the recent request starts
    redis_url: str = DEFAULT_REDIS_URL

    @property
    def windows(self) -> list[tuple[float, int]]:
        """The (span, limit) windows the limiter enforces; empty when both are off."""
        return [(span, limit) for span, limit in ((self.second_span, self.per_second),
                                                  (self.minute_span, self.per_minute)) if limit > 0]


def jikan_settings() -> JikanSettings:
    return JikanSettings(
        min_interval=_float("JIKAN_MIN_INTERVAL", 0.0),
        max_attempts=int(_float("JIKAN_MAX_ATTEMPTS", 6)),
        backoff_base=_float("JIKAN_BACKOFF_BASE", 2.0),
        backoff_max=_float("JIKAN_BACKOFF_MAX", 60.0),
        timeout=_float("JIKAN_TIMEOUT", 30.0),
        # Jikan allows 3/s and 60/min: one below each leaves room for arrival jitter at Jikan's end
        per_second=_int("JIKAN_PER_SECOND", 2),
        per_minute=_int("JIKAN_PER_MINUTE", 58),
        limiter_key=os.environ.get(PREFIX + "JIKAN_LIMITER_KEY") or DEFAULT_JIKAN_LIMITER_KEY,
        redis_url=os.environ.get(PREFIX + "REDIS_URL") or DEFAULT_REDIS_URL,
    )


def max_reject_share() -> float:
    """Share of received records that may be rejected before validate fails the run."""
    return _float("MAX_REJECT_SHARE", 0.05)


@dataclass(frozen=True)
class BackupSettings:
    """Where backups go and how many are kept (anime_dashboard.backups)."""

    url: str  # a folder, or any URL Airflow's ObjectStoragePath understands (s3://conn@bucket/prefix, ...)
    keep_daily: int = 7  # the newest backup of each of the last N days that have one
    keep_weekly: int = 4  # ... of each of the last N ISO weeks
    keep_monthly: int = 12  # ... of each of the last N months
    verify_every_days: int = 7  # a backup is restored and checked when the last check is older than this


def backup_settings() -> BackupSettings:
    from pathlib import Path

    return BackupSettings(
        url=os.environ.get(PREFIX + "BACKUP_URL") or str(Path(__file__).resolve().parents[2] / ".backups"),
        keep_daily=_int("BACKUP_KEEP_DAILY", 7),
        keep_weekly=_int("BACKUP_KEEP_WEEKLY", 4),
        keep_monthly=_int("BACKUP_KEEP_MONTHLY", 12),
        verify_every_days=_int("BACKUP_VERIFY_DAYS", 7),
    )
